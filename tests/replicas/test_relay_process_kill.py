"""Issue 19, item 3 with real processes: two `accord-referral relay` processes on one
PostgreSQL store; referrals keep coming while the publishing one is SIGKILLed. The other
process takes the lock over and every referral event reaches Kafka, in the outbox's order for
each case (a repeat of the last batch is allowed: same CloudEvent id, consumers dedupe)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg
import pytest
from accord_kernel.bus import OutboxRelay
from accord_kernel.contracts import DEAD_LETTER_TOPIC
from accord_kernel.envelope import MalformedMessage, decode
from accord_platform.harness import InProcessPlatform, eventually
from accord_referral.examples import referral
from aiokafka import AIOKafkaConsumer

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
REFERRALS = 16


def _lock_holder(conninfo: str) -> int | None:
    """The backend pid holding the referral relay's lock in this database, if any."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        row = connection.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() "
            "AND a.application_name = 'accord-relay:referral'"
        ).fetchone()
    return int(row[0]) if row else None


async def test_killing_the_publishing_process_hands_over(
    infrastructure: Any, tmp_path: Path
) -> None:
    database = "relaykill_" + uuid.uuid4().hex[:8]
    pg = infrastructure.postgres
    pg.create_database(database)
    conninfo = pg.conninfo(database)
    platform = InProcessPlatform(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        opa_url=infrastructure.opa_url,
        database_url=pg.url(database),
        work_dir=tmp_path,
        services=("referral",),
    )
    api = platform.make("referral")  # the API only: the relays are the two processes below
    env = {
        **os.environ,
        "ACCORD_DATA_DIR": str(tmp_path),
        "ACCORD_DATABASE_URL": pg.url(database),
        "ACCORD_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
        "ACCORD_OPA_URL": infrastructure.opa_url,
        "ACCORD_JWKS_PATH": str(platform.settings["referral"].jwks_file),
    }
    relays: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"relay-{n}.log" for n in range(2)]
    try:
        for log in logs:
            with log.open("ab") as out:
                relays.append(
                    subprocess.Popen(
                        [str(BIN / "accord-referral"), "relay"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )

        def leader() -> list[int] | None:
            leading = [n for n, log in enumerate(logs) if " leads " in log.read_text()]
            return leading if len(leading) == 1 and _lock_holder(conninfo) else None

        async def one_leads() -> list[int] | None:
            return await asyncio.to_thread(leader)

        [first] = await eventually(one_leads, timeout=120, interval=0.1)
        police = platform.token("police", "officer")
        case_ids = []
        killed_at = 0.0
        old_holder = await asyncio.to_thread(_lock_holder, conninfo)
        for n in range(REFERRALS):
            r = await api.client.post("/referrals", json=referral(), headers=police)
            assert r.status_code == 201, r.text
            case_ids.append(r.json()["case_id"])
            if n == REFERRALS // 2:
                relays[first].send_signal(signal.SIGKILL)
                relays[first].wait()
                killed_at = time.monotonic()

        async def taken_over() -> int | None:
            holder = await asyncio.to_thread(_lock_holder, conninfo)
            return holder if holder not in (None, old_holder) else None

        await eventually(taken_over, timeout=60, interval=0.02)
        takeover = time.monotonic() - killed_at
        print(f"\nrelay takeover after SIGKILL of the publishing process: {takeover:.2f} s")
        assert " leads " in logs[1 - first].read_text()

        # Every referral event, in outbox order per case, on Kafka.
        relay = OutboxRelay(api.runtime.app, infrastructure.kafka_bootstrap)
        expected: list[Any] = []
        position = 0
        while batch := relay.pending(position):
            expected.extend(
                e for _, events in batch for e in events if e.topic != DEAD_LETTER_TOPIC
            )
            position = batch[-1][0]
        assert {e.case_id for e in expected} >= set(case_ids)
        wanted = {e.id for e in expected}
        topics = sorted({e.topic for e in expected})
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=infrastructure.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        seen: list[tuple[str, str]] = []
        try:
            deadline = time.monotonic() + 90
            while not wanted <= {i for i, _ in seen}:
                assert time.monotonic() < deadline, "not every event reached Kafka"
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        try:
                            event_id = decode(record.topic, record.key, record.value).id
                        except MalformedMessage:  # another test's deliberate garbage
                            continue
                        if event_id in wanted:
                            seen.append((event_id, record.topic))
        finally:
            await consumer.stop()
        first_seen: dict[tuple[str, str], list[str]] = defaultdict(list)
        noted = set()
        by_id = {e.id: e for e in expected}
        for event_id, topic in seen:
            if event_id not in noted:
                noted.add(event_id)
                first_seen[(topic, by_id[event_id].case_id)].append(event_id)
        in_outbox: dict[tuple[str, str], list[str]] = defaultdict(list)
        for e in expected:
            in_outbox[(e.topic, e.case_id)].append(e.id)
        assert first_seen == in_outbox
        print(f"events: {len(expected)}; repeats on Kafka: {len(seen) - len(noted)}")
    finally:
        for process in relays:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        await api.client.aclose()
        api.runtime.app.close()
