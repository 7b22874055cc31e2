"""How the services reach PostgreSQL: the compiled driver, and the connection settings."""

from __future__ import annotations

import psycopg


def test_psycopg_uses_its_compiled_libpq_binding() -> None:
    # The pure-Python binding spent over half of a referral's CPU (issue 18): a lock file
    # that loses psycopg[binary] would silently bring that back.
    assert psycopg.pq.__impl__ in {"binary", "c"}


def test_postgres_connections_are_not_pinged_before_each_use() -> None:
    # A ping per checkout was half of a referral's transactions; broken connections are
    # detected by the failing statement instead (accord_kernel.postgres), and the restart
    # fault test (tests/test_faults.py) checks that the services recover.
    from accord_kernel.postgres import FACTORY_TOPIC
    from accord_kernel.settings import ServiceSettings

    env = ServiceSettings(
        service="victim-support", database_url="postgresql://u:p@127.0.0.1:5432/accord"
    ).eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == FACTORY_TOPIC
    assert env["POSTGRES_PRE_PING"] == "n"
    assert env["POSTGRES_SCHEMA"] == "victim_support"
