"""Which replica's outbox relay publishes: exactly one of a service's replicas at a time.

Two relays of one service would both read the same outbox and publish it twice, and race
each other's position. Each relay therefore holds a lock before it publishes, and gives
up publishing the moment it is no longer sure to hold it:

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a key derived from
  the service's schema, held by a connection of its own. The server releases it when that
  session ends (the process died, the connection was cut, `pg_terminate_backend`), and
  another replica's next attempt (every `POLL_SECONDS`) takes it over.
- SQLite (one machine, the local run): an exclusive `flock` on a file beside the store,
  which the kernel releases when the process holding it dies.
- In memory (unit tests): one process, one relay, always leading.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import uuid
from pathlib import Path
from typing import IO, Any, Protocol

import psycopg

log = logging.getLogger("accord.leadership")

# How often a follower tries to take the lock, and a leader checks it still holds it.
POLL_SECONDS = 1.0
# A leader's check of its lock connection that takes longer than this counts as lost.
CHECK_TIMEOUT_SECONDS = 5.0


def replica_id() -> str:
    """This relay's id in the logs: host, process and a random suffix (two relays can share
    a process in tests)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def lock_key(service: str) -> int:
    """A signed 64-bit advisory-lock key of the service's own (advisory locks are per
    database, shared by every service in it, so the name goes into the key)."""
    digest = hashlib.sha256(f"accord.outbox-relay:{service}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Leadership(Protocol):
    """`acquire` tries once to become the publishing relay; `held` tells a leader whether it
    still is; `release` gives it up."""

    async def acquire(self) -> bool: ...

    async def held(self) -> bool: ...

    async def release(self) -> None: ...


class AlwaysLeader:
    """For stores that only one process can use (memory)."""

    async def acquire(self) -> bool:
        return True

    async def held(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class AdvisoryLock:
    """The PostgreSQL session advisory lock, on a dedicated autocommit connection."""

    def __init__(self, key: int, connect_kwargs: dict[str, Any]) -> None:
        self.key = key
        self.connect_kwargs = connect_kwargs
        self.connection: psycopg.AsyncConnection[Any] | None = None
        self.backend_pid: int | None = None

    async def acquire(self) -> bool:
        # Every call on the lock's session is bounded: a session cut at the server, or a
        # database that stopped answering, must cost the relay one poll, never its life.
        try:
            if self.connection is None or self.connection.closed:
                self.connection = await asyncio.wait_for(
                    psycopg.AsyncConnection.connect(autocommit=True, **self.connect_kwargs),
                    CHECK_TIMEOUT_SECONDS,
                )
            row = await asyncio.wait_for(self._try_lock(self.connection), CHECK_TIMEOUT_SECONDS)
        except (psycopg.Error, OSError, TimeoutError):
            await self._drop()
            return False
        if row is None or not row[0]:
            return False
        self.backend_pid = int(row[1])
        return True

    async def held(self) -> bool:
        """The lock is the session's: as long as the session answers, it is still ours."""
        if self.connection is None or self.connection.closed:
            return False
        try:
            await asyncio.wait_for(self.connection.execute("SELECT 1"), CHECK_TIMEOUT_SECONDS)
        except (psycopg.Error, TimeoutError):
            await self._drop()
            return False
        return True

    async def _try_lock(self, connection: psycopg.AsyncConnection[Any]) -> Any:
        cursor = await connection.execute(
            "SELECT pg_try_advisory_lock(%s), pg_backend_pid()", (self.key,)
        )
        return await cursor.fetchone()

    async def release(self) -> None:
        if self.connection is not None and not self.connection.closed:
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                await asyncio.wait_for(
                    self.connection.execute("SELECT pg_advisory_unlock(%s)", (self.key,)),
                    CHECK_TIMEOUT_SECONDS,
                )
        await self._drop()

    async def _drop(self) -> None:
        # Closing the session is what releases the lock if it was still held.
        connection, self.connection, self.backend_pid = self.connection, None, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                await asyncio.wait_for(connection.close(), CHECK_TIMEOUT_SECONDS)


class FileLock:
    """An exclusive `flock` on a file: conflicts between processes and between two opens in
    one process; released by the kernel when the holder dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[bytes] | None = None

    async def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.file = handle
        return True

    async def held(self) -> bool:
        return self.file is not None and not self.file.closed

    async def release(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
            self.file.close()
        self.file = None


def leadership_for(app: Any) -> Leadership:
    """The lock that fits the application's store (see the module's description)."""
    from eventsourcing.sqlite import SQLiteProcessRecorder

    from accord_kernel.postgres import AccordProcessRecorder

    recorder = app.recorder
    if isinstance(recorder, AccordProcessRecorder):
        kwargs = recorder.datastore.pool.kwargs
        connect_kwargs: dict[str, Any] = dict(kwargs() if callable(kwargs) else kwargs or {})
        connect_kwargs.pop("row_factory", None)
        # Shown in pg_stat_activity: which session holds which service's relay lock.
        connect_kwargs["application_name"] = f"accord-relay:{app.service_name}"[:63]
        return AdvisoryLock(lock_key(recorder.datastore.schema or app.service_name), connect_kwargs)
    if isinstance(recorder, SQLiteProcessRecorder):
        database = Path(app.settings.eventsourcing_env()["SQLITE_DBNAME"])
        return FileLock(database.with_name(database.name + ".relay-lock"))
    return AlwaysLeader()
