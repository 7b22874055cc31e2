"""The portal's only store: sessions. Never case data.

A session row holds its id (256 random bits, the cookie's value), the CSRF token, the created and
last-seen times, and one Fernet-encrypted payload with what sign-in needs: the pending login's
state, nonce and PKCE verifier, then the tokens and the user's name and claims. The tokens are
encrypted so a copy of the database (a backup, a support dump) is no bearer credential.

Two implementations of one interface: SQLite for the local run (a file in the data dir) and
PostgreSQL for production (ACCORD_PORTAL_SESSION_DATABASE_URL). Idle and absolute timeouts are
checked on every read, so an expired session is gone the moment it is next used; `purge` only
tidies rows nobody came back for.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


def new_id() -> str:
    return secrets.token_urlsafe(32)  # 32 bytes = 256 bits


@dataclass
class Session:
    id: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fresh(cls, data: dict[str, Any] | None = None, now: datetime | None = None) -> Session:
        now = now or datetime.now(UTC)
        return cls(new_id(), secrets.token_urlsafe(32), now, now, dict(data or {}))

    @property
    def signed_in(self) -> bool:
        return "tokens" in self.data


class SessionCipher:
    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any] | None:
        try:
            value = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            # Another key (rotated) or a damaged row: the session is simply not there.
            return None
        return value if isinstance(value, dict) else None


def load_or_create_key(data_dir: Path) -> str:
    path = data_dir / "portal-session.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    path.touch(mode=0o600)
    path.write_text(key)
    return key


class SessionStore(ABC):
    def __init__(
        self, cipher: SessionCipher, idle_timeout: timedelta, absolute_lifetime: timedelta
    ) -> None:
        self.cipher = cipher
        self.idle_timeout = idle_timeout
        self.absolute_lifetime = absolute_lifetime

    # Row access, per database.
    @abstractmethod
    def _select(self, session_id: str) -> tuple[str, str, datetime, datetime] | None: ...

    @abstractmethod
    def _upsert(self, session: Session, sealed: str) -> None: ...

    @abstractmethod
    def _delete(self, session_id: str) -> None: ...

    @abstractmethod
    def _delete_seen_before(self, idle_cutoff: datetime, created_cutoff: datetime) -> int: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    # The interface.
    def get(self, session_id: str, now: datetime | None = None) -> Session | None:
        """The live session, or None (unknown, expired by idle time or lifetime, unreadable)."""
        if not session_id or len(session_id) > 64:
            return None
        now = now or datetime.now(UTC)
        row = self._select(session_id)
        if row is None:
            return None
        csrf, sealed, created, seen = row
        if now - seen > self.idle_timeout or now - created > self.absolute_lifetime:
            self._delete(session_id)
            return None
        data = self.cipher.open(sealed)
        if data is None:
            self._delete(session_id)
            return None
        return Session(session_id, csrf, created, seen, data)

    def save(self, session: Session) -> None:
        self._upsert(session, self.cipher.seal(session.data))

    def touch(self, session: Session, now: datetime | None = None) -> None:
        session.last_seen_at = now or datetime.now(UTC)
        self.save(session)

    def delete(self, session_id: str) -> None:
        self._delete(session_id)

    def rotate(self, old: Session, data: dict[str, Any]) -> Session:
        """A new id and CSRF token for a new privilege level (sign-in): a session id planted
        or seen before sign-in is worth nothing after it."""
        self._delete(old.id)
        session = Session.fresh(data)
        self.save(session)
        return session

    def purge(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        return self._delete_seen_before(now - self.idle_timeout, now - self.absolute_lifetime)


def _utc(value: datetime | str) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class SQLiteSessionStore(SessionStore):
    def __init__(
        self,
        path: Path,
        cipher: SessionCipher,
        idle_timeout: timedelta,
        absolute_lifetime: timedelta,
    ) -> None:
        super().__init__(cipher, idle_timeout, absolute_lifetime)
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: requests are short and the local run is one user
        # or a few; sqlite3 objects must not be shared between threads without it.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS portal_sessions (id TEXT PRIMARY KEY, csrf TEXT NOT NULL,"
            " payload TEXT NOT NULL, created_at TEXT NOT NULL, last_seen_at TEXT NOT NULL)"
        )

    def _select(self, session_id: str) -> tuple[str, str, datetime, datetime] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT csrf, payload, created_at, last_seen_at FROM portal_sessions WHERE id = ?",
                (session_id,),
            ).fetchone()
        if row is None:
            return None
        return row[0], row[1], _utc(row[2]), _utc(row[3])

    def _upsert(self, session: Session, sealed: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO portal_sessions (id, csrf, payload, created_at, last_seen_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET csrf = excluded.csrf,"
                " payload = excluded.payload, last_seen_at = excluded.last_seen_at",
                (
                    session.id,
                    session.csrf_token,
                    sealed,
                    session.created_at.isoformat(),
                    session.last_seen_at.isoformat(),
                ),
            )

    def _delete(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM portal_sessions WHERE id = ?", (session_id,))

    def _delete_seen_before(self, idle_cutoff: datetime, created_cutoff: datetime) -> int:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM portal_sessions WHERE last_seen_at < ? OR created_at < ?",
                (idle_cutoff.isoformat(), created_cutoff.isoformat()),
            )
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresSessionStore(SessionStore):
    def __init__(
        self,
        url: str,
        cipher: SessionCipher,
        idle_timeout: timedelta,
        absolute_lifetime: timedelta,
    ) -> None:
        import psycopg

        super().__init__(cipher, idle_timeout, absolute_lifetime)
        # SQLAlchemy-style URLs (postgresql+psycopg://) are what the services are given.
        self._url = re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)
        self._lock = threading.Lock()
        self._conn = psycopg.connect(self._url, autocommit=True)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS portal_sessions (id TEXT PRIMARY KEY, csrf TEXT NOT NULL,"
            " payload TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL,"
            " last_seen_at TIMESTAMPTZ NOT NULL)"
        )

    def _execute(self, sql: str, params: tuple[Any, ...]) -> Any:
        import psycopg

        with self._lock:
            try:
                return self._conn.execute(sql, params)
            except psycopg.OperationalError:
                # The server restarted under us: one reconnect, then let the error through.
                self._conn = psycopg.connect(self._url, autocommit=True)
                return self._conn.execute(sql, params)

    def _select(self, session_id: str) -> tuple[str, str, datetime, datetime] | None:
        row = self._execute(
            "SELECT csrf, payload, created_at, last_seen_at FROM portal_sessions WHERE id = %s",
            (session_id,),
        ).fetchone()
        if row is None:
            return None
        return row[0], row[1], _utc(row[2]), _utc(row[3])

    def _upsert(self, session: Session, sealed: str) -> None:
        self._execute(
            "INSERT INTO portal_sessions (id, csrf, payload, created_at, last_seen_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET csrf = excluded.csrf,"
            " payload = excluded.payload, last_seen_at = excluded.last_seen_at",
            (session.id, session.csrf_token, sealed, session.created_at, session.last_seen_at),
        )

    def _delete(self, session_id: str) -> None:
        self._execute("DELETE FROM portal_sessions WHERE id = %s", (session_id,))

    def _delete_seen_before(self, idle_cutoff: datetime, created_cutoff: datetime) -> int:
        cursor = self._execute(
            "DELETE FROM portal_sessions WHERE last_seen_at < %s OR created_at < %s",
            (idle_cutoff, created_cutoff),
        )
        return int(cursor.rowcount)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def make_store(
    database_url: str | None,
    data_dir: Path,
    key: str | None,
    idle_timeout_minutes: int,
    absolute_lifetime_hours: int,
) -> SessionStore:
    cipher = SessionCipher(key or load_or_create_key(data_dir))
    idle = timedelta(minutes=idle_timeout_minutes)
    lifetime = timedelta(hours=absolute_lifetime_hours)
    if database_url:
        return PostgresSessionStore(database_url, cipher, idle, lifetime)
    return SQLiteSessionStore(data_dir / "portal-sessions.sqlite", cipher, idle, lifetime)
