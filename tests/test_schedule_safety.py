"""The safety gate holds on the conference day, concurrent scheduling cannot silently override,
every change of a case reaches the audit log, and an Idempotency-Key cannot be reused for a
different request. Real Kafka, OPA and PostgreSQL; each refusal is checked to store nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from accord_platform.harness import InProcessPlatform, eventually
from accord_referral.examples import referral
from aiokafka import AIOKafkaConsumer

from tests.journey import Journey

pytestmark = pytest.mark.integration


async def prepared(platform: InProcessPlatform) -> Journey:
    journey = Journey(platform)
    await journey.refer()
    await journey.victim_consents()
    await journey.accept_and_prepare()

    async def gate_open() -> bool:
        return (await journey.gate())["direct"] == []

    await eventually(gate_open)
    return journey


async def schedule(
    journey: Journey, at: datetime, version: int | None, headers: dict[str, str] | None = None
) -> Any:
    body: dict[str, Any] = {"modality": "direct", "at_time": at.isoformat()}
    if version is not None:
        body["expected_version"] = version
    return await journey.p.client("conference").post(
        f"/cases/{journey.case_id}/conference", json=body, headers=headers or journey.coordinator
    )


async def test_an_endorsement_ending_before_the_conference_day_refuses_scheduling(
    platform: InProcessPlatform,
) -> None:
    journey = await prepared(platform)
    conf = platform.client("conference")
    day = date.today() + timedelta(days=10)
    r = await conf.post(
        f"/facilitators/{journey.facilitator_id}/endorsement",
        headers=journey.coordinator,
        json={"endorsement_expires": (day - timedelta(days=1)).isoformat()},
    )
    assert r.status_code == 204, r.text
    before = await journey.rj_case()
    at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    r = await schedule(journey, at, before["version"])
    assert r.status_code == 409, r.text
    assert "no_endorsed_facilitator" in r.json()["failed"]
    after = await journey.rj_case()
    assert after["version"] == before["version"] and after["status"] != "scheduled"
    # The gate says so for that day, and holds for a day the endorsement still covers.
    gate = (
        await conf.get(
            f"/cases/{journey.case_id}/gate",
            params={"on": day.isoformat()},
            headers=journey.facilitator,
        )
    ).json()
    assert "no_endorsed_facilitator" in gate["direct"] and gate["as_of"] == day.isoformat()
    soon = date.today() + timedelta(days=2)
    assert (
        await conf.get(
            f"/cases/{journey.case_id}/gate",
            params={"on": soon.isoformat()},
            headers=journey.facilitator,
        )
    ).json()["direct"] == []
    r = await schedule(journey, at - timedelta(days=8), before["version"])
    assert r.status_code == 204, r.text


async def test_an_endorsement_shortened_after_scheduling_suspends_the_conference(
    platform: InProcessPlatform,
) -> None:
    journey = await prepared(platform)
    at = datetime.now(UTC) + timedelta(days=14)
    r = await schedule(journey, at, (await journey.rj_case())["version"])
    assert r.status_code == 204, r.text
    r = await platform.client("conference").post(
        f"/facilitators/{journey.facilitator_id}/endorsement",
        headers=journey.coordinator,
        json={"endorsement_expires": (date.today() + timedelta(days=3)).isoformat()},
    )
    assert r.status_code == 204, r.text
    case = await journey.rj_case()
    assert case["status"] == "suspended" and case["conference_at"] is None


async def test_concurrent_scheduling_lets_exactly_one_win(platform: InProcessPlatform) -> None:
    journey = await prepared(platform)
    version = (await journey.rj_case())["version"]
    other = platform.token("rj_provider", "supervisor", user="supervisor-2")
    first, second = await asyncio.gather(
        schedule(journey, datetime.now(UTC) + timedelta(days=5), version),
        schedule(journey, datetime.now(UTC) + timedelta(days=6), version, headers=other),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [204, 412], (first.text, second.text)
    loser = first if first.status_code == 412 else second
    assert loser.json()["current_version"] == version + 1
    # Without a version the command is not applied at all.
    before = await journey.rj_case()
    r = await schedule(journey, datetime.now(UTC) + timedelta(days=9), None)
    assert r.status_code == 428, r.text
    r = await platform.client("conference").post(
        f"/cases/{journey.case_id}/conference",
        headers={**journey.coordinator, "If-Match": "1"},
        json={"modality": "direct", "at_time": (datetime.now(UTC) + timedelta(days=9)).isoformat()},
    )
    assert r.status_code == 412, r.text
    assert await journey.rj_case() == before


async def test_stops_always_take_effect_whatever_version_was_seen(
    platform: InProcessPlatform,
) -> None:
    journey = await prepared(platform)
    r = await platform.client("conference").post(
        f"/cases/{journey.case_id}/stop",
        headers={**journey.coordinator, "If-Match": "1"},
        json={"reason": "coercion_suspected"},
    )
    assert r.status_code == 204, r.text
    assert (await journey.rj_case())["status"] == "stopped"


async def scheduled_event_id(bootstrap: str, case_id: str) -> str | None:
    """The CloudEvent id of the case's ConferenceScheduled change on the conference topic."""
    consumer = AIOKafkaConsumer(
        "accord.conference.events",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        found, idle = None, 0
        while found is None and idle < 3:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            records = [m for part in batch.values() for m in part]
            idle = 0 if records else idle + 1
            for message in records:
                event = json.loads(message.value or b"{}")
                if (
                    event.get("subject") == case_id
                    and event.get("data", {}).get("change") == "ConferenceScheduled"
                ):
                    found = str(event["id"])
        return found
    finally:
        await consumer.stop()


async def test_scheduling_reaches_the_audit_log(
    platform: InProcessPlatform, infrastructure: Any
) -> None:
    """Every change of a case is published (by name and version, never content) and the audit
    service appends it: here the scheduling, which used to reach no log at all."""
    journey = await prepared(platform)
    r = await schedule(
        journey, datetime.now(UTC) + timedelta(days=4), (await journey.rj_case())["version"]
    )
    assert r.status_code == 204, r.text
    event_id = await eventually(
        lambda: scheduled_event_id(infrastructure.kafka_bootstrap, journey.case_id), timeout=60
    )
    privacy = platform.token("audit", "privacy_officer")

    async def logged() -> bool:
        r = await platform.client("audit").get(f"/cases/{journey.case_id}/events", headers=privacy)
        return r.status_code == 200 and any(e.get("event_id") == event_id for e in r.json())

    assert await eventually(logged, timeout=60)


async def test_an_idempotency_key_reused_for_another_referral_is_refused(
    platform: InProcessPlatform,
) -> None:
    police = platform.token("police", "officer")
    client = platform.client("referral")
    key = {"Idempotency-Key": "reuse-" + datetime.now(UTC).strftime("%H%M%S%f")}
    body = referral()
    first = await client.post("/referrals", json=body, headers={**police, **key})
    assert first.status_code == 201, first.text
    again = await client.post("/referrals", json=body, headers={**police, **key})
    assert again.status_code == 200 and again.json()["case_id"] == first.json()["case_id"]
    listed = (await client.get("/referrals", headers=police, params={"limit": 500})).json()
    other = referral(yes=9)
    reused = await client.post("/referrals", json=other, headers={**police, **key})
    assert reused.status_code == 422, reused.text
    assert reused.json()["code"] == "idempotency_key_reused"
    assert (await client.get("/referrals", headers=police, params={"limit": 500})).json() == listed
