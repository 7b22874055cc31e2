"""Issue 9: referral intake end to end, from the police's POST /referrals until the referral is
visible both in the RJ provider's intake (GET /intake/{id}) and in the audit log
(GET /cases/{id}/events lists its `accord.referral.submitted.v1`).

Baselines in the same run, on the same servers: (a) the same JSON INSERTed straight into
PostgreSQL, one transaction each; (b) Kafka's raw produce -> consume round trip with aiokafka.
The referral's path crosses both (event store and outbox in PostgreSQL, relay to Kafka, the
conference and audit consumers, their own stores), so the ratios say what the platform adds.

    uv run python -m bench.intake [--sequential 40] [--burst 150] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from accord_platform.harness import InProcessPlatform
from accord_platform.infra import Infrastructure
from psycopg.types.json import Jsonb

from bench.journeys import DELIVERY_BOUND_SECONDS, platform_on, seconds_until
from bench.kafka_round_trip import KafkaRoundTrip
from bench.measure import Distribution, Stopwatch, progress_bar
from bench.referrals import referral
from bench.report import record
from bench.results import BenchmarkResult
from bench.servers import new_database, quiet_kafka_client_logs, running

NAME = "intake"
SUBMITTED = "accord.referral.submitted.v1"
WARM_UP = 3
POLL_SECONDS = 0.01
SWEEP_SECONDS = 0.05
SUBMIT_ATTEMPTS = 20


class Observer:
    """Asks the platform, through the agencies' own endpoints, whether a referral shows."""

    def __init__(self, platform: InProcessPlatform) -> None:
        self.platform = platform
        self.police = platform.token("police", "officer")
        self.coordinator = platform.token("rj_provider", "coordinator")
        self.privacy_officer = platform.token("audit", "privacy_officer")
        self.conflicts = 0

    async def submit(self) -> str:
        """POST one referral; on 409 `concurrent_update` retry it with the same
        Idempotency-Key, as the problem document asks, and count the retry."""
        body = referral()
        headers = {**self.police, "Idempotency-Key": uuid.uuid4().hex}
        for _ in range(SUBMIT_ATTEMPTS):
            response = await self.platform.client("referral").post(
                "/referrals", json=body, headers=headers
            )
            if response.status_code in (200, 201):  # 200: an earlier attempt got through
                return str(response.json()["case_id"])
            if response.status_code != 409 or response.json().get("code") != "concurrent_update":
                break
            self.conflicts += 1
        raise RuntimeError(f"referral refused: {response.status_code} {response.text}")

    async def in_intake(self, case_id: str) -> bool:
        response = await self.platform.client("conference").get(
            f"/intake/{case_id}", headers=self.coordinator
        )
        if response.status_code not in (200, 404):
            raise RuntimeError(f"intake answered {response.status_code}: {response.text}")
        return bool(response.status_code == 200)

    async def in_audit(self, case_id: str) -> bool:
        response = await self.platform.client("audit").get(
            f"/cases/{case_id}/events", headers=self.privacy_officer
        )
        if response.status_code != 200:
            raise RuntimeError(f"audit answered {response.status_code}: {response.text}")
        entries: list[dict[str, Any]] = response.json()
        return any(entry.get("type") == SUBMITTED for entry in entries)


@dataclass
class Intake:
    """Seconds from the start of the POST: its answer, intake, audit, and both."""

    posted: float
    intake: float
    audit: float

    @property
    def both(self) -> float:
        return max(self.intake, self.audit)


async def one_referral(observer: Observer) -> Intake:
    clock = Stopwatch()
    case_id = await observer.submit()
    posted = clock.elapsed()
    intake, audit = await asyncio.gather(
        seconds_until(
            lambda: observer.in_intake(case_id),
            clock,
            POLL_SECONDS,
            f"referral {case_id} in intake",
        ),
        seconds_until(
            lambda: observer.in_audit(case_id), clock, POLL_SECONDS, f"referral {case_id} in audit"
        ),
    )
    return Intake(posted, intake, audit)


class PostgresInsert:
    """Baseline (a): the referral's JSON as one row, one transaction per row."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo

    async def prepare(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True
        ) as connection:
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS bench_referrals "
                "(case_id uuid PRIMARY KEY, body jsonb NOT NULL)"
            )

    @staticmethod
    async def insert(connection: psycopg.AsyncConnection[Any], body: dict[str, Any]) -> float:
        clock = Stopwatch()
        await connection.execute(
            "INSERT INTO bench_referrals (case_id, body) VALUES (%s, %s)",
            (uuid.uuid4(), Jsonb(body)),
        )
        return clock.elapsed()

    async def burst(self, bodies: list[dict[str, Any]], concurrency: int) -> float:
        connections = [
            await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
            for _ in range(concurrency)
        ]
        try:
            clock = Stopwatch()

            async def worker(connection: psycopg.AsyncConnection[Any], share: list[Any]) -> None:
                for body in share:
                    await self.insert(connection, body)

            await asyncio.gather(
                *(
                    worker(connection, bodies[number::concurrency])
                    for number, connection in enumerate(connections)
                )
            )
            return clock.elapsed()
        finally:
            for connection in connections:
                await connection.close()


@dataclass
class Burst:
    seconds: float
    posting_seconds: float
    last_in_intake: float
    last_in_audit: float
    latencies: list[float] = field(default_factory=list)


async def referral_burst(observer: Observer, count: int, concurrency: int) -> Burst:
    """`count` referrals POSTed by `concurrency` clients as fast as they are answered, while
    one watcher sweeps the outstanding ones oldest first every SWEEP_SECONDS. A sweep stops
    at the first referral not yet visible, so watching costs a few requests per sweep rather
    than two per outstanding referral; a referral overtaken by a later one is then seen one
    sweep late, which can only overstate its latency."""
    clock = Stopwatch()
    submitted: list[tuple[str, float]] = []
    done_posting = asyncio.Event()
    posting_seconds = 0.0
    queue = list(range(count))

    async def poster() -> None:
        while queue:
            queue.pop()
            started = clock.elapsed()
            submitted.append((await observer.submit(), started))

    async def all_posted() -> None:
        nonlocal posting_seconds
        await asyncio.gather(*(poster() for _ in range(concurrency)))
        posting_seconds = clock.elapsed()
        done_posting.set()

    seen_intake: dict[str, float] = {}
    seen_audit: dict[str, float] = {}

    async def sweep(check: Callable[[str], Awaitable[bool]], seen: dict[str, float]) -> None:
        for case_id, _ in sorted(submitted, key=lambda item: item[1]):
            if case_id in seen:
                continue
            if not await check(case_id):
                return
            seen[case_id] = clock.elapsed()

    posting = asyncio.create_task(all_posted())
    with progress_bar() as bars:
        task = bars.add_task(f"burst of {count} referrals, {concurrency} clients", total=count)
        while not done_posting.is_set() or min(len(seen_intake), len(seen_audit)) < count:
            await asyncio.gather(
                sweep(observer.in_intake, seen_intake), sweep(observer.in_audit, seen_audit)
            )
            bars.update(task, completed=min(len(seen_intake), len(seen_audit)))
            if posting.done() and posting.exception() is not None:
                await posting
            if clock.elapsed() > DELIVERY_BOUND_SECONDS * 3:
                raise RuntimeError("the burst was not delivered in time")
            await asyncio.sleep(SWEEP_SECONDS)
    await posting
    started = dict(submitted)
    latencies = [
        max(seen_intake[case_id], seen_audit[case_id]) - started[case_id] for case_id in started
    ]
    last_in_intake, last_in_audit = max(seen_intake.values()), max(seen_audit.values())
    return Burst(
        max(last_in_intake, last_in_audit),
        posting_seconds,
        last_in_intake,
        last_in_audit,
        latencies,
    )


async def measure(infrastructure: Infrastructure, arguments: argparse.Namespace) -> dict[str, Any]:
    sequential, burst, concurrency = (arguments.sequential, arguments.burst, arguments.concurrency)
    database = new_database(infrastructure, "bench_intake")
    async with (
        platform_on(infrastructure, database) as platform,
        KafkaRoundTrip(infrastructure.kafka_bootstrap) as kafka,
    ):
        observer = Observer(platform)
        postgres = PostgresInsert(infrastructure.postgres.conninfo(database))
        await postgres.prepare()
        payload = json.dumps(referral()).encode()
        with progress_bar() as bars:
            task = bars.add_task("warm-up (consumer groups join)", total=WARM_UP)
            for _ in range(WARM_UP):
                await one_referral(observer)
                bars.advance(task)
        intakes: list[Intake] = []
        inserts: list[float] = []
        round_trips: list[float] = []
        async with await psycopg.AsyncConnection.connect(
            postgres.conninfo, autocommit=True
        ) as connection:
            for _ in range(WARM_UP):
                await postgres.insert(connection, referral())
                await kafka.once(payload)
            with progress_bar() as bars:
                task = bars.add_task("one referral at a time (+ baselines)", total=sequential)
                for _ in range(sequential):
                    intakes.append(await one_referral(observer))
                    # Interleaved, so load from elsewhere on the machine weighs on both.
                    for _ in range(arguments.baseline_per_referral):
                        inserts.append(await postgres.insert(connection, referral()))
                        round_trips.append(await kafka.once(payload))
                    bars.advance(task)
        sequential_conflicts = observer.conflicts
        audit_log: Any = platform.services["audit"].runtime.app
        entries_before = audit_log.store.size()
        measured_burst = await referral_burst(observer, burst, concurrency)
        audit_entries = audit_log.store.size() - entries_before
        burst_conflicts = observer.conflicts - sequential_conflicts
        baseline_burst = arguments.baseline_burst
        insert_burst = await postgres.burst(
            [referral() for _ in range(baseline_burst)], concurrency
        )
        kafka_burst, kafka_burst_trips = await kafka.burst([payload] * baseline_burst)
    return {
        "intakes": intakes,
        "inserts": inserts,
        "round_trips": round_trips,
        "burst": measured_burst,
        "insert_burst": insert_burst,
        "kafka_burst": kafka_burst,
        "kafka_burst_trips": kafka_burst_trips,
        "payload_bytes": len(payload),
        "sequential_conflicts": sequential_conflicts,
        "burst_conflicts": burst_conflicts,
        "audit_entries_in_burst": audit_entries,
    }


def run(arguments: argparse.Namespace, argv: list[str]) -> BenchmarkResult:
    result = BenchmarkResult(NAME, "Referral intake end to end", 9, argv, vars(arguments))
    result.method = [
        "Kafka, OPA and PostgreSQL, started for the run; all five services in this process "
        "(`accord_platform.harness.InProcessPlatform`: each service's API through httpx's "
        "ASGI transport, its outbox relay and inbox consumer as tasks), one PostgreSQL schema "
        "per service.",
        "End to end = from the start of POST /referrals (police token) until GET /intake/{id} "
        "(RJ coordinator) answers 200 and GET /cases/{id}/events on audit (privacy officer) "
        "lists the referral's submitted event. Those reads are policy-enforced and recorded, "
        "as in production, so watching adds a little to the audit traffic being measured.",
        f"Latency: {arguments.sequential} referrals one at a time, polled every "
        f"{POLL_SECONDS * 1000:.0f} ms, after {WARM_UP} warm-up referrals; after each one, "
        f"{arguments.baseline_per_referral} of each baseline, interleaved.",
        f"Throughput: a burst of {arguments.burst} referrals from {arguments.concurrency} "
        "concurrent clients, until the last is visible in both places (watched every "
        f"{SWEEP_SECONDS * 1000:.0f} ms, oldest first); then the baselines' bursts: "
        f"{arguments.baseline_burst} INSERTs over {arguments.concurrency} connections, and "
        f"{arguments.baseline_burst} messages produced at once and consumed (larger, so that "
        "they last long enough to time; compared per item).",
        "Baseline (a): the referral's request JSON INSERTed into a jsonb table, one "
        "transaction each (psycopg, autocommit). Baseline (b): aiokafka produce -> consume "
        "round trip of the same JSON on a one-partition topic (idempotent producer, acks=all; "
        "consumer assigned directly, no group).",
    ]
    with running("kafka", "opa", "postgres") as infrastructure:
        measured = asyncio.run(measure(infrastructure, arguments))
    report(result, measured, arguments)
    return result


def report(
    result: BenchmarkResult, measured: dict[str, Any], arguments: argparse.Namespace
) -> None:
    intakes: list[Intake] = measured["intakes"]
    end_to_end = Distribution.of([intake.both for intake in intakes])
    posted = Distribution.of([intake.posted for intake in intakes])
    to_intake = Distribution.of([intake.intake for intake in intakes])
    to_audit = Distribution.of([intake.audit for intake in intakes])
    inserts = Distribution.of(measured["inserts"])
    round_trips = Distribution.of(measured["round_trips"])
    burst: Burst = measured["burst"]
    under_load = Distribution.of(burst.latencies)
    rows: list[list[Any]] = [
        [label, dist.count, dist.as_ms()["p50_ms"], dist.as_ms()["p99_ms"], dist.as_ms()["mean_ms"]]
        for label, dist in (
            ("end to end: visible in intake and audit", end_to_end),
            ("  POST /referrals answered (201)", posted),
            ("  visible in RJ provider's intake", to_intake),
            ("  visible in audit's case events", to_audit),
            (f"end to end under the burst ({arguments.concurrency} clients)", under_load),
            ("baseline (a): INSERT of the same JSON into PostgreSQL", inserts),
            ("baseline (b): Kafka produce -> consume round trip", round_trips),
        )
    ]
    result.table(
        "Latency (seconds from the start of the request)",
        ["operation", "n", "p50 ms", "p99 ms", "mean ms"],
        rows,
    )
    count, baseline = arguments.burst, arguments.baseline_burst
    throughput_rows: list[list[Any]] = [
        [
            "referrals end to end (POST until visible in intake and audit)",
            count,
            round(burst.seconds, 2),
            round(count / burst.seconds, 1),
        ],
        [
            "  all POSTs answered (the synchronous part)",
            count,
            round(burst.posting_seconds, 2),
            round(count / burst.posting_seconds, 1),
        ],
        [
            "  all visible in the RJ provider's intake",
            count,
            round(burst.last_in_intake, 2),
            round(count / burst.last_in_intake, 1),
        ],
        [
            "  all visible in audit's case events",
            count,
            round(burst.last_in_audit, 2),
            round(count / burst.last_in_audit, 1),
        ],
        [
            f"baseline (a): INSERTs over {arguments.concurrency} connections",
            baseline,
            round(measured["insert_burst"], 2),
            round(baseline / measured["insert_burst"], 1),
        ],
        [
            "baseline (b): Kafka messages produced at once and consumed",
            baseline,
            round(measured["kafka_burst"], 2),
            round(baseline / measured["kafka_burst"], 1),
        ],
    ]
    result.table("Throughput", ["what", "count", "seconds", "per second"], throughput_rows)
    for share, name in (("p50", "p50"), ("p99", "p99")):
        measured_value = getattr(end_to_end, share)
        result.ratio(
            f"intake end to end {name}",
            measured_value,
            getattr(inserts, share),
            f"(a) PostgreSQL INSERT {name}",
            "s",
        )
        result.ratio(
            f"intake end to end {name}",
            measured_value,
            getattr(round_trips, share),
            f"(b) Kafka round trip {name}",
            "s",
        )
    per_referral = burst.seconds / count
    result.ratio(
        "intake throughput, time per referral",
        per_referral,
        measured["insert_burst"] / baseline,
        "(a) PostgreSQL INSERT burst, per row",
        "s",
    )
    result.ratio(
        "intake throughput, time per referral",
        per_referral,
        measured["kafka_burst"] / baseline,
        "(b) Kafka burst, per message",
        "s",
    )
    result.note(
        "On its way a referral is committed to the referral service's event store "
        "(with its outbox), picked up by the outbox relay, which polls every 100 ms "
        "(50 ms on average on its own), published once, and consumed by conference and "
        "audit in parallel, each applying it in its own transaction with its inbox "
        "tracking record; audit appends it to the Merkle log and indexes it."
    )
    entries = measured["audit_entries_in_burst"]
    result.note(
        f"Audit is the last to show a referral: it consumes every topic, and its log "
        f"grew by {entries} entries during the burst ({entries / count:.1f} per "
        "referral: integration events and access records), each appended in a "
        "transaction of its own with its case-index row, the consumer committing every "
        "offset; all five services share this process and the two cores. A consumer "
        "that batches could append through `AuditLogStore.append_many`."
    )
    result.note(f"The payload is the POST body: {measured['payload_bytes']} bytes of JSON.")
    result.note(
        "Concurrent submissions contend for the referral service's single referral "
        "log (one `EventSourcedLog` sequence); when its five in-process retries run out "
        "a POST answers 409 `concurrent_update`, which this client retries with the "
        "same Idempotency-Key, inside the measured time. Retried in this run: "
        f"{measured['sequential_conflicts']} one at a time, "
        f"{measured['burst_conflicts']} in the burst."
    )
    result.figures = {
        "end_to_end": end_to_end.as_ms(),
        "posted": posted.as_ms(),
        "to_intake": to_intake.as_ms(),
        "to_audit": to_audit.as_ms(),
        "under_burst": under_load.as_ms(),
        "postgres_insert": inserts.as_ms(),
        "kafka_round_trip": round_trips.as_ms(),
        "burst_seconds": round(burst.seconds, 3),
        "burst_last_in_intake_seconds": round(burst.last_in_intake, 3),
        "burst_last_in_audit_seconds": round(burst.last_in_audit, 3),
        "burst_per_second": round(count / burst.seconds, 2),
        "insert_burst_per_second": round(baseline / measured["insert_burst"], 2),
        "kafka_burst_per_second": round(baseline / measured["kafka_burst"], 2),
        "kafka_burst_round_trip": Distribution.of(measured["kafka_burst_trips"]).as_ms(),
        "audit_entries_in_burst": measured["audit_entries_in_burst"],
        "conflicts_retried": {
            "sequential": measured["sequential_conflicts"],
            "burst": measured["burst_conflicts"],
        },
    }


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m bench.intake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument(
        "--sequential", type=int, default=40, help="referrals measured one at a time"
    )
    parse.add_argument(
        "--baseline-per-referral",
        type=int,
        default=5,
        help="samples of each baseline after each sequential referral",
    )
    parse.add_argument("--burst", type=int, default=150, help="referrals in the burst")
    parse.add_argument("--concurrency", type=int, default=4, help="clients in the burst")
    parse.add_argument(
        "--baseline-burst",
        type=int,
        default=2000,
        help="rows and messages in each baseline's burst",
    )
    return parse


def main(argv: list[str]) -> BenchmarkResult:
    quiet_kafka_client_logs()
    return record(run(parser().parse_args(argv), argv))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
