"""Issue 5, end to end on real Kafka, OPA and PostgreSQL: a victim's share consent lets police
see safety flags; withdrawing it takes them away again, through events, within a bound."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from accord_platform.harness import InProcessPlatform, eventually

from tests.referral_examples import referral

pytestmark = pytest.mark.integration
# A bound on asynchronous delivery, not a performance target: the closing note reports the
# measured distribution.
WITHDRAWAL_BOUND_SECONDS = 30.0
ROUNDS = 5


async def police_flags(platform: InProcessPlatform, case_id: str) -> list:
    r = await platform.client("referral").get(
        f"/cases/{case_id}/safety-flags", params={"purpose": "safeguarding"},
        headers=platform.token("police", "officer"))
    assert r.status_code in (200, 403), r.text
    return list(r.json().get("flags", [])) if r.status_code == 200 else []


async def share_round(platform: InProcessPlatform) -> float:
    police = platform.token("police", "officer")
    advocate = platform.token("victim_services", "advocate")
    vs = platform.client("victim-support")
    r = await platform.client("referral").post("/referrals", json=referral(yes=3),
                                               headers=police)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    assert (await vs.post(f"/cases/{case_id}/victim", headers=advocate, json={
        "name": "Alex", "address": "1 Safe Street", "preferred_contact_method": "phone"})
    ).status_code == 201
    assert (await vs.post(f"/cases/{case_id}/safety-flags", headers=advocate,
                          json={"code": "stalking", "severity": "high"})).status_code == 204
    assert await police_flags(platform, case_id) == []  # nothing without consent
    now = datetime.now(UTC)
    granted = await vs.post(f"/cases/{case_id}/consents", headers=advocate, json={
        "scope": "share", "seen_alone": True, "provisions": [{
            "agency": "police", "purposes": ["safeguarding"], "data_classes": ["safety.flags"],
            "start": (now - timedelta(minutes=1)).isoformat(),
            "end": (now + timedelta(days=30)).isoformat()}]})
    assert granted.status_code == 201, granted.text
    flags = await eventually(lambda: police_flags(platform, case_id))
    assert flags[0]["code"] == "stalking"
    started = time.monotonic()
    withdrawn = await vs.post(f"/consents/{granted.json()['consent_id']}/withdrawal",
                              headers=advocate, json={})
    assert withdrawn.status_code == 204

    async def gone() -> bool:
        return await police_flags(platform, case_id) == []

    await eventually(gone, timeout=WITHDRAWAL_BOUND_SECONDS, interval=0.02)
    elapsed = time.monotonic() - started
    shares = await vs.get(f"/cases/{case_id}/shares", headers=advocate)
    assert shares.json() == []
    return elapsed


async def test_withdrawal_takes_flags_away_from_police(platform: InProcessPlatform) -> None:
    timings = [await share_round(platform) for _ in range(ROUNDS)]
    timings.sort()
    p50 = statistics.median(timings)
    print(f"\nconsent withdrawal -> police no longer sees flags: n={len(timings)} "
          f"p50={p50 * 1000:.0f} ms max(p99)={timings[-1] * 1000:.0f} ms")
    assert timings[-1] < WITHDRAWAL_BOUND_SECONDS


async def test_high_risk_shares_flags_with_police_as_safeguarding(
        platform: InProcessPlatform) -> None:
    police = platform.token("police", "officer")
    advocate = platform.token("victim_services", "advocate")
    r = await platform.client("referral").post("/referrals", json=referral(yes=15),
                                               headers=police)
    case_id = r.json()["case_id"]
    vs = platform.client("victim-support")

    async def registered() -> bool:
        # victim services learns the high band from the referral's events
        got = await vs.post(f"/cases/{case_id}/victim", headers=advocate, json={
            "name": "Alex", "preferred_contact_method": "phone"})
        return got.status_code in (201, 409)

    await eventually(registered)
    await eventually(lambda: _band_known(platform, case_id))
    assert (await vs.post(f"/cases/{case_id}/safety-flags", headers=advocate,
                          json={"code": "threats_to_kill", "severity": "high"})
            ).status_code == 204
    flags = await eventually(lambda: police_flags(platform, case_id))
    assert flags[0]["code"] == "threats_to_kill"
    held = await platform.client("referral").get(
        f"/cases/{case_id}/safety-flags", params={"purpose": "safeguarding"}, headers=police)
    assert held.json()["lawful_basis"] == "safeguarding"
    court = await vs.get(f"/cases/{case_id}/safety-flags", headers=platform.token(
        "court", "clerk"))
    assert "flags" not in court.json()


async def _band_known(platform: InProcessPlatform, case_id: str) -> bool:
    app = platform.services["victim-support"].runtime.app
    return app.contexts.get(case_id).risk_band == "high"
