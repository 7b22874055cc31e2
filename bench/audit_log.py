"""Issue 8: append rate and proof time of the audit log at 10^6 entries on PostgreSQL.

Baseline, in the same run and on the same server: the same rows INSERTed into a plain table
(same columns and unique event id, no Merkle tree, no advisory lock, no replay lookup), in
the same transactions (one per row for single appends, one per batch for batches), interleaved
with the log's own appends so that anything else running on the machine weighs on both alike.
Proof times are set against a read of one entry by its index, the cheapest read the log has.

    uv run python -m bench.audit_log [--entries 1000000] [--batch 5000] [--single 3000]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from accord_audit.canonical import canonical_json
from accord_audit.log_store import AuditLogStore, audit_entries, audit_nodes
from accord_audit.merkle import verify_consistency, verify_inclusion
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    Table,
    Text,
    event,
    insert,
    text,
)

from bench.measure import Distribution, Stopwatch, progress_bar
from bench.report import record
from bench.results import BenchmarkResult
from bench.servers import new_database, running

NAME = "audit_log"
AGENCIES = (
    ("police", "officer", "referral"),
    ("victim_services", "advocate", "victim-support"),
    ("rj_provider", "facilitator", "conference"),
    ("court", "clerk", "court"),
)

baseline_metadata = MetaData()
# The log's entry columns minus the leaf hash: what a plain event table would store.
plain_entries = Table(
    "bench_plain_entries",
    baseline_metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", Text, nullable=False, unique=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("body", LargeBinary, nullable=False),
)


def audit_record(number: int) -> tuple[str, bytes]:
    """A realistic access record (ids and field names, never victim data) as the log gets it."""
    agency, role, service = AGENCIES[number % len(AGENCIES)]
    event_id = f"bench-{number:08d}"
    body = canonical_json(
        {
            "kind": "access",
            "event_id": event_id,
            "service": service,
            "case_id": f"5f0c2a9e-0000-4000-8000-{number % 50_000:012d}",
            "agency": agency,
            "role": role,
            "user": f"{role}-{number % 97}",
            "action": "read",
            "resource_type": "referral",
            "purpose": "case_management",
            "fields_returned": ["case_id", "jurisdiction", "risk_band", "status"],
            "fields_withheld": {"victim_address": "no_lawful_basis"},
            "lawful_basis": {},
            "decision": "permit",
            "decision_id": f"9d1f4b2c-{number % 65_536:04x}-4a3b-8c2d-{number:012d}",
            "break_glass": False,
            "at": "2026-11-23T10:00:00Z",
        }
    )
    return event_id, body


def plain_rows(items: list[tuple[str, bytes]], first: int, at: datetime) -> list[dict[str, Any]]:
    return [
        {"idx": first + offset, "event_id": event_id, "recorded_at": at, "body": body}
        for offset, (event_id, body) in enumerate(items)
    ]


@contextmanager
def counting_node_reads(engine: Engine) -> Iterator[Callable[[], int]]:
    """Counts SELECTs on `audit_nodes`, the hash reads a proof costs."""
    reads = 0

    def count(*arguments: Any) -> None:
        nonlocal reads
        statement = str(arguments[2])
        if statement.lstrip().upper().startswith("SELECT") and "audit_nodes" in statement:
            reads += 1

    def taken() -> int:
        nonlocal reads
        value, reads = reads, 0
        return value

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield taken
    finally:
        event.remove(engine, "before_cursor_execute", count)


def single_appends(store: AuditLogStore, count: int) -> tuple[list[float], list[float]]:
    """One transaction per row, alternating log and baseline."""
    log_times: list[float] = []
    plain_times: list[float] = []
    at = datetime.now(UTC)
    with progress_bar() as bars:
        task = bars.add_task("single appends (log + plain INSERT)", total=count)
        for number in range(count):
            event_id, body = audit_record(number)
            clock = Stopwatch()
            index = store.append(event_id, body, at)
            log_times.append(clock.elapsed())
            clock = Stopwatch()
            with store.engine.begin() as connection:
                connection.execute(
                    insert(plain_entries), plain_rows([(event_id, body)], number, at)
                )
            plain_times.append(clock.elapsed())
            if index != number:
                raise RuntimeError(f"entry {number} got index {index}")
            bars.advance(task)
    return log_times, plain_times


def batched_appends(
    store: AuditLogStore, first: int, total: int, batch: int
) -> tuple[float, float, list[float], list[float]]:
    """`append_many` per batch against one multi-row INSERT transaction per batch."""
    log_seconds = plain_seconds = 0.0
    log_batches: list[float] = []
    plain_batches: list[float] = []
    at = datetime.now(UTC)
    with progress_bar() as bars:
        task = bars.add_task("batched appends (log + plain INSERT)", total=total - first)
        for start in range(first, total, batch):
            items = [audit_record(number) for number in range(start, min(start + batch, total))]
            clock = Stopwatch()
            indexes = store.append_many(items, at)
            elapsed = clock.elapsed()
            log_seconds += elapsed
            log_batches.append(elapsed)
            rows = plain_rows(items, start, at)
            clock = Stopwatch()
            with store.engine.begin() as connection:
                connection.execute(insert(plain_entries), rows)
            elapsed = clock.elapsed()
            plain_seconds += elapsed
            plain_batches.append(elapsed)
            if indexes != list(range(start, start + len(items))):
                raise RuntimeError(f"batch at {start} got indexes {indexes[:3]}...")
            bars.advance(task, len(items))
    return log_seconds, plain_seconds, log_batches, plain_batches


def proofs(store: AuditLogStore, size: int, count: int, seed: int) -> dict[str, Any]:
    """Inclusion and consistency proofs against the whole log, each verified (untimed)
    against the root, interleaved with the baseline read of one entry."""
    chooser = random.Random(seed)
    root = store.root(size)
    inclusion: list[float] = []
    consistency: list[float] = []
    entry_reads: list[float] = []
    inclusion_reads: list[int] = []
    consistency_reads: list[int] = []
    with counting_node_reads(store.engine) as node_reads, progress_bar() as bars:
        task = bars.add_task(f"proofs at {size:,} entries (verified)", total=count)
        for _ in range(count):
            index = chooser.randrange(size)
            clock = Stopwatch()
            entry = store.entry(index)
            entry_reads.append(clock.elapsed())
            node_reads()
            clock = Stopwatch()
            path = store.inclusion_proof(index, size)
            inclusion.append(clock.elapsed())
            inclusion_reads.append(node_reads())
            verify_inclusion(entry.leaf_hash, index, size, path, root)

            old_size = chooser.randrange(1, size)
            clock = Stopwatch()
            path = store.consistency_proof(old_size, size)
            consistency.append(clock.elapsed())
            consistency_reads.append(node_reads())
            verify_consistency(old_size, size, path, store.root(old_size), root)
            node_reads()
            bars.advance(task)
    return {
        "inclusion": inclusion,
        "consistency": consistency,
        "entry": entry_reads,
        "inclusion_reads": inclusion_reads,
        "consistency_reads": consistency_reads,
    }


def table_sizes(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: int(
                connection.execute(
                    text("SELECT pg_total_relation_size(:name)"), {"name": table.name}
                ).scalar_one()
            )
            for table in (audit_entries, audit_nodes, plain_entries)
        }


def run(arguments: argparse.Namespace, argv: list[str]) -> BenchmarkResult:
    entries, batch, single = arguments.entries, arguments.batch, arguments.single
    if not 0 < single < entries:
        raise SystemExit("--single must be positive and smaller than --entries")
    result = BenchmarkResult(
        NAME,
        "Audit log: append rate and proof time",
        8,
        argv,
        {
            "entries": entries,
            "batch": batch,
            "single_appends": single,
            "proofs": arguments.proofs,
            "seed": arguments.seed,
        },
    )
    result.method = [
        "PostgreSQL only (the log's store), started for the run. Audit records are realistic "
        f"access records of about {len(audit_record(0)[1])} bytes of canonical JSON.",
        "Log: `AuditLogStore.append` (one transaction per entry: advisory lock, replay lookup, "
        "canonical-JSON check, leaf hash, frontier read, entry and node rows) and "
        "`AuditLogStore.append_many` (the same per batch, frontier read once).",
        "Baseline: the same rows INSERTed into a plain table with the same columns and unique "
        "event id but no Merkle tree, in the same transactions, alternating with the log's "
        "appends.",
        "Proofs: inclusion and consistency proofs at the full size for random indexes and old "
        "sizes, every one verified against the root (verification not timed); baseline: reading "
        "one entry by its index. Hash reads are SELECTs on `audit_nodes` counted per proof.",
    ]
    with running("postgres") as infrastructure:
        database = new_database(infrastructure, "bench_audit")
        store = AuditLogStore.from_url(infrastructure.postgres.url(database))
        try:
            store.create_schema()
            baseline_metadata.create_all(store.engine)
            log_single, plain_single = single_appends(store, single)
            log_total, plain_total, log_batches, plain_batches = batched_appends(
                store, single, entries, batch
            )
            size = store.size()
            measured = proofs(store, size, arguments.proofs, arguments.seed)
            sizes = table_sizes(store.engine)
        finally:
            store.engine.dispose()
    report(
        result,
        log_single,
        plain_single,
        (log_total, plain_total),
        entries - single,
        (log_batches, plain_batches),
        size,
        measured,
        sizes,
    )
    return result


def report(
    result: BenchmarkResult,
    log_single: list[float],
    plain_single: list[float],
    totals: tuple[float, float],
    batched: int,
    batches: tuple[list[float], list[float]],
    size: int,
    measured: dict[str, Any],
    sizes: dict[str, int],
) -> None:
    single_log, single_plain = Distribution.of(log_single), Distribution.of(plain_single)
    log_total, plain_total = totals
    batch_log, batch_plain = Distribution.of(batches[0]), Distribution.of(batches[1])
    single_log_rate = len(log_single) / sum(log_single)
    single_plain_rate = len(plain_single) / sum(plain_single)
    result.table(
        "Append rate (entries per second)",
        ["mode", "log", "plain INSERT", "log p50 ms", "log p99 ms", "plain p50 ms", "plain p99 ms"],
        [
            [
                f"single (n={len(log_single):,}; one transaction each)",
                round(single_log_rate),
                round(single_plain_rate),
                single_log.as_ms()["p50_ms"],
                single_log.as_ms()["p99_ms"],
                single_plain.as_ms()["p50_ms"],
                single_plain.as_ms()["p99_ms"],
            ],
            [
                f"batched (n={batched:,}; {len(batches[0])} batches, times per batch)",
                round(batched / log_total),
                round(batched / plain_total),
                batch_log.as_ms()["p50_ms"],
                batch_log.as_ms()["p99_ms"],
                batch_plain.as_ms()["p50_ms"],
                batch_plain.as_ms()["p99_ms"],
            ],
        ],
    )
    inclusion = Distribution.of(measured["inclusion"])
    consistency = Distribution.of(measured["consistency"])
    entry = Distribution.of(measured["entry"])
    inclusion_reads = sorted(measured["inclusion_reads"])
    consistency_reads = sorted(measured["consistency_reads"])
    result.table(
        f"Proofs at {size:,} entries (verified against the root)",
        ["operation", "n", "p50 ms", "p99 ms", "hash reads p50", "hash reads max"],
        [
            [
                "inclusion proof",
                inclusion.count,
                inclusion.as_ms()["p50_ms"],
                inclusion.as_ms()["p99_ms"],
                inclusion_reads[len(inclusion_reads) // 2],
                inclusion_reads[-1],
            ],
            [
                "consistency proof",
                consistency.count,
                consistency.as_ms()["p50_ms"],
                consistency.as_ms()["p99_ms"],
                consistency_reads[len(consistency_reads) // 2],
                consistency_reads[-1],
            ],
            [
                "baseline: read one entry by index",
                entry.count,
                entry.as_ms()["p50_ms"],
                entry.as_ms()["p99_ms"],
                0,
                0,
            ],
        ],
    )
    result.table(
        "Storage after the run",
        ["table", "rows", "MiB"],
        [
            ["audit_entries", size, round(sizes["audit_entries"] / 2**20, 1)],
            [
                "audit_nodes (every perfect subtree)",
                sum(size >> level for level in range(size.bit_length())),
                round(sizes["audit_nodes"] / 2**20, 1),
            ],
            ["baseline bench_plain_entries", size, round(sizes["bench_plain_entries"] / 2**20, 1)],
        ],
    )
    result.ratio(
        "single append, time per entry",
        sum(log_single) / len(log_single),
        sum(plain_single) / len(plain_single),
        "plain INSERT, one transaction each",
        "s/entry",
    )
    result.ratio(
        "batched append, time per entry",
        log_total / batched,
        plain_total / batched,
        "plain multi-row INSERT per batch",
        "s/entry",
    )
    result.ratio("inclusion proof p50", inclusion.p50, entry.p50, "one entry read p50", "s")
    result.ratio("inclusion proof p99", inclusion.p99, entry.p99, "one entry read p99", "s")
    result.ratio("consistency proof p50", consistency.p50, entry.p50, "one entry read p50", "s")
    result.ratio("consistency proof p99", consistency.p99, entry.p99, "one entry read p99", "s")
    bound = 2 * (size - 1).bit_length() + 1
    result.note(
        f"Hash reads per proof stay logarithmic: at most {max(inclusion_reads)} "
        f"(inclusion) and {max(consistency_reads)} (consistency) at {size:,} entries, "
        f"against a bound of 2·⌈log2 n⌉+1 = {bound}; each is one primary-key lookup."
    )
    result.figures = {
        "size": size,
        "single_append": {
            "log": single_log.as_ms(),
            "plain": single_plain.as_ms(),
            "log_rate_per_s": round(single_log_rate, 1),
            "plain_rate_per_s": round(single_plain_rate, 1),
        },
        "batched_append": {
            "entries": batched,
            "batches": len(batches[0]),
            "log_seconds": round(log_total, 2),
            "plain_seconds": round(plain_total, 2),
            "log_rate_per_s": round(batched / log_total, 1),
            "plain_rate_per_s": round(batched / plain_total, 1),
            "log_batch": batch_log.as_ms(),
            "plain_batch": batch_plain.as_ms(),
        },
        "inclusion_proof": {**inclusion.as_ms(), "hash_reads_max": max(inclusion_reads)},
        "consistency_proof": {**consistency.as_ms(), "hash_reads_max": max(consistency_reads)},
        "entry_read": entry.as_ms(),
        "table_bytes": sizes,
    }


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m bench.audit_log",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument(
        "--entries", type=int, default=1_000_000, help="size of the log the proofs are measured at"
    )
    parse.add_argument("--batch", type=int, default=5_000, help="entries per append_many")
    parse.add_argument(
        "--single",
        type=int,
        default=3_000,
        help="entries appended one transaction each (the first of the log)",
    )
    parse.add_argument(
        "--proofs", type=int, default=1_000, help="inclusion and consistency proofs each"
    )
    parse.add_argument("--seed", type=int, default=8)
    return parse


def main(argv: list[str]) -> BenchmarkResult:
    return record(run(parser().parse_args(argv), argv))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
