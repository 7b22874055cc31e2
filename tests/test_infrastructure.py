"""The real servers every integration test stands on: Kafka, OPA and PostgreSQL answer, keep
what they were given across a restart and a crash, and listen on 127.0.0.1 only.

Restarts and crashes use servers of their own, so that they never disturb the session's servers
under another test's long-lived clients."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest
from accord_platform.infra import (
    Infrastructure,
    KafkaNode,
    PostgresCluster,
    free_port,
    provisioned,
)
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, RecordMetadata
from opa_client.opa import OpaClient

pytestmark = pytest.mark.integration

# A bound on waiting for delivery, never a performance assertion.
DELIVERY_BOUND_SECONDS = 30.0

PROBE_POLICY = """
package accord_infra_probe

default allow := false

allow if input.agency == "police"
"""


async def produce(bootstrap: str, topic: str, key: str, value: dict[str, str]) -> RecordMetadata:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        return await producer.send_and_wait(
            topic, key=key.encode(), value=json.dumps(value).encode()
        )
    finally:
        await producer.stop()


async def consume_all(bootstrap: str, topic: str, expected: int) -> list[ConsumerRecord]:
    """Reads `topic` from the beginning until `expected` records have arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"infra-probe-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(DELIVERY_BOUND_SECONDS):
            while len(records) < expected:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


def timed(infrastructure: Infrastructure, name: str, started: float) -> None:
    infrastructure.timings[name] = time.monotonic() - started


async def test_kafka_round_trip_with_an_idempotent_producer(infrastructure: Infrastructure) -> None:
    topic = f"accord.infra-probe.{uuid.uuid4().hex}"
    case_id = str(uuid.uuid4())
    first = await produce(infrastructure.kafka_bootstrap, topic, case_id, {"n": "1"})
    second = await produce(infrastructure.kafka_bootstrap, topic, case_id, {"n": "2"})

    records = await consume_all(infrastructure.kafka_bootstrap, topic, expected=2)

    # One key, one partition, in order: what keeps a case's events in sequence.
    assert first.partition == second.partition
    assert second.offset == first.offset + 1
    assert [(r.key, json.loads(r.value)["n"]) for r in records] == [
        (case_id.encode(), "1"),
        (case_id.encode(), "2"),
    ]


def test_opa_serves_the_repository_policies_and_answers_queries(
    infrastructure: Infrastructure,
) -> None:
    client = OpaClient(host=infrastructure.opa_host, port=infrastructure.opa_port)
    # OPA names a policy loaded from disk by its path without the leading slash.
    root = str(infrastructure.opa.policy_dir).strip("/")
    assert any(
        p.strip("/").startswith(root) and p.endswith(".rego") for p in client.get_policies_list()
    )

    # A policy of the test's own, so this test does not depend on how the domain policies
    # evolve; uploaded over OPA's REST API, as an operator would.
    assert client.update_policy_from_string(PROBE_POLICY, "accord_infra_probe")
    try:
        police = client.query_rule({"agency": "police"}, "accord_infra_probe", "allow")
        court = client.query_rule({"agency": "court"}, "accord_infra_probe", "allow")
    finally:
        client.delete_policy("accord_infra_probe")

    assert police["result"] is True
    assert court["result"] is False
    decision_log = infrastructure.opa.decision_log
    deadline = time.monotonic() + DELIVERY_BOUND_SECONDS
    while court["decision_id"] not in decision_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert court["decision_id"] in decision_log.read_text()


def test_postgres_creates_a_role_and_a_database_that_it_can_use(
    infrastructure: Infrastructure,
) -> None:
    postgres = infrastructure.postgres
    role = f"probe_{uuid.uuid4().hex[:8]}"
    password = "p@ss w:rd/'quoted'"
    database = f"{role}_db"
    postgres.create_role(role, password)
    postgres.create_database(database, owner=role)
    postgres.create_database(database, owner=role)  # a second call finds it and leaves it

    with psycopg.connect(postgres.conninfo(database, role)) as connection:
        connection.execute("CREATE TABLE referral_probe (id uuid PRIMARY KEY, note text)")
        case_id = uuid.uuid4()
        connection.execute("INSERT INTO referral_probe VALUES (%s, %s)", (case_id, "kept"))
        row = connection.execute(
            "SELECT note, current_user, current_database(), host(inet_server_addr()) "
            "FROM referral_probe WHERE id = %s",
            (case_id,),
        ).fetchone()
    assert row == ("kept", role, database, "127.0.0.1")

    url = urlsplit(postgres.url(database, role))
    assert url.scheme == "postgresql+psycopg"
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", postgres.port, f"/{database}")
    assert (unquote(url.username or ""), unquote(url.password or "")) == (role, password)


def test_every_server_listens_on_loopback_only(infrastructure: Infrastructure) -> None:
    ports = {
        infrastructure.kafka.port,
        infrastructure.kafka.controller_port,
        infrastructure.opa_port,
        infrastructure.postgres.port,
    }
    listening = _listening_addresses()
    for port in ports:
        assert listening.get(port), f"nothing listens on port {port}"
        assert listening[port] <= {"127.0.0.1"}, (port, listening[port])


def _listening_addresses() -> dict[int, set[str]]:
    """Local address of every listening TCP socket, from /proc (IPv4-mapped IPv6 as IPv4)."""
    found: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            # /proc prints each 32-bit word in host (little-endian) order.
            words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
            octets = b"".join(words)
            if len(octets) == 16 and octets[:12] == b"\0" * 10 + b"\xff\xff":
                octets = octets[12:]
            text = ".".join(map(str, octets)) if len(octets) == 4 else octets.hex()
            found.setdefault(int(port, 16), set()).add(text)
    return found


@pytest.fixture(scope="module")
def own_servers(infrastructure: Infrastructure) -> Iterator[tuple[KafkaNode, PostgresCluster]]:
    """A Kafka node and a PostgreSQL cluster for this module alone, to stop and crash."""
    paths = provisioned()
    base = Path(tempfile.mkdtemp(prefix="accord-test-restart-"))
    base.chmod(0o711)
    kafka = KafkaNode(
        Path(paths["ACCORD_KAFKA_HOME"]),
        base / "kafka",
        port=free_port(),
        controller_port=free_port(),
    )
    postgres = PostgresCluster(Path(paths["ACCORD_PG_BIN"]), base / "postgres", port=free_port())
    try:
        started = time.monotonic()
        kafka.start()
        postgres.start()
        kafka.wait_ready(120)
        postgres.wait_ready(60)
        timed(infrastructure, "kafka + postgres start (own, serial)", started)
        yield kafka, postgres
    finally:
        kafka.stop()
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)


async def test_kafka_keeps_produced_messages_across_a_restart_and_a_crash(
    own_servers: tuple[KafkaNode, PostgresCluster], infrastructure: Infrastructure
) -> None:
    kafka, _ = own_servers
    topic = f"accord.infra-restart.{uuid.uuid4().hex}"
    await produce(kafka.bootstrap, topic, "case-1", {"n": "before stop"})

    started = time.monotonic()
    kafka.stop()
    timed(infrastructure, "kafka stop (controlled shutdown)", started)
    assert not kafka.running
    started = time.monotonic()
    kafka.start()
    kafka.wait_ready(120)
    timed(infrastructure, "kafka start on existing data", started)
    await produce(kafka.bootstrap, topic, "case-1", {"n": "before kill"})

    kafka.kill()
    started = time.monotonic()
    kafka.start()
    kafka.wait_ready(120)
    timed(infrastructure, "kafka start after SIGKILL", started)

    records = await consume_all(kafka.bootstrap, topic, expected=2)
    assert [json.loads(r.value)["n"] for r in records] == ["before stop", "before kill"]


def test_postgres_keeps_committed_data_across_a_restart_and_a_crash(
    own_servers: tuple[KafkaNode, PostgresCluster], infrastructure: Infrastructure
) -> None:
    _, postgres = own_servers
    postgres.create_database("accord_restart")
    with postgres.connect("accord_restart") as connection:
        connection.execute("CREATE TABLE outbox_probe (n int PRIMARY KEY)")
        connection.execute("INSERT INTO outbox_probe VALUES (1)")

    started = time.monotonic()
    postgres.restart()
    timed(infrastructure, "postgres restart (fast shutdown)", started)
    with postgres.connect("accord_restart") as connection:
        connection.execute("INSERT INTO outbox_probe VALUES (2)")

    postgres.kill()
    assert not postgres.running
    started = time.monotonic()
    postgres.start()
    postgres.wait_ready(60)
    timed(infrastructure, "postgres start after SIGKILL (recovery)", started)
    with postgres.connect("accord_restart") as connection:
        rows = connection.execute("SELECT n FROM outbox_probe ORDER BY n").fetchall()
    assert rows == [(1,), (2,)]
