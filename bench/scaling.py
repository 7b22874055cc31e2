"""Issue 18 item 3: how throughput scales on this machine with 1 and 2 processes per service
and with 1, 3 and 6 partitions per topic, and what one referral costs (CPU, PostgreSQL and
Kafka bytes), the figures docs/capacity.md projects a regional deployment from.

Each configuration gets its own Kafka, OPA and PostgreSQL (so the partition count is the
topics' count from their creation), every service as `accord-<service> all` processes
(several per service share one consumer group; one relay per service publishes, the others
stand by), and the same load: `--referrals` POSTs from `--concurrency` clients spread over
the referral service's processes, until every one is in the RJ provider's intake. The
baseline is the first configuration (1 process per service, 3 partitions), measured in the
same run.

    uv run python -m bench.scaling [--referrals 300] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from accord_kernel.bus import ALL_TOPICS
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_platform.infra import REPO, Infrastructure, free_port
from accord_platform.services import SERVICES, ServiceSpec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.measure import Stopwatch
from bench.referrals import referral
from bench.report import record
from bench.results import BenchmarkResult
from bench.servers import new_database, quiet_kafka_client_logs, running

NAME = "scaling"
READY_SECONDS = 240.0
DELIVERY_BOUND_SECONDS = 300.0
# (processes per service, partitions per topic); the first is the baseline.
CONFIGURATIONS = ((1, 3), (2, 3), (1, 1), (1, 6))


@dataclass
class Replica:
    spec: ServiceSpec
    process: subprocess.Popen[bytes]


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def _create_topics(bootstrap: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in ALL_TOPICS]
        )
    finally:
        await admin.close()


def start_services(
    infrastructure: Infrastructure, database: str, work: Path, processes: int
) -> dict[str, list[Replica]]:
    _, jwks = ensure_dev_keys(work / "dev-keys")
    bin_dir = Path(sys.executable).parent
    started: dict[str, list[Replica]] = {}
    for base in SERVICES:
        for n in range(processes):
            spec = replace(base, port=free_port())
            env = {
                **os.environ,
                "ACCORD_PORT": str(spec.port),
                "ACCORD_DATA_DIR": str(work),
                "ACCORD_DATABASE_URL": infrastructure.postgres.url(database),
                "ACCORD_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
                "ACCORD_OPA_URL": infrastructure.opa_url,
                "ACCORD_JWKS_PATH": str(jwks),
                "ACCORD_CONSUMER_GROUP": f"{spec.name}-{database}",
                "ACCORD_LOG_FORMAT": "console",
            }
            with (work / f"{spec.name}-{n}.log").open("ab") as log:
                process = subprocess.Popen(
                    [str(bin_dir / spec.command), "all"],
                    env=env,
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            started.setdefault(spec.name, []).append(Replica(spec, process))
    deadline = time.monotonic() + READY_SECONDS
    with httpx.Client(timeout=2) as client:
        for replicas in started.values():
            for replica in replicas:
                while True:
                    try:
                        if client.get(replica.spec.url + "/health/ready").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{replica.spec.name} not ready; see {work}")
                    time.sleep(0.3)
    return started


def stop_services(started: dict[str, list[Replica]]) -> None:
    replicas = [r for group in started.values() for r in group]
    for replica in replicas:
        replica.process.send_signal(signal.SIGTERM)
    for replica in replicas:
        try:
            replica.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait()


async def load(
    started: dict[str, list[Replica]], keys: Path, count: int, clients: int
) -> dict[str, float]:
    police = {"Authorization": "Bearer " + mint(keys, agency="police", role="officer")}
    coordinator = {
        "Authorization": "Bearer " + mint(keys, agency="rj_provider", role="coordinator")
    }
    referral_urls = [r.spec.url for r in started["referral"]]
    conference = started["conference"][0].spec.url
    submitted: list[str] = []
    retries = 0
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        # Warm-up: connections, consumer assignments, caches.
        for url in referral_urls:
            r = await client.post(url + "/referrals", json=referral(), headers=police)
            assert r.status_code == 201, r.text
        queue = list(range(count))
        clock = Stopwatch()

        async def worker(number: int) -> None:
            nonlocal retries
            url = referral_urls[number % len(referral_urls)]
            while queue:
                queue.pop()
                for _ in range(20):
                    r = await client.post(url + "/referrals", json=referral(), headers=police)
                    if r.status_code == 201:
                        submitted.append(str(r.json()["case_id"]))
                        break
                    retries += 1

        await asyncio.gather(*(worker(n) for n in range(clients)))
        posted = clock.elapsed()
        wanted = set(submitted)
        while True:
            listed = await client.get(
                conference + "/intake", params={"limit": 500}, headers=coordinator
            )
            seen = {row["case_id"] for row in listed.json()} if listed.status_code == 200 else set()
            if wanted <= seen:
                break
            if clock.elapsed() > DELIVERY_BOUND_SECONDS:
                raise RuntimeError(f"{len(wanted - seen)} referrals never reached intake")
            await asyncio.sleep(0.05)
        delivered = clock.elapsed()
    return {
        "submitted": float(len(submitted)),
        "posted_seconds": posted,
        "delivered_seconds": delivered,
        "retries": float(retries),
    }


def measure(processes: int, partitions: int, arguments: argparse.Namespace) -> dict[str, Any]:
    with running("kafka", "opa", "postgres") as infrastructure:
        asyncio.run(_create_topics(infrastructure.kafka_bootstrap, partitions))
        database = new_database(infrastructure, "bench_scaling")
        work = Path(tempfile.mkdtemp(prefix="accord-bench-scaling-"))
        started = start_services(infrastructure, database, work, processes)
        try:
            pids = [r.process.pid for group in started.values() for r in group]
            cpu_before = sum(_cpu_seconds(pid) for pid in pids)
            with infrastructure.postgres.connect(database) as connection:
                row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
                db_before = int(row[0]) if row else 0
            kafka_dir = Path(infrastructure.kafka.data_dir)
            kafka_before = _tree_bytes(kafka_dir)
            figures = asyncio.run(
                load(started, work / "dev-keys", arguments.referrals, arguments.concurrency)
            )
            time.sleep(3.0)  # audit and the other consumers finish the tail
            figures["cpu_seconds"] = sum(_cpu_seconds(pid) for pid in pids) - cpu_before
            with infrastructure.postgres.connect(database) as connection:
                row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
                figures["db_bytes"] = float((int(row[0]) if row else 0) - db_before)
            figures["kafka_bytes"] = float(_tree_bytes(kafka_dir) - kafka_before)
            return figures
        finally:
            stop_services(started)


def run(arguments: argparse.Namespace, argv: list[str]) -> BenchmarkResult:
    result = BenchmarkResult(
        NAME,
        "Scaling on this machine: processes per service and partitions",
        18,
        argv,
        vars(arguments),
    )
    result.method = [
        "For each configuration, fresh Kafka, OPA and PostgreSQL; every topic created with the "
        "configuration's partition count before the services start; each of the five services "
        "as N `accord-<service> all` processes sharing one consumer group (one relay per "
        "service publishes at a time, the others stand by).",
        f"Load: {arguments.referrals} POST /referrals from {arguments.concurrency} concurrent "
        "clients spread over the referral service's processes (after one warm-up referral per "
        "process), then GET /intake polled every 50 ms until every referral is in the RJ "
        "provider's intake. Throughput = referrals / seconds until the last is in intake.",
        "Costs per referral: CPU (user + system, /proc) of all service processes, growth of the "
        "PostgreSQL database and of Kafka's log directory, divided by the referrals (warm-up "
        "included in neither).",
    ]
    measured: dict[tuple[int, int], dict[str, Any]] = {}
    chosen = [c for c in CONFIGURATIONS if not arguments.only or f"{c[0]}x{c[1]}" in arguments.only]
    if CONFIGURATIONS[0] not in chosen:
        chosen.insert(0, CONFIGURATIONS[0])  # the baseline is always measured
    for processes, partitions in chosen:
        result.note(f"configuration: {processes} process(es) per service, {partitions} partitions")
        measured[(processes, partitions)] = measure(processes, partitions, arguments)
    baseline = measured[CONFIGURATIONS[0]]
    base_rate = baseline["submitted"] / baseline["delivered_seconds"]
    rows = []
    for (processes, partitions), figures in measured.items():
        rate = figures["submitted"] / figures["delivered_seconds"]
        rows.append(
            [
                f"{processes} per service, {partitions} partitions",
                int(figures["submitted"]),
                round(figures["submitted"] / figures["posted_seconds"], 1),
                round(rate, 1),
                round(rate / base_rate, 2),
                round(figures["cpu_seconds"] * 1000 / figures["submitted"], 1),
                round(figures["db_bytes"] / figures["submitted"]),
                round(figures["kafka_bytes"] / figures["submitted"]),
                int(figures["retries"]),
            ]
        )
        if (processes, partitions) != CONFIGURATIONS[0]:
            # Throughputs: baseline rate / measured rate, so below 1.0 means faster.
            result.ratio(
                f"{processes} per service, {partitions} partitions: time per referral",
                1 / rate,
                1 / base_rate,
                "1 per service, 3 partitions",
                "s",
            )
    result.table(
        "Throughput and cost per referral",
        [
            "configuration",
            "referrals",
            "POSTs answered/s",
            "in intake/s",
            "x baseline",
            "CPU ms/referral",
            "PostgreSQL bytes/referral",
            "Kafka bytes/referral",
            "409 retries",
        ],
        rows,
    )
    result.figures = {
        f"{p}x{k}": {key: round(value, 3) for key, value in figures.items()}
        for (p, k), figures in measured.items()
    }
    return result


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m bench.scaling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--referrals", type=int, default=300, help="referrals per configuration")
    parse.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parse.add_argument(
        "--only",
        nargs="*",
        default=[],
        help="configurations as <processes>x<partitions> (default: 1x3 2x3 1x1 1x6)",
    )
    return parse


def main(argv: list[str]) -> BenchmarkResult | None:
    arguments = parser().parse_args(argv)
    quiet_kafka_client_logs()
    return record(run(arguments, argv))


if __name__ == "__main__":
    main(sys.argv[1:])
