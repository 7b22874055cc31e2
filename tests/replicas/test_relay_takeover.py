"""Issue 19, item 3 on real Kafka and PostgreSQL: two replicas of every service, each with
its own store connections, outbox relay and inbox consumer (one consumer group per service).

During a burst of journeys the publishing relay of every service loses its lock session
(`pg_terminate_backend`, as when its process or its connection dies); the other replica
takes over. Then every event each service stored reached the audit log exactly once and in
the order of the service's outbox for each case and topic, each referral is in the RJ
provider's intake once, and each reported agreement item told the victim once."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from accord_audit.log_store import AuditLogStore
from accord_kernel.bus import OutboxRelay
from accord_kernel.contracts import DEAD_LETTER_TOPIC
from accord_platform.harness import SERVICE_MODULES, InProcessPlatform, RunningService, eventually
from accord_referral.examples import dash, referral

from tests.journey import Journey

pytestmark = pytest.mark.integration
REPLICAS = 2
JOURNEYS = 3
REFERRALS = 12
REASSESSMENTS = 2


class ReplicatedPlatform(InProcessPlatform):
    """Every service twice on one store: the same settings (so the same schema and consumer
    group), separate applications, pools, relays and consumers. Requests alternate between
    the replicas, as behind a load balancer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.replicas: dict[str, list[RunningService]] = {}
        self._turns: dict[str, itertools.cycle[RunningService]] = {}

    async def start(self) -> ReplicatedPlatform:
        for name in self.settings:
            self.replicas[name] = [self.make(name) for _ in range(REPLICAS)]
            for replica in self.replicas[name]:
                replica.start_relay()
                replica.start_consumer()
            self.services[name] = self.replicas[name][0]
            self._turns[name] = itertools.cycle(self.replicas[name])
        return self

    async def close(self) -> None:
        for replicas in self.replicas.values():
            for replica in replicas:
                await replica.stop_relay()
                await replica.stop_consumer()
                await replica.client.aclose()
                replica.runtime.app.close()

    def client(self, name: str) -> httpx.AsyncClient:
        return next(self._turns[name]).client

    def leaders(self, name: str) -> list[RunningService]:
        return [r for r in self.replicas[name] if r.relay is not None and r.relay.leading]


@pytest.fixture
async def replicated(infrastructure: Any, tmp_path: Path) -> Any:
    database = "replicas_" + uuid.uuid4().hex[:8]
    infrastructure.postgres.create_database(database)
    running = ReplicatedPlatform(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        opa_url=infrastructure.opa_url,
        database_url=infrastructure.postgres.url(database),
        work_dir=tmp_path,
    )
    await running.start()
    try:
        yield running, infrastructure.postgres.conninfo(database)
    finally:
        await running.close()


async def _journey(platform: ReplicatedPlatform) -> Journey:
    j = Journey(platform)
    await j.refer()
    await j.victim_consents()
    await j.accept_and_prepare()
    await j.conference_and_agreement(share_with_court=True)
    await j.report("item-1", "completed")
    await j.report("item-2", "completed")
    return j


async def _referral_with_reassessments(platform: ReplicatedPlatform, police: Any) -> str:
    r = await platform.client("referral").post("/referrals", json=referral(), headers=police)
    assert r.status_code == 201, r.text
    case_id = str(r.json()["case_id"])
    for yes in range(4, 4 + REASSESSMENTS):
        r = await platform.client("referral").post(
            f"/referrals/{case_id}/risk-assessments", json=dash(yes=yes), headers=police
        )
        assert r.status_code == 204, r.text
    return case_id


async def _one_leader_each(platform: ReplicatedPlatform) -> dict[str, RunningService]:
    async def settled() -> dict[str, RunningService] | None:
        leaders = {name: platform.leaders(name) for name in platform.replicas}
        if all(len(found) == 1 for found in leaders.values()):
            return {name: found[0] for name, found in leaders.items()}
        return None

    found: dict[str, RunningService] = await eventually(settled, interval=0.02)
    return found


async def _kill_leaders(platform: ReplicatedPlatform, conninfo: str) -> dict[str, float]:
    """Ends each leader's lock session from the server side, and measures how long until the
    other replica holds the lock."""
    leaders = await _one_leader_each(platform)
    killed: dict[str, float] = {}
    sessions: dict[str, int] = {}
    with psycopg.connect(conninfo, autocommit=True) as admin:
        for name, leader in leaders.items():
            assert leader.relay is not None
            pid = getattr(leader.relay.leadership, "backend_pid", None)
            assert pid is not None, f"{name}'s leader holds no PostgreSQL lock session"
            row = admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
            assert row is not None and row[0]
            killed[name] = time.monotonic()
            sessions[name] = pid
    takeover: dict[str, float] = {}
    while len(takeover) < len(killed):
        for name in killed.keys() - takeover.keys():
            # Whichever replica is first to try takes the lock: the other one, or the one
            # whose session was cut, on a new session.
            successors = [
                r
                for r in platform.leaders(name)
                if r.relay is not None
                and getattr(r.relay.leadership, "backend_pid", None) not in (None, sessions[name])
            ]
            if successors:
                takeover[name] = time.monotonic() - killed[name]
                if successors[0] is leaders[name]:
                    print(f"{name}: the same replica led again, on a new session")
        await asyncio.sleep(0.01)
        assert time.monotonic() - min(killed.values()) < 60, f"no takeover: {takeover}"
    return takeover


def _outbox(replica: RunningService) -> list[Any]:
    """Every integration event the service's store holds, in outbox order: what must reach
    the consumers."""
    relay = OutboxRelay(replica.runtime.app, "unused:9092")
    events: list[Any] = []
    position = 0
    while batch := relay.pending(position):
        for _, published in batch:
            events.extend(e for e in published if e.topic != DEAD_LETTER_TOPIC)
        position = batch[-1][0]
    return events


async def test_one_relay_publishes_and_another_takes_over(replicated: Any) -> None:
    platform, conninfo = replicated
    police = platform.token("police", "officer")
    await _one_leader_each(platform)
    # The replicas of a service share its partitions through one consumer group.
    for name, replicas in platform.replicas.items():
        groups = {r.consumer.group_id for r in replicas if r.consumer is not None}
        assert len(groups) == 1, (name, groups)

    burst = [
        asyncio.create_task(_referral_with_reassessments(platform, police))
        for _ in range(REFERRALS)
    ]
    journeys = [asyncio.create_task(_journey(platform)) for _ in range(JOURNEYS)]
    # The leaders lose their locks while the burst is under way.
    await asyncio.wait(burst, return_when=asyncio.FIRST_COMPLETED)
    takeover = await _kill_leaders(platform, conninfo)
    case_ids = await asyncio.gather(*burst)
    done = await asyncio.gather(*journeys)
    print("\nrelay takeover after its lock session was killed (s): " + str(takeover))

    # Exactly one relay per service leads again.
    await _one_leader_each(platform)

    # Each referral reached the RJ provider's intake once.
    coordinator = platform.token("rj_provider", "coordinator")

    async def intake() -> list[str] | None:
        r = await platform.client("conference").get(
            "/intake", params={"limit": 500}, headers=coordinator
        )
        listed = [row["case_id"] for row in r.json()]
        return listed if all(c in listed for c in case_ids) else None

    listed = await eventually(intake, timeout=90)
    assert all(listed.count(c) == 1 for c in [*case_ids, *(j.case_id for j in done)]), listed

    # Each completed item tells the victim (checked once more at the end: exactly once).
    async def victims_told() -> bool:
        for j in done:
            kinds = [n["kind"] for n in await j.notifications()]
            if kinds.count("item_completed") < 2:
                return False
        return True

    await eventually(victims_told, timeout=90)

    # Every event every service stored is in the audit log once, and for each service, topic
    # and case in the order of the service's outbox.
    expected = [e for name in SERVICE_MODULES for e in _outbox(platform.replicas[name][0])]
    where = {e.id: (e.source, e.topic, e.case_id) for e in expected}
    assert len(where) == len(expected), "an outbox holds an event id twice"
    audit_app = platform.replicas["audit"][0].runtime.app
    store: AuditLogStore = audit_app.store

    def logged() -> list[str]:
        return [entry.event_id for entry in store.iter_entries() if entry.event_id in where]

    async def all_logged() -> list[str] | None:
        ids = await asyncio.to_thread(logged)
        return ids if set(ids) == set(where) else None

    in_log = await eventually(all_logged, timeout=120)
    assert len(in_log) == len(set(in_log))
    order_logged: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    order_stored: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for event_id in in_log:
        order_logged[where[event_id]].append(event_id)
    for e in expected:
        order_stored[(e.source, e.topic, e.case_id)].append(e.id)
    assert order_logged == order_stored
    for j in done:
        kinds = [n["kind"] for n in await j.notifications()]
        assert kinds.count("item_completed") == 2, kinds
    print(
        f"events checked: {len(expected)} in {len(order_stored)} (service, topic, case) "
        f"streams; max takeover {max(takeover.values()):.2f} s"
    )
