"""eventsourcing's PostgreSQL persistence, tuned for the services.

Pooled connections are not pinged before each use (that was one extra round trip per
checkout, about half of a referral's statements). A connection that died with the server
is found out by the statement that uses it instead: the failed statement makes the pool
check all its idle connections at once (after a restart they are all dead), and
eventsourcing's recorder methods retry the statement on a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresDatastore, PostgresFactory, PostgresProcessRecorder
from eventsourcing.utils import Environment, EnvType
from psycopg import Connection, sql
from psycopg.rows import DictRow

log = logging.getLogger("accord.postgres")

# The topic for eventsourcing's PERSISTENCE_MODULE.
FACTORY_TOPIC = "accord_kernel.postgres:AccordPostgresFactory"


class RecoveringDatastore(PostgresDatastore):
    """A datastore that drops every broken pooled connection as soon as one statement finds
    its connection broken, so the recorder's retry meets a working connection."""

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        try:
            with super().get_connection() as connection:
                yield connection
        except (OperationalError, InterfaceError):
            # The failed connection itself is already discarded by the pool (its status is
            # unknown); the idle ones are checked now rather than one failure at a time.
            self.pool.check()
            raise


class AccordProcessRecorder(PostgresProcessRecorder):
    """eventsourcing's process recorder, notifying a channel of its own service.

    Every insert of events already issues NOTIFY in its transaction, on a channel named after
    the events table, which is the same table name in every service's schema: channels are
    database-wide, so each service's relay would be woken by every other service's writes."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.channel_name = f"accord_{datastore.schema}_{self.events_table_name}"[:63]


class AccordPostgresFactory(PostgresFactory):
    process_recorder_class = AccordProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # Same settings, same pool; only the connection hand-out differs (see above).
        self.datastore.__class__ = RecoveringDatastore


# While the listening connection is away (a database restart), wait at most this long before
# reconnecting; the relay polls at its short interval meanwhile.
LISTEN_RETRY_SECONDS = 1.0


class NotificationListener:
    """Sets `committed` whenever the service commits new events (PostgreSQL LISTEN on the
    recorder's channel), so the outbox relay waits for work instead of polling for it.

    One connection of its own, outside the pool, that does nothing but listen: notifications
    that arrive while nobody is waiting stay in its buffer and are seen on the next wait."""

    def __init__(self, recorder: PostgresProcessRecorder) -> None:
        self.channel = recorder.channel_name
        kwargs = recorder.datastore.pool.kwargs
        # eventsourcing gives its pool a dict (a callable would be for rotating secrets).
        self.connect_kwargs: dict[str, Any] = dict(kwargs() if callable(kwargs) else kwargs or {})
        self.connect_kwargs.pop("row_factory", None)
        self.committed = asyncio.Event()
        self.listening = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                connection = await psycopg.AsyncConnection.connect(
                    autocommit=True, **self.connect_kwargs
                )
                async with connection:
                    await connection.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
                    )
                    self.listening = True
                    # Whatever was committed while nobody listened is looked for once.
                    self.committed.set()
                    while not stop.is_set():
                        # The timeout only lets `stop` be seen; waiting costs the server nothing.
                        async for _ in connection.notifies(timeout=1.0):
                            self.committed.set()
            except psycopg.Error as exc:
                if self.listening:
                    log.warning("listening for %s lost (%s)", self.channel, type(exc).__name__)
                self.listening = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), LISTEN_RETRY_SECONDS)
            finally:
                self.listening = False


def is_postgres(env: dict[str, Any]) -> bool:
    return env.get("PERSISTENCE_MODULE") in (FACTORY_TOPIC, "eventsourcing.postgres")
