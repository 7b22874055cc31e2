"""`accord backup` and `accord restore` on the local run's SQLite stores: every store and the
audit log copied (sqlite3's online backup API) with a manifest; a restore refuses a damaged
archive and an occupied directory, and gives back the same events and the same log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from accord_audit.canonical import canonical_json
from accord_audit.checkpoint import generate_signing_key
from accord_audit.log_store import AuditLogStore
from accord_kernel.application import AccordApplication
from accord_kernel.settings import ServiceSettings

ACCORD = Path(sys.executable).parent / "accord"


def _accord(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ACCORD_DATABASE_URL"}
    return subprocess.run(
        [str(ACCORD), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def _store(data: Path, service: str) -> AccordApplication:
    return AccordApplication(ServiceSettings(service=service, persistence="sqlite", data_dir=data))


def _events(data: Path, service: str) -> list[tuple[str, int]]:
    app = _store(data, service)
    try:
        notes = app.process_recorder.select_notifications(start=1, limit=1000)
        return [(str(n.originator_id), n.originator_version) for n in notes]
    finally:
        app.close()


def test_backup_and_restore_of_the_sqlite_stores(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for service in ("referral", "court"):
        app = _store(data, service)
        app.record_access(
            {
                "case_id": f"case-{i}",
                "subject": {"user": "u", "agency": "police", "role": "officer", "org": "o"},
                "action": "read",
                "resource_type": "referral",
                "purpose": "case_management",
                "fields_returned": [],
                "fields_withheld": {},
                "lawful_basis": {},
                "decision": "allow",
                "decision_id": uuid.uuid4().hex,
                "break_glass": False,
                "justification_ref": None,
            }
            for i in range(3)
        )
        app.close()
    log = AuditLogStore.from_url(f"sqlite:///{data / 'audit-log.sqlite'}")
    log.create_schema()
    for i in range(5):
        log.append(f"event-{i}", canonical_json({"kind": "event", "event_id": f"event-{i}"}))
    note = log.publish_checkpoint("accord.test/audit-log", generate_signing_key("accord.test/a"))
    log.engine.dispose()

    archive = tmp_path / "archive"
    done = _accord("backup", str(archive), "--data-dir", str(data))
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((archive / "manifest.json").read_text())
    assert manifest["store"] == "sqlite"
    assert {i["service"] for i in manifest["items"]} == {"referral", "court", "audit-log"}
    assert manifest["audit_checkpoint"] == note
    assert manifest["audit_tree_size"] == 5
    assert (archive / "audit-checkpoint.txt").read_text() == note

    restored = tmp_path / "restored"
    done = _accord("restore", str(archive), "--data-dir", str(restored))
    assert done.returncode == 0, done.stdout + done.stderr
    for service in ("referral", "court"):
        assert _events(restored, service) == _events(data, service)
        assert len(_events(restored, service)) == 3
    copy = AuditLogStore.from_url(f"sqlite:///{restored / 'audit-log.sqlite'}")
    assert copy.size() == 5
    assert copy.latest_checkpoint() == note
    copy.engine.dispose()

    # Into an occupied directory: refused, nothing overwritten.
    again = _accord("restore", str(archive), "--data-dir", str(restored))
    assert again.returncode == 1
    assert "exists" in again.stdout + again.stderr

    # A damaged archive: refused before anything is written.
    damaged = archive / "court.sqlite"
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    refused = _accord("restore", str(archive), "--data-dir", str(tmp_path / "elsewhere"))
    assert refused.returncode == 1
    assert "checksum" in refused.stdout + refused.stderr
    assert not (tmp_path / "elsewhere" / "referral.sqlite").exists()
