"""Issue 18: what the idle platform costs PostgreSQL.

All five services (each with its outbox relay and inbox consumer) run on one PostgreSQL
database and nothing is asked of them; after they have settled, the database's committed and
rolled-back transactions (pg_stat_database) are counted over a window. Target: at most 5 a
second in all.

    uv run python -m bench.idle [--settle 20] [--window 10]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from accord_platform.infra import Infrastructure

from bench.journeys import platform_on
from bench.report import record
from bench.results import BenchmarkResult
from bench.servers import new_database, quiet_kafka_client_logs, running

NAME = "idle"
TARGET_PER_SECOND = 5.0


def _transactions(infrastructure: Infrastructure, database: str) -> int:
    with infrastructure.postgres.connect() as connection:
        row = connection.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def measure(infrastructure: Infrastructure, arguments: argparse.Namespace) -> dict[str, Any]:
    database = new_database(infrastructure, "bench_idle")
    async with platform_on(infrastructure, database):
        await asyncio.sleep(arguments.settle)
        before = _transactions(infrastructure, database)
        await asyncio.sleep(arguments.window)
        # PostgreSQL publishes a busy backend's counts at most once a second, so the window's
        # edges are uncertain by about a second's worth; the window is long against that.
        after = _transactions(infrastructure, database)
    return {"transactions": after - before, "window": arguments.window}


def run(arguments: argparse.Namespace, argv: list[str]) -> BenchmarkResult:
    result = BenchmarkResult(
        NAME, "The idle platform's PostgreSQL transactions", 18, argv, vars(arguments)
    )
    result.method = [
        "Kafka, OPA and PostgreSQL, started for the run; all five services in this process "
        "(`InProcessPlatform`) on one database, each with its outbox relay and inbox consumer.",
        f"Nothing is asked of them. After {arguments.settle:.0f} s to settle, the database's "
        "transactions (pg_stat_database xact_commit + xact_rollback) over "
        f"{arguments.window:.0f} s.",
    ]
    with running("kafka", "opa", "postgres") as infrastructure:
        measured = asyncio.run(measure(infrastructure, arguments))
    per_second = measured["transactions"] / measured["window"]
    result.table(
        "Idle platform",
        ["what", "measured", "target"],
        [
            [
                "PostgreSQL transactions per second, all services",
                round(per_second, 1),
                TARGET_PER_SECOND,
            ]
        ],
    )
    result.figures = {"transactions_per_second": per_second, "target": TARGET_PER_SECOND}
    return result


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__)
    parse.add_argument("--settle", type=float, default=20.0, help="seconds before counting")
    parse.add_argument("--window", type=float, default=10.0, help="seconds counted")
    return parse


def main(argv: list[str]) -> BenchmarkResult:
    quiet_kafka_client_logs()
    return record(run(parser().parse_args(argv), argv))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
