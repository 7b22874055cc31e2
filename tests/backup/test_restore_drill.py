"""Issue 19, item 6: the restore drill, on real Kafka, OPA and PostgreSQL, every service as its
own process (`accord-<service> all`).

A journey runs halfway; a privacy officer saves the audit log's signed checkpoint; `accord
backup` archives every store and the audit log; the PostgreSQL cluster is destroyed (killed,
its data directory deleted); `accord restore` fills a NEW cluster (new data directory, new
port) and rewinds the consumer groups to the backup; the services start against it and the
journey finishes. Then the audit log verifies against the checkpoint saved before the backup
(consistency proof), and no consumer applied anything twice: the victim is told of each
completed agreement item once, and the case is in the RJ provider's intake once."""

from __future__ import annotations

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
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from accord_kernel.bus import ALL_TOPICS, PARTITIONS, ensure_topics
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_platform.backup import committed_offsets, rewind_consumer_groups
from accord_platform.harness import eventually
from accord_platform.infra import PostgresCluster, free_port, provisioned
from accord_platform.services import SERVICES, ServiceSpec
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.journey import Journey

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
DATABASE = "accord"


class ProcessPlatform:
    """The five services as processes, on one PostgreSQL cluster; what `Journey` needs of a
    platform (a client per service, tokens)."""

    def __init__(self, infrastructure: Any, work: Path) -> None:
        self.infrastructure = infrastructure
        self.work = work
        self.specs = [replace(s, port=free_port()) for s in SERVICES]
        self.key_dir = work / "dev-keys"
        _, self.jwks = ensure_dev_keys(self.key_dir)
        self.run_id = uuid.uuid4().hex[:8]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.clients = {s.name: httpx.AsyncClient(base_url=s.url, timeout=30) for s in self.specs}

    def group(self, spec: ServiceSpec) -> str:
        return f"{spec.name}-{self.run_id}"

    @property
    def groups(self) -> list[str]:
        return [self.group(s) for s in self.specs]

    def start(self, database_url: str) -> float:
        began = time.monotonic()
        for spec in self.specs:
            env = {
                **os.environ,
                "ACCORD_PORT": str(spec.port),
                "ACCORD_DATA_DIR": str(self.work),
                "ACCORD_DATABASE_URL": database_url,
                "ACCORD_KAFKA_BOOTSTRAP": self.infrastructure.kafka_bootstrap,
                "ACCORD_OPA_URL": self.infrastructure.opa_url,
                "ACCORD_JWKS_PATH": str(self.jwks),
                "ACCORD_CONSUMER_GROUP": self.group(spec),
            }
            with (self.work / f"{spec.name}.log").open("ab") as log:
                self.processes[spec.name] = subprocess.Popen(
                    [str(BIN / spec.command), "all"], env=env, stdout=log, stderr=subprocess.STDOUT
                )
        with httpx.Client(timeout=2) as client:
            for spec in self.specs:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if client.get(spec.url + "/health/ready").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, f"{spec.name} did not become ready"
                    assert self.processes[spec.name].poll() is None, f"{spec.name} exited"
                    time.sleep(0.3)
        return time.monotonic() - began

    def stop(self) -> None:
        """SIGTERM: the consumers leave their groups, so the groups can be rewound."""
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def client(self, name: str) -> httpx.AsyncClient:
        return self.clients[name]

    def url(self, name: str) -> str:
        return next(s.url for s in self.specs if s.name == name)

    def token(
        self,
        agency: str,
        role: str,
        user: str | None = None,
        org: str | None = None,
        ttl: int = 3600,
    ) -> dict[str, str]:
        return {
            "Authorization": "Bearer "
            + mint(self.key_dir, agency=agency, role=role, user=user, org=org, ttl_seconds=ttl)
        }


async def _end_offsets(bootstrap: str) -> list[tuple[str, int, int]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await ensure_topics(bootstrap)
        partitions = [TopicPartition(t, p) for t in ALL_TOPICS for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
        return sorted((tp.topic, tp.partition, offset) for tp, offset in ends.items())
    finally:
        await consumer.stop()


def _total(offsets: dict[str, list[tuple[str, int, int]]]) -> int:
    return sum(o for committed in offsets.values() for _, _, o in committed)


def _cluster(base: Path, name: str) -> PostgresCluster:
    cluster = PostgresCluster(Path(provisioned()["ACCORD_PG_BIN"]), base / name, port=free_port())
    cluster.start()
    cluster.wait_ready(120)
    return cluster


def _accord(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "accord"), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def drill(infrastructure: Any) -> Iterator[dict[str, Any]]:
    # Reachable by the postgres user, as the session's own cluster (see accord_platform.testing).
    base = Path(tempfile.mkdtemp(prefix="accord-test-drill-"))
    base.chmod(0o711)
    clusters: list[PostgresCluster] = []
    platform = ProcessPlatform(infrastructure, base / "services")
    try:
        yield {"base": base, "clusters": clusters, "platform": platform}
    finally:
        platform.stop()
        for cluster in clusters:
            cluster.kill()
        shutil.rmtree(base, ignore_errors=True)


async def test_restore_into_a_new_cluster_resumes_the_journey(
    drill: dict[str, Any], infrastructure: Any
) -> None:
    base: Path = drill["base"]
    platform: ProcessPlatform = drill["platform"]
    numbers: dict[str, Any] = {}

    # Where every topic ends before the drill: replaying from here offers each consumer every
    # event of this drill again (checked below: the tracking records make it a no-op).
    before = await _end_offsets(infrastructure.kafka_bootstrap)
    old = _cluster(base, "pg-old")
    drill["clusters"].append(old)
    old.create_database(DATABASE)
    platform.start(old.url(DATABASE))

    # The first half of the journey.
    j = Journey(platform)  # type: ignore[arg-type]
    await j.refer()
    await j.victim_consents()
    await j.accept_and_prepare()

    told_before = Counter(n["kind"] for n in await j.notifications())

    # A privacy officer keeps the log's signed checkpoint, before the backup.
    auditor = platform.token("audit", "privacy_officer")
    audit = platform.client("audit")
    vkey = (await audit.get("/verifier-key", headers=auditor)).text.strip()
    checkpoint = await audit.get("/checkpoint", headers=auditor)
    assert checkpoint.status_code == 200, checkpoint.text
    saved = base / "checkpoint-before-backup.txt"
    saved.write_text(checkpoint.text)
    numbers["tree size at saved checkpoint"] = int(checkpoint.text.splitlines()[1])

    archive = base / "archive"
    began = time.monotonic()
    _accord(
        "backup",
        str(archive),
        "--database-url",
        old.url(DATABASE),
        "--kafka-bootstrap",
        infrastructure.kafka_bootstrap,
        *(arg for g in platform.groups for arg in ("--consumer-group", g)),
    )
    numbers["backup seconds"] = round(time.monotonic() - began, 2)
    manifest = json.loads((archive / "manifest.json").read_text())
    assert {i["service"] for i in manifest["items"]} == {
        *(s.name for s in SERVICES),
        "audit-log",
    }
    assert manifest["audit_tree_size"] >= numbers["tree size at saved checkpoint"]
    numbers["tree size at backup"] = manifest["audit_tree_size"]
    numbers["archive bytes"] = sum(i["bytes"] for i in manifest["items"])

    # The disaster: the services stop, the cluster is killed and its data deleted.
    platform.stop()
    at_loss = await committed_offsets(infrastructure.kafka_bootstrap, platform.groups)
    old.kill()
    shutil.rmtree(old.data_dir)
    drill["clusters"].remove(old)

    new = _cluster(base, "pg-new")
    drill["clusters"].append(new)
    assert new.port != old.port
    began = time.monotonic()
    _accord(
        "restore",
        str(archive),
        "--database-url",
        new.url(DATABASE),
        "--kafka-bootstrap",
        infrastructure.kafka_bootstrap,
    )
    numbers["restore seconds"] = round(time.monotonic() - began, 2)
    rewound = await committed_offsets(infrastructure.kafka_bootstrap, platform.groups)
    numbers["messages the restore offered again"] = _total(at_loss) - _total(rewound)
    # The worst case on top: every consumer is offered every event of the drill again (as if
    # the backup had recorded no offsets).
    await rewind_consumer_groups(
        infrastructure.kafka_bootstrap, {g: before for g in platform.groups}
    )
    start = {(t, p): o for t, p, o in before}
    numbers["messages replayed on purpose"] = sum(
        o - start[(t, p)] for committed in at_loss.values() for t, p, o in committed
    )
    numbers["services start seconds"] = round(platform.start(new.url(DATABASE)), 2)

    # The second half of the journey, on the restored stores.
    await j.conference_and_agreement(share_with_court=True)
    await j.report("item-1", "completed")
    await j.report("item-2", "completed")

    async def told() -> list[str] | None:
        kinds = [n["kind"] for n in await j.notifications()]
        return kinds if kinds.count("item_completed") >= 2 else None

    await eventually(told, timeout=120)

    async def court_sees() -> dict[str, Any] | None:
        view = await j.court_view()
        return view if view and len(view.get("items_status", [])) == 3 else None

    await eventually(court_sees, timeout=120)
    coordinator = platform.token("rj_provider", "coordinator")
    intake = await platform.client("conference").get(
        "/intake", params={"limit": 500}, headers=coordinator
    )
    assert [row["case_id"] for row in intake.json()].count(j.case_id) == 1
    kinds = Counter(n["kind"] for n in await j.notifications())
    assert kinds["item_completed"] == 2, kinds
    assert all(kinds[kind] == count for kind, count in told_before.items()), kinds

    # The restored log, grown since, is consistent with the checkpoint from before the backup.
    verify = await asyncio.to_thread(
        subprocess.run,
        [
            str(BIN / "accord-audit-verify"),
            "--db-url",
            new.url(DATABASE),
            "--public-key",
            vkey,
            "--checkpoint",
            str(saved),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr

    async def grown() -> int | None:
        latest = await audit.get("/checkpoint", headers=auditor)
        size = int(latest.text.splitlines()[1])
        return size if size > numbers["tree size at backup"] else None

    numbers["tree size at the end"] = await eventually(grown, timeout=60)
    print("\nrestore drill: " + json.dumps(numbers))
