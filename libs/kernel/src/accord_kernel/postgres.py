"""eventsourcing's PostgreSQL persistence, tuned for the services.

Pooled connections are not pinged before each use (that was one extra round trip per
checkout, about half of a referral's statements). A connection that died with the server
is found out by the statement that uses it instead: the failed statement makes the pool
check all its idle connections at once (after a restart they are all dead), and
eventsourcing's recorder methods retry the statement on a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg import Connection
from psycopg.rows import DictRow

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


class AccordPostgresFactory(PostgresFactory):
    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # Same settings, same pool; only the connection hand-out differs (see above).
        self.datastore.__class__ = RecoveringDatastore


def is_postgres(env: dict[str, Any]) -> bool:
    return env.get("PERSISTENCE_MODULE") in (FACTORY_TOPIC, "eventsourcing.postgres")
