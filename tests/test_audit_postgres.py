"""Issue 8 on real PostgreSQL: the service's role can only append; an entry altered by a
superuser is found by the verify command, which names the index."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from accord_audit.application import index_metadata
from accord_audit.canonical import canonical_json
from accord_audit.checkpoint import generate_signing_key
from accord_audit.log_store import AuditLogStore, grant_append_only

pytestmark = pytest.mark.integration


@pytest.fixture
def audit_db(infrastructure: Any) -> dict[str, str]:
    pg = infrastructure.postgres
    name = "audit_" + uuid.uuid4().hex[:8]
    role = "audit_writer_" + uuid.uuid4().hex[:6]
    pg.create_role(role, "writer-password")
    pg.create_database(name)
    admin = AuditLogStore.from_url(pg.url(name))
    admin.create_schema()
    index_metadata.create_all(admin.engine)
    grant_append_only(admin.engine, role)
    admin.engine.dispose()
    return {
        "admin": pg.url(name),
        "writer": pg.url(name, role),
        "admin_conninfo": pg.conninfo(name),
        "writer_conninfo": pg.conninfo(name, role),
    }


def _fill(url: str, n: int) -> tuple[AuditLogStore, str]:
    store = AuditLogStore.from_url(url)
    signer = generate_signing_key("accord.test/audit-log")
    for i in range(n):
        store.append(
            f"event-{i}",
            canonical_json(
                {"kind": "event", "event_id": f"event-{i}", "case_id": "case-1", "n": i}
            ),
        )
    store.publish_checkpoint("accord.test/audit-log", signer)
    return store, signer.verifier.vkey


def _verify(url: str, vkey: str, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "accord-audit-verify"
    return subprocess.run(
        [str(exe), "--db-url", url, "--public-key", vkey, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_writer_role_cannot_update_or_delete(audit_db: dict[str, str]) -> None:
    store, _ = _fill(audit_db["writer"], 5)
    assert store.size() == 5
    assert (
        store.append(
            "event-0",
            canonical_json({"kind": "event", "event_id": "event-0", "case_id": "case-1", "n": 0}),
        )
        == 0
    )
    assert store.size() == 5  # a duplicate delivery appends nothing
    with psycopg.connect(audit_db["writer_conninfo"]) as conn:
        for statement in (
            "UPDATE audit_entries SET body = body",
            "DELETE FROM audit_entries",
            "TRUNCATE audit_entries",
            "UPDATE audit_nodes SET hash = hash",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_verify_names_the_entry_a_superuser_altered(
    audit_db: dict[str, str], tmp_path: Path
) -> None:
    store, vkey = _fill(audit_db["writer"], 50)
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(store.latest_checkpoint() or "")
    clean = _verify(audit_db["admin"], vkey, "--checkpoint", str(saved))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    forged = canonical_json(
        {"kind": "event", "event_id": "event-41", "case_id": "case-1", "n": 4100}
    )
    with psycopg.connect(audit_db["admin_conninfo"]) as conn:
        conn.execute("UPDATE audit_entries SET body = %s WHERE idx = 41", (forged,))
    tampered = _verify(audit_db["admin"], vkey, "--checkpoint", str(saved))
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert "entry 41" in tampered.stdout + tampered.stderr


def test_the_log_survives_a_postgresql_restart(
    audit_db: dict[str, str], infrastructure: Any
) -> None:
    """Checked: pooled connections from before the restart are replaced, not used."""
    store, _ = _fill(audit_db["writer"], 3)
    assert store.size() == 3
    infrastructure.postgres.restart()
    assert store.size() == 3
    store.append(
        "event-after",
        canonical_json({"kind": "event", "event_id": "event-after", "case_id": "case-1", "n": 3}),
    )
    assert store.size() == 4
