"""Session store: SQLite and PostgreSQL behave the same; tokens are encrypted at rest."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from accord_portal.sessions import (
    PostgresSessionStore,
    Session,
    SessionCipher,
    SessionStore,
    SQLiteSessionStore,
)
from cryptography.fernet import Fernet

IDLE = timedelta(minutes=15)
LIFETIME = timedelta(hours=10)


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def sqlite_store(tmp_path: Path, key: str) -> Iterator[SessionStore]:
    store = SQLiteSessionStore(tmp_path / "s.sqlite", SessionCipher(key), IDLE, LIFETIME)
    yield store
    store.close()


@pytest.fixture
def postgres_store(infrastructure: Any, key: str) -> Iterator[SessionStore]:
    database = "portal_" + uuid.uuid4().hex[:8]
    infrastructure.postgres.create_database(database)
    store = PostgresSessionStore(
        infrastructure.postgres.url(database), SessionCipher(key), IDLE, LIFETIME
    )
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest) -> SessionStore:
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


def test_round_trip_and_rotation(store: SessionStore) -> None:
    session = Session.fresh({"login": {"state": "s"}})
    store.save(session)
    loaded = store.get(session.id)
    assert loaded is not None and loaded.data == {"login": {"state": "s"}}
    assert loaded.csrf_token == session.csrf_token
    rotated = store.rotate(loaded, {"tokens": {"access_token": "secret-token"}})
    assert rotated.id != session.id and rotated.csrf_token != session.csrf_token
    assert store.get(session.id) is None
    assert store.get(rotated.id) is not None


def test_idle_timeout_and_absolute_lifetime_end_the_session(store: SessionStore) -> None:
    now = datetime.now(UTC)
    idle = Session.fresh({}, now=now - IDLE - timedelta(seconds=1))
    store.save(idle)
    assert store.get(idle.id) is None
    old = Session.fresh({}, now=now - LIFETIME - timedelta(minutes=1))
    store.touch(old, now=now)  # seen just now, but too old
    assert store.get(old.id) is None
    live = Session.fresh({}, now=now - timedelta(minutes=14))
    store.save(live)
    assert store.get(live.id) is not None
    assert store.get("") is None and store.get("x" * 500) is None


def test_tokens_are_encrypted_and_another_key_reads_nothing(
    store: SessionStore, tmp_path: Path
) -> None:
    session = Session.fresh({"tokens": {"access_token": "secret-token-marker"}})
    store.save(session)
    row = store._select(session.id)
    assert row is not None and "secret-token-marker" not in row[1]
    store.cipher = SessionCipher(Fernet.generate_key())
    assert store.get(session.id) is None


def test_purge_removes_expired_rows(store: SessionStore) -> None:
    now = datetime.now(UTC)
    store.save(Session.fresh({}, now=now - timedelta(hours=1)))
    fresh = Session.fresh({})
    store.save(fresh)
    assert store.purge() >= 1
    assert store.get(fresh.id) is not None
