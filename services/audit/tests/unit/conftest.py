from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from accord_audit.canonical import canonical_json
from accord_audit.checkpoint import NoteSigner, generate_signing_key
from accord_audit.log_store import AuditLogStore

ORIGIN = "audit.accord.example/log"


def _audit_body(number: int) -> bytes:
    """A realistic record: ids and field names only, never the values read."""
    return canonical_json(
        {
            "kind": "access",
            "event_id": f"evt-{number:05d}",
            "case_id": f"case-{number % 7}",
            "agency": "police",
            "role": "investigator",
            "action": "read",
            "fields_returned": ["case.core", "risk.assessment"],
            "fields_withheld": ["victim.location"],
            "purpose": "case_management",
            "break_glass": False,
            "at": f"2026-11-23T10:{number % 60:02d}:00Z",
        }
    )


@pytest.fixture(scope="session")
def audit_body() -> Callable[[int], bytes]:
    return _audit_body


@pytest.fixture(scope="session")
def signer() -> NoteSigner:
    return generate_signing_key(ORIGIN)


@pytest.fixture
def store(tmp_path: Path) -> AuditLogStore:
    created = AuditLogStore.from_url(f"sqlite:///{tmp_path / 'audit.db'}")
    created.create_schema()
    return created


@pytest.fixture
def fill() -> Callable[[AuditLogStore, int], None]:
    def append_entries(target: AuditLogStore, count: int) -> None:
        start = target.size()
        for number in range(start, start + count):
            target.append(
                f"evt-{number:05d}", _audit_body(number), datetime(2026, 11, 23, tzinfo=UTC)
            )

    return append_entries
