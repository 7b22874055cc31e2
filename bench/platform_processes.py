"""Issue 18: the platform as deployed - each service in its own uvicorn process
(`accord-<service> all`: API, outbox relay and inbox consumer), the load generator in another
process, real Kafka, OPA and PostgreSQL.

Baselines, taken by the load generator in the same run against the same servers: a
PostgreSQL single-row commit, a Kafka produce -> consume round trip, an empty API call (the
referral service's /health/live through uvicorn) and an OPA access decision. Every result is
printed in milliseconds and as a ratio to its baseline, beside issue 18's target.

Measured: referral intake end to end (POST until visible in the RJ provider's intake and in
audit) one at a time; then an open-loop load of `--rate` referrals a second for `--duration`
seconds, a sample of them followed end to end; SQL statements per referral across all
services (pg_stat_statements, during the sequential phase); the idle platform's transactions.

    uv run python -m bench.platform_processes [--sequential 40] [--rate 20] [--duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.policy import PolicyDecisionPoint
from accord_platform.infra import REPO, Infrastructure, free_port
from accord_platform.services import SERVICES

from bench.kafka_round_trip import KafkaRoundTrip
from bench.measure import Distribution, Stopwatch
from bench.referrals import referral
from bench.report import record
from bench.results import BenchmarkResult
from bench.servers import new_database, quiet_kafka_client_logs, running

NAME = "platform_processes"
SUBMITTED = "accord.referral.submitted.v1"
POLL_SECONDS = 0.01
LOAD_POLL_SECONDS = 0.05
READY_SECONDS = 180.0
DELIVERY_BOUND_SECONDS = 120.0
BASELINE_SAMPLES = 200
# Issue 18's targets.
TARGET_P50_MS = 40.0
TARGET_RATE = 100.0
TARGET_LOAD_P99_MS = 250.0
TARGET_STATEMENTS = 40.0
TARGET_IDLE_XACTS = 5.0


# --- the services --------------------------------------------------------------------------


class Services:
    """The five services as `accord-<service> all` processes on free ports."""

    def __init__(self, infrastructure: Infrastructure, database: str, work: Path) -> None:
        self.infrastructure = infrastructure
        self.database = database
        self.work = work
        self.keys = work / "dev-keys"
        self.specs = [replace(s, port=free_port()) for s in SERVICES]
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        _, jwks = ensure_dev_keys(self.keys)
        bin_dir = Path(sys.executable).parent
        for spec in self.specs:
            env = {
                **os.environ,
                "ACCORD_PORT": str(spec.port),
                "ACCORD_DATA_DIR": str(self.work),
                "ACCORD_DATABASE_URL": self.infrastructure.postgres.url(self.database),
                "ACCORD_KAFKA_BOOTSTRAP": self.infrastructure.kafka_bootstrap,
                "ACCORD_OPA_URL": self.infrastructure.opa_url,
                "ACCORD_JWKS_PATH": str(jwks),
                "ACCORD_CONSUMER_GROUP": f"{spec.name}-{self.database}",
            }
            log = (self.work / f"{spec.name}.log").open("ab")
            self.processes.append(
                subprocess.Popen(
                    [str(bin_dir / spec.command), "all"],
                    env=env,
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()
        deadline = time.monotonic() + READY_SECONDS
        with httpx.Client(timeout=2) as client:
            for spec in self.specs:
                while True:
                    try:
                        if client.get(spec.url + "/health/ready").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{spec.name} did not become ready; see {self.work}")
                    time.sleep(0.3)

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def enable_statement_counts(infrastructure: Infrastructure, database: str) -> None:
    """pg_stat_statements must be preloaded: set it and restart the run's own cluster."""
    postgres = infrastructure.postgres
    with postgres.connect() as connection:
        connection.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    postgres.restart()
    with postgres.connect(database) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


# --- the load generator (its own process) --------------------------------------------------

STATEMENTS_SQL = (
    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s "
    "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() "
    "AND s.query NOT LIKE '%pg_stat%' AND s.query NOT LIKE '%bench_%'"
)
XACTS_SQL = (
    "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
)


class Generator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.urls: dict[str, str] = config["urls"]
        keys = Path(config["keys"])
        self.police = {"Authorization": "Bearer " + mint(keys, agency="police", role="officer")}
        self.coordinator = {
            "Authorization": "Bearer " + mint(keys, agency="rj_provider", role="coordinator")
        }
        self.auditor = {
            "Authorization": "Bearer " + mint(keys, agency="audit", role="privacy_officer")
        }
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        self.client = httpx.AsyncClient(timeout=30, limits=limits)
        self.conflicts = 0

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    async def submit(self) -> str:
        headers = {**self.police, "Idempotency-Key": uuid.uuid4().hex}
        body = referral()
        for _ in range(20):
            response = await self.client.post(
                self.urls["referral"] + "/referrals", json=body, headers=headers
            )
            if response.status_code in (200, 201):
                return str(response.json()["case_id"])
            if response.status_code != 409:
                break
            self.conflicts += 1
        raise RuntimeError(f"referral refused: {response.status_code} {response.text}")

    async def in_intake(self, case_id: str) -> bool:
        response = await self.client.get(
            f"{self.urls['conference']}/intake/{case_id}", headers=self.coordinator
        )
        return response.status_code == 200

    async def in_audit(self, case_id: str) -> bool:
        response = await self.client.get(
            f"{self.urls['audit']}/cases/{case_id}/events", headers=self.auditor
        )
        return response.status_code == 200 and any(
            entry.get("type") == SUBMITTED for entry in response.json()
        )

    async def until(self, check: Any, case_id: str, clock: Stopwatch, interval: float) -> float:
        while not await check(case_id):
            if clock.elapsed() > DELIVERY_BOUND_SECONDS:
                raise RuntimeError(f"{case_id} not delivered within {DELIVERY_BOUND_SECONDS} s")
            await asyncio.sleep(interval)
        return clock.elapsed()

    async def one(self, interval: float) -> tuple[float, float]:
        """(POST answered, visible in intake and audit), seconds from the start of the POST."""
        clock = Stopwatch()
        case_id = await self.submit()
        posted = clock.elapsed()
        seen = await asyncio.gather(
            self.until(self.in_intake, case_id, clock, interval),
            self.until(self.in_audit, case_id, clock, interval),
        )
        return posted, max(seen)

    def scalar(self, query: str) -> int:
        with psycopg.connect(self.config["conninfo"], autocommit=True) as connection:
            row = connection.execute(query).fetchone()
        assert row is not None
        return int(row[0])

    async def baselines(self) -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {"pg": [], "kafka": [], "api": [], "opa": []}
        async with await psycopg.AsyncConnection.connect(
            self.config["conninfo"], autocommit=True
        ) as connection:
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS bench_commits (id uuid PRIMARY KEY, body text)"
            )
            for _ in range(BASELINE_SAMPLES):
                clock = Stopwatch()
                await connection.execute(
                    "INSERT INTO bench_commits VALUES (%s, %s)", (uuid.uuid4(), "x" * 200)
                )
                samples["pg"].append(clock.elapsed())
        async with KafkaRoundTrip(self.config["kafka"]) as kafka:
            for _ in range(BASELINE_SAMPLES):
                samples["kafka"].append(await kafka.once(b'{"bench": true}'))
        for _ in range(BASELINE_SAMPLES):
            clock = Stopwatch()
            response = await self.client.get(self.urls["referral"] + "/health/live")
            samples["api"].append(clock.elapsed())
            assert response.status_code == 200
        pdp = PolicyDecisionPoint(self.config["opa"])
        decision_input = {
            "subject": {
                "user": "pc-1",
                "agency": "police",
                "role": "officer",
                "org": "north-police",
            },
            "action": "read",
            "purpose": "case_management",
            "now": "2026-11-23T10:00:00.000000Z",
            "items": [
                {
                    "resource": {
                        "type": "referral",
                        "case_id": str(uuid.uuid4()),
                        "fields": ["case_id", "jurisdiction", "risk_band", "status"],
                        "assigned_facilitators": [],
                    },
                    "case": {
                        "responsible": {"police": "north-police"},
                        "jurisdiction": "england-wales",
                    },
                }
            ],
        }
        for _ in range(BASELINE_SAMPLES):
            clock = Stopwatch()
            await asyncio.to_thread(pdp.query, "accord.access", "batch", decision_input)
            samples["opa"].append(clock.elapsed())
        return samples

    async def sequential(self, count: int) -> dict[str, Any]:
        for _ in range(3):  # warm-up: connections, consumer assignments, caches
            await self.one(POLL_SECONDS)
        posted: list[float] = []
        both: list[float] = []
        for _ in range(count):
            answered, seen = await self.one(POLL_SECONDS)
            posted.append(answered)
            both.append(seen)
        return {"posted": posted, "end_to_end": both}

    async def statements(self, count: int) -> dict[str, Any]:
        """SQL statements per referral: `count` POSTs with nobody reading (a read is itself
        recorded for audit, so polling would count the observer's statements), then the last
        one followed every 200 ms until it is in intake and audit."""
        await asyncio.sleep(3.0)  # the previous phase's trailing work
        idle_window = 5.0
        idle_before = self.scalar(STATEMENTS_SQL)
        await asyncio.sleep(idle_window)
        idle_rate = (self.scalar(STATEMENTS_SQL) - idle_before) / idle_window
        before = self.scalar(STATEMENTS_SQL)
        clock = Stopwatch()
        case_ids = [await self.submit() for _ in range(count)]
        polls = 0
        while not (await self.in_intake(case_ids[-1]) and await self.in_audit(case_ids[-1])):
            polls += 1
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # access records of the last reads, relays, consumers
        statements = self.scalar(STATEMENTS_SQL) - before
        idle_share = idle_rate * clock.elapsed()
        return {
            "statements": statements,
            "idle_statements_per_second": idle_rate,
            "observer_polls": polls,
            "statements_per_referral": (statements - idle_share) / count,
        }

    async def sustained(self, rate: float, duration: float) -> dict[str, Any]:
        """Open loop: a referral every 1/rate s whatever the answers; every `follow`-th one is
        followed until visible in intake and audit."""
        total = int(rate * duration)
        follow = max(1, int(rate // 5))
        posted: list[float] = []
        followed: list[float] = []
        failures = 0

        async def fire(number: int) -> None:
            nonlocal failures
            try:
                if number % follow == 0:
                    answered, seen = await self.one(LOAD_POLL_SECONDS)
                    followed.append(seen)
                else:
                    clock = Stopwatch()
                    await self.submit()
                    answered = clock.elapsed()
                posted.append(answered)
            except (RuntimeError, httpx.HTTPError):
                failures += 1

        clock = Stopwatch()
        tasks = []
        for number in range(total):
            delay = number / rate - clock.elapsed()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(fire(number)))
        offered = clock.elapsed()
        await asyncio.gather(*tasks)
        return {
            "total": total,
            "offered_seconds": offered,
            "all_done_seconds": clock.elapsed(),
            "posted": posted,
            "followed": followed,
            "failures": failures,
        }

    async def run(self) -> dict[str, Any]:
        try:
            self.log("baselines")
            baselines = await self.baselines()
            self.log("sequential referrals")
            sequential = await self.sequential(self.config["sequential"])
            self.log("statements per referral")
            sequential |= await self.statements(self.config["counted"])
            self.log(f"open-loop load {self.config['rate']}/s for {self.config['duration']} s")
            sustained = await self.sustained(self.config["rate"], self.config["duration"])
            await asyncio.sleep(15.0)  # settle, then the idle platform
            before = self.scalar(XACTS_SQL)
            await asyncio.sleep(10.0)
            idle = (self.scalar(XACTS_SQL) - before) / 10.0
        finally:
            await self.client.aclose()
        return {
            "baselines": baselines,
            "sequential": sequential,
            "sustained": sustained,
            "idle_xacts_per_second": idle,
            "conflicts": self.conflicts,
        }


def generate(config_json: str) -> None:
    result = asyncio.run(Generator(json.loads(config_json)).run())
    print(json.dumps(result))


# --- the run -------------------------------------------------------------------------------


def measure(infrastructure: Infrastructure, arguments: argparse.Namespace) -> dict[str, Any]:
    database = new_database(infrastructure, "bench_processes")
    enable_statement_counts(infrastructure, database)
    work = Path(tempfile.mkdtemp(prefix="accord-bench-processes-"))
    services = Services(infrastructure, database, work)
    try:
        services.start()
        config = {
            "urls": {spec.name: spec.url for spec in services.specs},
            "keys": str(services.keys),
            "conninfo": infrastructure.postgres.conninfo(database),
            "kafka": infrastructure.kafka_bootstrap,
            "opa": infrastructure.opa_url,
            "sequential": arguments.sequential,
            "counted": arguments.counted,
            "rate": arguments.rate,
            "duration": arguments.duration,
        }
        generator = subprocess.run(
            [sys.executable, "-m", "bench.platform_processes", "--generate", json.dumps(config)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            check=False,
        )
        if generator.returncode != 0:
            raise RuntimeError(f"the load generator failed ({generator.returncode}); see {work}")
        measured: dict[str, Any] = json.loads(generator.stdout.decode().strip().splitlines()[-1])
        measured["specs"] = [spec.name for spec in services.specs]
        return measured
    finally:
        services.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(arguments: argparse.Namespace, argv: list[str]) -> BenchmarkResult:
    result = BenchmarkResult(
        NAME, "The platform as deployed: services as separate processes", 18, argv, vars(arguments)
    )
    result.method = [
        "Kafka, OPA and PostgreSQL, started for the run (pg_stat_statements preloaded). Each of "
        "the five services runs as `accord-<service> all` (uvicorn, outbox relay, inbox "
        "consumer) in its own process, on one PostgreSQL database (a schema each).",
        "The load generator runs in another process: baselines first "
        f"({BASELINE_SAMPLES} each: PostgreSQL single-row autocommit INSERT, Kafka produce -> "
        "consume round trip, GET /health/live on the referral service, one OPA batch access "
        "decision), then referrals one at a time (POST until visible in the RJ provider's "
        f"GET /intake/{{id}} and in audit's GET /cases/{{id}}/events, polled every "
        f"{POLL_SECONDS * 1000:.0f} ms), then open-loop load (a POST every 1/rate s, about 5 "
        f"a second followed end to end, polled every {LOAD_POLL_SECONDS * 1000:.0f} ms).",
        "Statements per referral: pg_stat_statements calls in the database (BEGIN and COMMIT "
        f"included) while {arguments.counted} referrals are POSTed one after the other with "
        "nobody reading and the last one is then followed every 200 ms until visible, less the "
        "idle rate measured just before, divided by the referrals. Idle: pg_stat_database "
        "transactions over 10 s, 15 s after the load.",
    ]
    with running("kafka", "opa", "postgres") as infrastructure:
        measured = measure(infrastructure, arguments)
    report(result, measured, arguments)
    return result


def report(
    result: BenchmarkResult, measured: dict[str, Any], arguments: argparse.Namespace
) -> None:
    base = {name: Distribution.of(samples) for name, samples in measured["baselines"].items()}
    sequential = measured["sequential"]
    sustained = measured["sustained"]
    posted = Distribution.of(sequential["posted"])
    both = Distribution.of(sequential["end_to_end"])
    load_posted = Distribution.of(sustained["posted"])
    followed = Distribution.of(sustained["followed"] or [0.0])
    achieved = (sustained["total"] - sustained["failures"]) / sustained["all_done_seconds"]
    result.table(
        "Baselines (same run, load generator's process)",
        ["baseline", "n", "p50 ms", "p99 ms"],
        [
            [label, base[key].count, base[key].as_ms()["p50_ms"], base[key].as_ms()["p99_ms"]]
            for key, label in (
                ("pg", "PostgreSQL single-row commit"),
                ("kafka", "Kafka produce -> consume round trip"),
                ("api", "empty API call (GET /health/live, uvicorn)"),
                ("opa", "OPA access decision (one item)"),
            )
        ],
    )
    result.table(
        "Referral intake, services as separate processes",
        ["measure", "n", "p50 ms", "p99 ms", "target"],
        [
            [
                "POST /referrals answered (one at a time)",
                posted.count,
                posted.as_ms()["p50_ms"],
                posted.as_ms()["p99_ms"],
                None,
            ],
            [
                "end to end: visible in intake and audit (one at a time)",
                both.count,
                both.as_ms()["p50_ms"],
                both.as_ms()["p99_ms"],
                f"p50 <= {TARGET_P50_MS:.0f} ms",
            ],
            [
                f"POST answered under {arguments.rate:g}/s for {arguments.duration:g} s",
                load_posted.count,
                load_posted.as_ms()["p50_ms"],
                load_posted.as_ms()["p99_ms"],
                None,
            ],
            [
                f"end to end under {arguments.rate:g}/s (sample)",
                len(sustained["followed"]),
                followed.as_ms()["p50_ms"],
                followed.as_ms()["p99_ms"],
                f"p99 <= {TARGET_LOAD_P99_MS:.0f} ms at {TARGET_RATE:.0f}/s for 60 s",
            ],
        ],
    )
    result.table(
        "Issue 18 targets",
        ["target", "measured", "target value", "met"],
        [
            [
                "intake end to end p50 (ms)",
                both.as_ms()["p50_ms"],
                TARGET_P50_MS,
                _met(both.p50 * 1000 <= TARGET_P50_MS),
            ],
            [
                f"referrals/s completed ({arguments.rate:g}/s offered, {arguments.duration:g} s)",
                round(achieved, 1),
                TARGET_RATE,
                _met(achieved >= TARGET_RATE and arguments.duration >= 60),
            ],
            [
                "end to end p99 under that load (ms)",
                followed.as_ms()["p99_ms"],
                TARGET_LOAD_P99_MS,
                _met(followed.p99 * 1000 <= TARGET_LOAD_P99_MS and arguments.rate >= TARGET_RATE),
            ],
            [
                "SQL statements per referral, all services",
                round(sequential["statements_per_referral"], 1),
                TARGET_STATEMENTS,
                _met(sequential["statements_per_referral"] <= TARGET_STATEMENTS),
            ],
            [
                "idle platform: PostgreSQL transactions/s",
                round(measured["idle_xacts_per_second"], 1),
                TARGET_IDLE_XACTS,
                _met(measured["idle_xacts_per_second"] <= TARGET_IDLE_XACTS),
            ],
        ],
    )
    result.ratio("intake end to end p50", both.p50, base["kafka"].p50, "Kafka round trip p50", "s")
    result.ratio(
        "intake end to end p50", both.p50, base["pg"].p50, "PostgreSQL single-row commit p50", "s"
    )
    result.ratio("POST /referrals p50", posted.p50, base["api"].p50, "empty API call p50", "s")
    result.ratio(
        "POST /referrals p50", posted.p50, base["pg"].p50, "PostgreSQL single-row commit p50", "s"
    )
    result.ratio(
        "end to end under load p99", followed.p99, base["kafka"].p99, "Kafka round trip p99", "s"
    )
    result.ratio("OPA decision p50", base["opa"].p50, base["api"].p50, "empty API call p50", "s")
    result.note(
        f"Sustained phase: {sustained['total']} referrals offered in "
        f"{sustained['offered_seconds']:.1f} s, all answered and followed ones delivered after "
        f"{sustained['all_done_seconds']:.1f} s ({achieved:.1f}/s), {sustained['failures']} "
        f"failed; {measured['conflicts']} submits were retried on 409."
    )
    result.note(
        f"Statements counted: {sequential['statements']} for {arguments.counted} referrals, "
        f"with {sequential['observer_polls']} observer polls (each a recorded read); idle rate "
        f"just before {sequential['idle_statements_per_second']:.1f}/s, subtracted."
    )
    result.figures = {
        "baselines": {key: dist.as_ms() for key, dist in base.items()},
        "posted": posted.as_ms(),
        "end_to_end": both.as_ms(),
        "load_posted": load_posted.as_ms(),
        "load_end_to_end": followed.as_ms(),
        "achieved_per_second": achieved,
        "statements_per_referral": sequential["statements_per_referral"],
        "idle_xacts_per_second": measured["idle_xacts_per_second"],
    }


def _met(held: bool) -> str:
    return "yes" if held else "no"


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m bench.platform_processes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--sequential", type=int, default=40, help="referrals one at a time")
    parse.add_argument(
        "--counted", type=int, default=20, help="referrals whose SQL statements are counted"
    )
    parse.add_argument("--rate", type=float, default=20.0, help="open-loop referrals a second")
    parse.add_argument("--duration", type=float, default=20.0, help="seconds of open-loop load")
    parse.add_argument("--generate", help=argparse.SUPPRESS)
    return parse


def main(argv: list[str]) -> BenchmarkResult | None:
    arguments = parser().parse_args(argv)
    if arguments.generate:
        generate(arguments.generate)
        return None
    quiet_kafka_client_logs()
    return record(run(arguments, argv))


if __name__ == "__main__":
    main(sys.argv[1:])
