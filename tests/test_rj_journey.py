"""Issues 6 and 7 on real Kafka, OPA and PostgreSQL: the RJ process from an eligible referral
to a monitored agreement and the court's compliance view; and a case that stops by itself
when the victim withdraws."""

from __future__ import annotations

import pytest
from accord_platform.harness import InProcessPlatform, eventually

from tests.journey import Journey

pytestmark = pytest.mark.integration


async def test_agreement_monitoring_reaches_court_and_victim(platform: InProcessPlatform) -> None:
    j = Journey(platform)
    await j.refer()
    await j.victim_consents()
    await j.accept_and_prepare()
    await j.conference_and_agreement(share_with_court=True)
    await j.report("item-1", "completed")
    await j.report("item-2", "completed")
    await j.report("item-3", "breached")

    async def statuses_seen() -> dict | None:
        view = await j.court_view()
        if not view or "items_status" not in view:
            return None
        statuses = sorted(i["status"] for i in view["items_status"])
        return view if statuses == ["breached", "completed", "completed"] else None

    view = await eventually(statuses_seen)
    texts = await eventually(lambda: _court_text(j))
    assert {t["what"] for t in texts} == {
        "AGREEMENT-TEXT-1",
        "AGREEMENT-TEXT-2",
        "AGREEMENT-TEXT-3",
    }
    assert view["case_id"] == j.case_id
    assert (await j.rj_case())["status"] == "returned"

    async def victim_told() -> list | None:
        kinds = [n["kind"] for n in await j.notifications()]
        return kinds if kinds.count("item_completed") == 2 and "item_breached" in kinds else None

    await eventually(victim_told)

    # One party withdraws consent to share the outcome: statuses stay, the text goes.
    r = await platform.client("conference").post(
        f"/cases/{j.case_id}/agreement/outcome-sharing-withdrawal",
        headers=j.facilitator,
        json={"party": "offender"},
    )
    assert r.status_code == 204, r.text

    async def text_gone() -> dict | None:
        v = await j.court_view()
        return v if v and "items_text" not in v and v.get("items_status") else None

    after = await eventually(text_gone)
    assert len(after["items_status"]) == 3

    # The court records its review decision; victim services hears of it.
    r = await platform.client("court").post(
        f"/court-cases/{j.court_reference}/decisions",
        headers=j.clerk,
        json={"decision": "returned_for_sentencing", "notes": "Breach of item 3"},
    )
    assert r.status_code in (201, 204), r.text

    async def decision_told() -> bool:
        return any(n["kind"] == "court_review" for n in await j.notifications())

    await eventually(decision_told)


async def _court_text(j: Journey) -> list | None:
    view = await j.court_view()
    return view.get("items_text") if view else None


async def test_court_never_reads_notes_or_location(platform: InProcessPlatform) -> None:
    j = Journey(platform)
    await j.refer()
    await j.victim_consents()
    await j.accept_and_prepare()
    await j.conference_and_agreement()
    as_court = await j.rj_case(j.clerk)
    for hidden in ("conference_notes", "preparation"):
        assert hidden not in as_court
    assert "CONFERENCE-NOTES-PRIVATE" not in str(as_court)
    victim = await platform.client("victim-support").get(
        f"/cases/{j.case_id}/victim", headers=j.clerk
    )
    assert victim.status_code in (200, 403)
    body = victim.json()
    for hidden in (
        "address",
        "safe_contact_number",
        "refuge",
        "safe_contact_method",
        "support_notes",
    ):
        assert hidden not in body
    # Even a (bogus) consent for the court cannot open location: SPEC says never.
    for purpose in ("compliance_review", "emergency", "case_management"):
        r = await platform.client("victim-support").get(
            f"/cases/{j.case_id}/victim", params={"purpose": purpose}, headers=j.clerk
        )
        assert "address" not in r.json()


async def test_victim_withdrawal_stops_the_case_without_a_call(platform: InProcessPlatform) -> None:
    j = Journey(platform)
    await j.refer()
    await j.victim_consents()
    await j.accept_and_prepare()
    r = await platform.client("victim-support").post(
        f"/consents/{j.consents['participate']}/withdrawal", headers=j.advocate, json={}
    )
    assert r.status_code == 204

    async def stopped() -> dict | None:
        case = await j.rj_case()
        return case if case["status"] == "stopped" else None

    case = await eventually(stopped)
    assert case["stop_reason"] == "victim_withdrew"


async def test_expired_endorsement_and_high_risk_are_refused(platform: InProcessPlatform) -> None:
    from datetime import date, timedelta

    j = Journey(platform)
    await j.refer()
    await j.victim_consents()
    await j.accept_and_prepare()
    conf = platform.client("conference")
    r = await conf.post(
        "/facilitators",
        headers=j.coordinator,
        json={
            "facilitator_id": j.facilitator_id + "-x",
            "name": "Lapsed",
            "accreditation_id": "A",
            "accredited_until": "2030-01-01",
            "endorsement_expires": (date.today() - timedelta(days=1)).isoformat(),
        },
    )
    assert r.status_code == 201
    r = await conf.post(
        f"/cases/{j.case_id}/facilitators",
        headers=j.coordinator,
        json={"facilitator_id": j.facilitator_id + "-x", "role": "co"},
    )
    assert r.status_code == 409
    assert r.json()["code"] == "endorsement_invalid"
    # Police reassess: high risk is over England & Wales' direct limit.
    from accord_referral.examples import dash

    r = await platform.client("referral").post(
        f"/referrals/{j.case_id}/risk-assessments", headers=j.police, json=dash(16)
    )
    assert r.status_code == 204, r.text

    async def refused() -> dict | None:
        gate = await j.gate()
        return gate if "risk_band_above_direct_limit" in gate["direct"] else None

    await eventually(refused)
    from datetime import UTC, datetime

    r = await conf.post(
        f"/cases/{j.case_id}/conference",
        headers=j.facilitator,
        json={
            "modality": "direct",
            "at_time": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "expected_version": (await j.rj_case())["version"],
        },
    )
    assert r.status_code == 409
    assert "risk_band_above_direct_limit" in r.json()["failed"]
