"""Issue 9's fault injection on the real platform. Each test states what it checks:
no event lost, no duplicate effect, reads fail closed, recovery without a manual step.
The shared Kafka, OPA and PostgreSQL are stopped and started again inside the test."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from accord_kernel.contracts import DEAD_LETTER_TOPIC, REFERRAL_TOPIC, ReferralSubmitted
from accord_kernel.envelope import IntegrationEvent, encode
from accord_platform.harness import InProcessPlatform, eventually
from accord_referral.examples import referral
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

pytestmark = pytest.mark.integration


async def _submit(platform: InProcessPlatform) -> str:
    r = await platform.client("referral").post(
        "/referrals", json=referral(), headers=platform.token("police", "officer")
    )
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


async def _intake_ids(platform: InProcessPlatform) -> list[str]:
    r = await platform.client("conference").get(
        "/intake", params={"limit": 500}, headers=platform.token("rj_provider", "coordinator")
    )
    assert r.status_code == 200, r.text
    return [row["case_id"] for row in r.json()]


async def test_kafka_stopped_during_intake_loses_nothing(
    platform: InProcessPlatform, infrastructure: object
) -> None:
    """Checked: referrals accepted while Kafka is down are stored (the outbox), and all of
    them reach the RJ provider exactly once after Kafka returns, with no manual step."""
    kafka = infrastructure.kafka  # type: ignore[attr-defined]
    await asyncio.to_thread(kafka.stop)
    try:
        case_ids = [await _submit(platform) for _ in range(3)]
    finally:
        # launched from the main thread, so it still dies with the test session if that is
        # killed (the parent-death signal follows the thread that started it)
        kafka.start()
        await asyncio.to_thread(kafka.wait_ready, 120)

    async def all_arrived() -> bool:
        ids = await _intake_ids(platform)
        return all(c in ids for c in case_ids)

    await eventually(all_arrived, timeout=120)
    ids = await _intake_ids(platform)
    assert all(ids.count(c) == 1 for c in case_ids)


async def test_opa_down_reads_fail_closed_and_recover(
    platform: InProcessPlatform, infrastructure: object
) -> None:
    """Checked: with OPA stopped every read answers 503 with no case data; once OPA is back
    the same read succeeds without restarting any service."""
    case_id = await _submit(platform)
    opa = infrastructure.opa  # type: ignore[attr-defined]
    police = platform.token("police", "officer")
    await asyncio.to_thread(opa.stop)
    try:
        reads = [
            ("referral", f"/referrals/{case_id}"),
            ("referral", "/referrals"),
            ("victim-support", f"/cases/{case_id}/victim"),
            ("victim-support", f"/cases/{case_id}/safety-flags"),
            ("referral", f"/cases/{case_id}/safety-flags"),
        ]
        for service, path in reads:
            r = await platform.client(service).get(path, headers=police)
            assert r.status_code in (503, 404), (path, r.status_code, r.text)
            if r.status_code == 503:
                body = r.json()
                assert body["code"] == "policy_unavailable"
                # a problem document and nothing else: no case data
                assert set(body) <= {"type", "title", "status", "detail", "instance", "code"}
        # a new referral cannot be screened without policy: refused, nothing stored
        before = len(platform.services["referral"].runtime.app.referrals(limit=10_000))
        r = await platform.client("referral").post("/referrals", json=referral(), headers=police)
        assert r.status_code == 503
        after = len(platform.services["referral"].runtime.app.referrals(limit=10_000))
        assert after == before
    finally:
        opa.start()  # from the main thread, see above
        await asyncio.to_thread(opa.wait_ready, 30)
    r = await platform.client("referral").get(f"/referrals/{case_id}", headers=police)
    assert r.status_code == 200 and r.json()["case_id"] == case_id


async def test_postgres_restart_recovers_by_itself(
    platform: InProcessPlatform, infrastructure: object
) -> None:
    """Checked: after PostgreSQL restarts, writes and event delivery resume by themselves
    (connection pools reconnect; the relay and consumers retry)."""
    postgres = infrastructure.postgres  # type: ignore[attr-defined]
    postgres.restart()  # from the main thread, see above

    async def accepted_again() -> str | None:
        r = await platform.client("referral").post(
            "/referrals", json=referral(), headers=platform.token("police", "officer")
        )
        return str(r.json()["case_id"]) if r.status_code == 201 else None

    case_id = await eventually(accepted_again, timeout=60, interval=0.5)

    async def arrived() -> bool:
        return case_id in await _intake_ids(platform)

    await eventually(arrived, timeout=60)


async def test_duplicate_and_out_of_order_deliveries_have_one_effect(
    platform: InProcessPlatform, infrastructure: object
) -> None:
    """Checked: the same CloudEvent delivered twice, and a later event delivered before an
    earlier one, leave the RJ provider's intake with one entry in the final state."""
    case_id = await _submit(platform)

    async def screened() -> bool:
        app = platform.services["conference"].runtime.app
        try:
            return bool(app.intake(case_id).status != "received")
        except Exception:
            return False

    await eventually(screened)
    app = platform.services["conference"].runtime.app
    version = app.intake(case_id).version
    audit = platform.services["audit"].runtime.app
    audit_events = await eventually(lambda: _audit_events(audit, case_id, 3))
    audit_consumer = platform.services["audit"].consumer
    assert audit_consumer is not None
    audit_before = audit_consumer.processed
    relay = platform.services["referral"].runtime.relay()
    relay.batch_size = 100_000
    events = [e for _, batch in relay.pending(after=0) for e in batch if e.case_id == case_id]
    assert len(events) >= 3
    producer = AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap,  # type: ignore[attr-defined]
        enable_idempotence=True,
    )
    await producer.start()
    try:
        for event in [*reversed(events), *events]:  # out of order, then again in order
            m = encode(event)
            await producer.send_and_wait(event.topic, value=m.value, key=m.key)
    finally:
        await producer.stop()
    consumer = platform.services["conference"].consumer
    assert consumer is not None
    processed_before = consumer.processed
    await eventually(lambda: _at_least(consumer, processed_before + 1))
    await eventually(lambda: _at_least(audit_consumer, audit_before + 2 * len(events)))
    await asyncio.sleep(1.0)  # let the rest of the replay drain
    assert app.intake(case_id).version == version
    assert (await _intake_ids(platform)).count(case_id) == 1
    # the audit log appended each event once, whatever the deliveries
    assert len(audit.case_entries(case_id, "event")) == len(audit_events)


async def _audit_events(audit: object, case_id: str, at_least: int) -> list | None:
    entries = audit.case_entries(case_id, "event")  # type: ignore[attr-defined]
    return entries if len(entries) >= at_least else None


async def _at_least(consumer: object, n: int) -> bool:
    return getattr(consumer, "processed", 0) >= n


async def test_poison_message_goes_to_dead_letter_and_consumption_goes_on(
    platform: InProcessPlatform, infrastructure: object
) -> None:
    """Checked: a malformed message and a contract-violating event land on the dead-letter
    topic with the reason, and the next good event is still processed."""
    bootstrap = infrastructure.kafka_bootstrap  # type: ignore[attr-defined]
    marker = uuid.uuid4().hex
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            REFERRAL_TOPIC, value=b"{not json " + marker.encode(), key=b"poison"
        )
        bad = IntegrationEvent(
            type=ReferralSubmitted.type,
            topic=REFERRAL_TOPIC,
            case_id="poison-" + marker,
            data={"case_id": "x"},
            id="poison-" + marker,
            source="/test",
        )
        m = encode(bad)
        await producer.send_and_wait(REFERRAL_TOPIC, value=m.value, key=m.key)
    finally:
        await producer.stop()
    good = await _submit(platform)

    async def arrived() -> bool:
        return good in await _intake_ids(platform)

    await eventually(arrived)
    consumer = AIOKafkaConsumer(
        DEAD_LETTER_TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    reasons: list[str] = []
    try:

        async def dead_lettered() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if marker.encode() in (record.value or b""):
                        reasons.append(dict(record.headers)["accord-dlq-reason"].decode())
            return any("not a CloudEvent" in r for r in reasons) and any(
                "contract" in r for r in reasons
            )

        await eventually(dead_lettered)
    finally:
        await consumer.stop()
    assert all("not a CloudEvent" in r or "contract" in r for r in reasons)
