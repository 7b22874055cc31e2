"""The CloudEvents Kafka protocol binding on real Kafka (issue 20, item 4), in both directions
and both content modes. The expected bytes come from the binding's specification
(cloudevents/spec, kafka-protocol-binding.md), not from our encoder: in structured mode the
value is the event as JSON with `content-type: application/cloudevents+json`; in binary mode
each attribute is a `ce_<name>` header, `datacontenttype` is `content-type`, and the value is
the data. The key is the case id in both. Publishers use ACCORD_CLOUDEVENTS_MODE; consumers
accept either."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from accord_kernel.bus import InboxConsumer, OutboxRelay, ensure_topics
from accord_kernel.contracts import REFERRAL_TOPIC, Contract
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.envelope import CONTENT_MODES, ContentMode, IntegrationEvent, decode, encode
from accord_kernel.settings import ServiceSettings
from accord_kernel.testing import event_of, submitted
from accord_platform.harness import eventually
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient

from tests.api.services_under_test import service_module
from tests.interop_api.bus_reader import read_all

pytestmark = pytest.mark.integration
SUBMITTED = "accord.referral.submitted.v1"


def an_event() -> IntegrationEvent:
    case_id = str(uuid.uuid4())
    event = event_of(submitted(case_id))
    return IntegrationEvent(
        type=event.type,
        topic=event.topic,
        case_id=case_id,
        data=event.data,
        id=str(uuid.uuid4()),
        source="/accord/interop-test",
        time=datetime(2026, 12, 8, 1, 2, 3, tzinfo=UTC),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )


def by_the_binding(event: IntegrationEvent, mode: ContentMode) -> tuple[dict[str, bytes], bytes]:
    """(headers, value) of `event` written by hand from the binding's specification."""
    attributes = {
        "specversion": "1.0",
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.case_id,
        "time": "2026-12-08T01:02:03Z",
        "traceparent": event.traceparent or "",
    }
    if mode == "structured":
        document = {**attributes, "datacontenttype": "application/json", "data": event.data}
        return {"content-type": b"application/cloudevents+json"}, json.dumps(document).encode()
    headers = {f"ce_{name}": value.encode() for name, value in attributes.items()}
    return {**headers, "content-type": b"application/json"}, json.dumps(event.data).encode()


async def produce(bootstrap: str, topic: str, key: bytes, value: bytes, headers: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, headers=list(headers.items()))
    finally:
        await producer.stop()


async def fresh_topic(bootstrap: str) -> str:
    topic = f"accord.interop-test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic])
    return topic


@pytest.mark.parametrize("mode", CONTENT_MODES)
async def test_what_we_publish_is_the_binding_on_the_wire(
    mode: ContentMode, infrastructure: Any
) -> None:
    bootstrap = infrastructure.kafka_bootstrap
    topic = await fresh_topic(bootstrap)
    event = an_event()
    message = encode(event, mode)
    await produce(bootstrap, topic, bytes(message.key or b""), message.value, message.headers)
    [record] = await read_all(bootstrap, [topic])
    headers = dict(record.headers)
    assert record.key == event.case_id.encode()
    if mode == "structured":
        assert headers["content-type"] == b"application/cloudevents+json"
        assert not [h for h in headers if h.startswith("ce_")]
        document = json.loads(record.value)
        assert document["specversion"] == "1.0"
        assert (document["id"], document["source"], document["type"], document["subject"]) == (
            event.id,
            event.source,
            event.type,
            event.case_id,
        )
        assert datetime.fromisoformat(document["time"]) == event.time
        assert document["datacontenttype"] == "application/json"
        assert document["traceparent"] == event.traceparent
        assert document["data"] == event.data
    else:
        assert headers["content-type"] == b"application/json"
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_id"] == event.id.encode()
        assert headers["ce_source"] == event.source.encode()
        assert headers["ce_type"] == event.type.encode()
        assert headers["ce_subject"] == event.case_id.encode()
        assert datetime.fromisoformat(headers["ce_time"].decode()) == event.time
        assert headers["ce_traceparent"] == (event.traceparent or "").encode()
        assert json.loads(record.value) == event.data
    # and it reads back as the same event
    back = decode(record.topic, record.key, record.value, record.headers)
    assert (back.id, back.type, back.source, back.case_id, back.data, back.time) == (
        event.id,
        event.type,
        event.source,
        event.case_id,
        event.data,
        event.time,
    )
    assert back.traceparent == event.traceparent


class Recorded:
    """An inbox that records what it is given (the consumer under test is the real one)."""

    def __init__(self) -> None:
        self.events: list[tuple[IntegrationEvent, Contract]] = []

    def process(self, event: IntegrationEvent, contract: Contract) -> None:
        self.events.append((event, contract))


async def test_consumers_accept_both_content_modes(infrastructure: Any) -> None:
    """Messages written by hand per the binding (another producer's, not our encoder's), one
    in each mode, on one topic: the inbox consumer applies both; a message that is neither
    goes to the dead-letter topic with its headers kept."""
    bootstrap = infrastructure.kafka_bootstrap
    topic = await fresh_topic(bootstrap)
    sent = {mode: an_event() for mode in CONTENT_MODES}
    for mode, event in sent.items():
        headers, value = by_the_binding(event, mode)
        await produce(bootstrap, topic, event.case_id.encode(), value, headers)
    inbox = Recorded()
    consumer = InboxConsumer(inbox, bootstrap, f"interop-{uuid.uuid4().hex[:8]}", [topic])
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(lambda: _count(inbox, 2), timeout=60)
    finally:
        stop.set()
        await running
    got = {event.id: (event, contract) for event, contract in inbox.events}
    for event in sent.values():
        received, contract = got[event.id]
        assert (received.type, received.case_id, received.source) == (
            event.type,
            event.case_id,
            event.source,
        )
        assert received.data == event.data
        assert contract.case_id == event.case_id
    assert consumer.dead_lettered == 0


async def _count(inbox: Recorded, n: int) -> bool:
    return len(inbox.events) >= n


@pytest.mark.parametrize("mode", CONTENT_MODES)
async def test_a_service_publishes_in_the_configured_mode(
    mode: ContentMode, infrastructure: Any, opa_url: str, tmp_path: Path
) -> None:
    """ACCORD_CLOUDEVENTS_MODE (the setting) chooses the mode of a service's outbox relay: a
    referral submitted over HTTP reaches Kafka in that mode and decodes to its contract."""
    _, jwks = ensure_dev_keys(tmp_path / "keys")
    settings = ServiceSettings.for_service(
        "referral",
        0,
        persistence="memory",
        opa_url=opa_url,
        jwks_path=jwks,
        data_dir=tmp_path / "referral",
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        cloudevents_mode=mode,
    )
    module = service_module("referral")
    runtime = module.make_runtime(settings)
    from accord_referral.examples import referral

    client = TestClient(module.make_api(runtime, False))
    token = mint(tmp_path / "keys", agency="police", role="officer")
    response = client.post(
        "/referrals", json=referral(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    relay = runtime.relay()
    assert isinstance(relay, OutboxRelay) and relay.mode == mode
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:

        async def published() -> list[Any]:
            records = await read_all(infrastructure.kafka_bootstrap, [REFERRAL_TOPIC])
            return [
                r
                for r in records
                if r.key == case_id.encode()
                and decode(r.topic, r.key, r.value, r.headers).type == SUBMITTED
            ]

        [record] = await eventually(published, timeout=60)
    finally:
        stop.set()
        await running
    headers = dict(record.headers)
    if mode == "binary":
        assert headers["ce_type"] == SUBMITTED.encode()
        assert headers["ce_subject"] == case_id.encode()
        assert json.loads(record.value)["case_id"] == case_id
    else:
        assert headers["content-type"] == b"application/cloudevents+json"
        assert json.loads(record.value)["type"] == SUBMITTED
    event = decode(record.topic, record.key, record.value, record.headers)
    assert event.type == SUBMITTED
    assert event.data["case_id"] == case_id


async def test_a_dead_lettered_binary_event_keeps_its_attributes(infrastructure: Any) -> None:
    """In binary mode the attributes are headers: a message the consumer cannot apply reaches
    the dead-letter topic with them, beside the reason, so it can be replayed."""
    bootstrap = infrastructure.kafka_bootstrap
    topic = await fresh_topic(bootstrap)
    event = an_event()
    headers, _ = by_the_binding(event, "binary")
    # a payload that violates the contract (no jurisdiction, no organisations...)
    await produce(bootstrap, topic, event.case_id.encode(), b'{"case_id": "x"}', headers)
    consumer = InboxConsumer(Recorded(), bootstrap, f"interop-{uuid.uuid4().hex[:8]}", [topic])
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    try:

        async def dead_lettered() -> list[Any]:
            records = await read_all(bootstrap, ["accord.deadletter"])
            return [r for r in records if dict(r.headers).get("ce_id") == event.id.encode()]

        [record] = await eventually(dead_lettered, timeout=60)
    finally:
        stop.set()
        await running
    kept = dict(record.headers)
    assert kept["ce_type"] == event.type.encode()
    assert kept["ce_subject"] == event.case_id.encode()
    assert kept["accord-dlq-reason"].startswith(b"payload violates contract")
    assert kept["accord-dlq-topic"] == topic.encode()
