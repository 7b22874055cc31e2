"""How the services reach PostgreSQL: the compiled driver, and the connection settings."""

from __future__ import annotations

import threading
from pathlib import Path

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


def test_processes_of_one_service_starting_together_on_a_fresh_store_all_start(
    tmp_path: Path,
) -> None:
    # make run's restarts and a replica's relay and consumer start several processes of one
    # service on a fresh store; the ones that lost the race to create the tables used to die
    # with "Failed to record tracking for __migration__ 1" (found by tests/test_local_run.py).
    # Threads reach the same race through separate SQLite connections.
    from accord_kernel.application import AccordApplication
    from accord_kernel.settings import ServiceSettings

    failures: list[str] = []
    for round_ in range(5):
        settings = ServiceSettings(
            service="audit", data_dir=tmp_path / str(round_), persistence="sqlite"
        )
        start = threading.Barrier(6)

        def build(settings: ServiceSettings = settings, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                AccordApplication(settings).close()
            except Exception as exc:  # the failure is what the test counts
                failures.append(repr(exc))

        threads = [threading.Thread(target=build) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
