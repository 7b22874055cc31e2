"""Withdrawal takes effect everywhere at once (SPEC 1.3), on real Kafka, OPA and PostgreSQL.

Consent-governed data is read at its source (SPEC section 2): the police read a victim's safety
flags from victim services with their own token, and the policy decides each read from the
consents victim services holds. So no read that starts after the withdrawal has answered may
return the flags, whatever Kafka is doing, and no topic ever carries the flags, the location or
the safety plan."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from accord_platform.harness import InProcessPlatform, eventually
from accord_referral.examples import referral
from aiokafka import AIOKafkaConsumer

from tests.journey import Journey

pytestmark = pytest.mark.integration
ROUNDS = 20
ADDRESS = "ZZWITHDRAW-ADDRESS-" + uuid.uuid4().hex[:6]
PLAN = "ZZWITHDRAW-PLAN-" + uuid.uuid4().hex[:6]
PHONE = "+44 7700 955 318"
FLAG = "weapon_access"


async def police_flags(platform: InProcessPlatform, case_id: str) -> list[Any]:
    """The police's read, at the source, with the police's own token."""
    r = await platform.client("victim-support").get(
        f"/cases/{case_id}/safety-flags",
        params={"purpose": "safeguarding"},
        headers=platform.token("police", "officer"),
    )
    assert r.status_code in (200, 403), r.text
    return list(r.json().get("flags", [])) if r.status_code == 200 else []


async def case_with_flag(platform: InProcessPlatform, yes: int = 3) -> str:
    r = await platform.client("referral").post(
        "/referrals", json=referral(yes=yes), headers=platform.token("police", "officer")
    )
    assert r.status_code == 201, r.text
    case_id = str(r.json()["case_id"])
    vs, advocate = platform.client("victim-support"), platform.token("victim_services", "advocate")

    async def registered() -> bool:
        got = await vs.post(
            f"/cases/{case_id}/victim",
            headers=advocate,
            json={
                "name": "Alex",
                "address": ADDRESS,
                "safe_contact_number": PHONE,
                "preferred_contact_method": "phone",
            },
        )
        assert got.status_code in (201, 404), got.text
        return got.status_code == 201

    await eventually(registered)
    r = await vs.post(
        f"/cases/{case_id}/safety-flags", headers=advocate, json={"code": FLAG, "severity": "high"}
    )
    assert r.status_code == 204, r.text
    r = await vs.put(
        f"/cases/{case_id}/safety-plan",
        headers=advocate,
        json={
            "content": PLAN,
            "review_date": (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
        },
    )
    assert r.status_code == 204, r.text
    return case_id


async def grant_police_flags(platform: InProcessPlatform, case_id: str) -> str:
    now = datetime.now(UTC)
    r = await platform.client("victim-support").post(
        f"/cases/{case_id}/consents",
        headers=platform.token("victim_services", "advocate"),
        json={
            "scope": "share",
            "seen_alone": True,
            "provisions": [
                {
                    "agency": "police",
                    "purposes": ["safeguarding"],
                    "data_classes": ["safety.flags"],
                    "start": (now - timedelta(minutes=1)).isoformat(),
                    "end": (now + timedelta(days=30)).isoformat(),
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["consent_id"])


async def withdraw_while_reading(platform: InProcessPlatform, case_id: str) -> dict[str, int]:
    """Police read in a tight loop while the advocate withdraws; every read is stamped with
    when it started, and none that started after the withdrawal answered may see a flag."""
    consent_id = await grant_police_flags(platform, case_id)
    assert [f["code"] for f in await police_flags(platform, case_id)] == [FLAG]
    answered: list[float] = []
    reads: list[tuple[float, bool]] = []

    async def reader() -> None:
        while not answered or time.monotonic() < answered[0] + 0.2:
            started = time.monotonic()
            reads.append((started, bool(await police_flags(platform, case_id))))

    async def withdraw() -> None:
        await asyncio.sleep(0.02)
        r = await platform.client("victim-support").post(
            f"/consents/{consent_id}/withdrawal",
            headers=platform.token("victim_services", "advocate"),
            json={},
        )
        assert r.status_code == 204, r.text
        answered.append(time.monotonic())
        # The very next read, by the same caller, straight after the 204.
        reads.append((time.monotonic(), bool(await police_flags(platform, case_id))))

    await asyncio.gather(reader(), withdraw())
    after = [saw for started, saw in reads if started >= answered[0]]
    assert after, "no read started after the withdrawal answered"
    assert not any(after), "flags returned after the withdrawal answered"
    return {
        "reads_after": len(after),
        "reads_before_with_flags": sum(
            1 for started, saw in reads if started < answered[0] and saw
        ),
    }


async def test_no_read_after_the_withdrawal_answered_returns_the_flags(
    platform: InProcessPlatform,
) -> None:
    case_id = await case_with_flag(platform)
    totals = {"reads_after": 0, "reads_before_with_flags": 0}
    for _ in range(ROUNDS):
        for key, value in (await withdraw_while_reading(platform, case_id)).items():
            totals[key] += value
    print(
        f"\n{ROUNDS} withdrawals: {totals['reads_after']} police reads started after the "
        f"204, none returned flags ({totals['reads_before_with_flags']} before did)"
    )
    assert totals["reads_before_with_flags"] > 0  # the reader really saw them before


async def test_withdrawal_is_effective_at_once_while_kafka_is_down(
    platform: InProcessPlatform, infrastructure: Any
) -> None:
    case_id = await case_with_flag(platform)
    kafka = infrastructure.kafka
    await asyncio.to_thread(kafka.stop)
    try:
        # Granting and withdrawing are victim services' own business: no broker needed.
        for _ in range(3):
            await withdraw_while_reading(platform, case_id)
    finally:
        kafka.start()
        await asyncio.to_thread(kafka.wait_ready, 120)


async def test_high_risk_opens_flags_to_police_for_safeguarding_only(
    platform: InProcessPlatform,
) -> None:
    case_id = await case_with_flag(platform, yes=15)
    app = platform.services["victim-support"].runtime.app

    async def band_known() -> bool:
        return bool(app.contexts.get(case_id).risk_band == "high")

    await eventually(band_known)
    r = await platform.client("victim-support").get(
        f"/cases/{case_id}/safety-flags",
        params={"purpose": "safeguarding"},
        headers=platform.token("police", "officer"),
    )
    assert r.status_code == 200, r.text
    assert [f["code"] for f in r.json()["flags"]] == [FLAG]
    court = await platform.client("victim-support").get(
        f"/cases/{case_id}/safety-flags", headers=platform.token("court", "clerk")
    )
    assert "flags" not in court.json()
    other_force = await platform.client("victim-support").get(
        f"/cases/{case_id}/safety-flags",
        params={"purpose": "safeguarding"},
        headers=platform.token("police", "officer", org="south-police"),
    )
    assert other_force.status_code == 404


async def test_no_topic_carries_location_flags_or_plan(
    platform: InProcessPlatform, infrastructure: Any
) -> None:
    """A whole journey, then every message on every topic read from the beginning."""
    journey = Journey(platform)
    await journey.refer()
    await journey.victim_consents()
    case_id = journey.case_id
    vs, advocate = platform.client("victim-support"), journey.advocate
    for path, body in (
        (f"/cases/{case_id}/safety-flags", {"code": FLAG, "severity": "high"}),
        (f"/cases/{case_id}/support-notes", {"text": "ZZWITHDRAW-NOTE"}),
    ):
        r = await vs.post(path, headers=advocate, json=body)
        assert r.status_code == 204, r.text
    r = await vs.put(
        f"/cases/{case_id}/safety-plan",
        headers=advocate,
        json={"content": PLAN, "review_date": "2030-01-01"},
    )
    assert r.status_code == 204, r.text
    await grant_police_flags(platform, case_id)
    await journey.accept_and_prepare()
    await journey.conference_and_agreement()
    await journey.report("item-1", "completed")

    async def audited() -> bool:
        r = await platform.client("audit").get(
            f"/cases/{case_id}/events", headers=platform.token("audit", "privacy_officer")
        )
        return r.status_code == 200 and any("item_reported" in json.dumps(e) for e in r.json())

    await eventually(audited, timeout=60)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infrastructure.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith("accord."))
        consumer.subscribe(topics)
        messages: list[bytes] = []
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            got = [m.value or b"" for records in batch.values() for m in records]
            messages += got
            idle = 0 if got else idle + 1
    finally:
        await consumer.stop()
    everything = b"\n".join(messages).decode("utf-8", "replace")
    assert case_id in everything, "the scan did not see the journey's events"
    # Field names may appear (access records name the fields returned); values never.
    for forbidden in (
        ADDRESS,
        PHONE,
        PLAN,
        "1 Safe Street",
        "+44 7700 900123",
        "ZZWITHDRAW-NOTE",
        FLAG,
    ):
        assert forbidden not in everything, f"{forbidden!r} found on a topic"
    print(
        f"\nscanned {len(messages)} messages on {len(topics)} topics: no location, flag, "
        "plan or note content"
    )
