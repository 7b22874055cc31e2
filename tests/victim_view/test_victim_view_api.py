"""The victim view's backend (issue 17) on real Kafka, OPA and PostgreSQL: invitation codes
(one answer for wrong, expired, used and revoked; nothing changes), redemption and linking by
the enrolment account only, the victim's own reads and nothing else, withdrawal with the
advocate's effect, revocation on the next read, and no code or hash on Kafka or in the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from accord_kernel.contracts import (
    CONFERENCE_TOPIC,
    COURT_TOPIC,
    REFERRAL_TOPIC,
    VICTIM_SUPPORT_TOPIC,
)
from accord_platform.harness import InProcessPlatform, eventually
from aiokafka import AIOKafkaConsumer

from tests.journey import Journey, flags_to_police_consent

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def enrolment(p: InProcessPlatform, user: str = "accord-enrolment-sa") -> dict[str, str]:
    return p.token("victim_services", "enrolment", user=user, org="accord-enrolment")


def victim(p: InProcessPlatform, sub: str) -> dict[str, str]:
    return p.token("victim", "victim", user=sub, org="north-advocacy")


async def invite(j: Journey) -> dict[str, Any]:
    r = await j.p.client("victim-support").post(
        f"/cases/{j.case_id}/invitations", headers=j.advocate
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def invitation_states(j: Journey) -> dict[str, dict[str, Any]]:
    r = await j.p.client("victim-support").get(
        f"/cases/{j.case_id}/invitations", headers=j.advocate
    )
    assert r.status_code == 200, r.text
    return {i["invitation_id"]: i for i in r.json()}


async def enrol(j: Journey) -> tuple[str, dict[str, str]]:
    """The portal's part: redeem the code, make the account, link it; the victim's token."""
    vs = j.p.client("victim-support")
    created = await invite(j)
    r = await vs.post(
        "/invitations/redemptions", json={"code": created["code"]}, headers=enrolment(j.p)
    )
    assert r.status_code == 200, r.text
    assert r.json()["username"].startswith("victim-")
    assert r.json()["org"] == "north-advocacy"
    sub = str(uuid.uuid4())
    r = await vs.post(
        f"/invitations/{created['invitation_id']}/account",
        json={"sub": sub},
        headers=enrolment(j.p),
    )
    assert r.status_code == 204, r.text
    return created["invitation_id"], victim(j.p, sub)


async def new_case(platform: InProcessPlatform) -> Journey:
    j = Journey(platform)
    await j.refer()
    await j.victim_consents()
    return j


async def test_invitation_codes_work_once_and_every_refusal_is_the_same(
    platform: InProcessPlatform,
) -> None:
    j = await new_case(platform)
    vs = platform.client("victim-support")
    app = platform.services["victim-support"].runtime.app
    created = await invite(j)
    code = created["code"]
    assert len(code) == 14 and code[4] == code[9] == "-"
    # The code is shown once: the list says nothing of it.
    states = await invitation_states(j)
    assert states[created["invitation_id"]]["status"] == "pending"
    assert code not in json.dumps(states)

    async def redeem(value: str, caller: str = "accord-enrolment-sa") -> Any:
        return await vs.post(
            "/invitations/redemptions", json={"code": value}, headers=enrolment(platform, caller)
        )

    # Only the enrolment account redeems: not the advocate, not a victim.
    for headers in (j.advocate, victim(platform, "someone")):
        r = await vs.post("/invitations/redemptions", json={"code": code}, headers=headers)
        assert r.status_code == 403, r.text
    # A wrong code.
    wrong = await redeem("ZZZZ-ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ-ZZZZ" else "0000-0000-0000")
    assert wrong.status_code == 410 and wrong.json()["code"] == "invitation_not_usable"
    assert (await redeem("not a code")).status_code == 410
    # The right one, typed loosely, works once.
    first = await redeem(code.lower().replace("-", " "))
    assert first.status_code == 200, first.text
    reused = await redeem(code)
    assert reused.status_code == 410
    assert {k: v for k, v in reused.json().items() if k != "instance"} == {
        k: v for k, v in wrong.json().items() if k != "instance"
    }
    assert (await invitation_states(j))[created["invitation_id"]]["status"] == "redeemed"

    # Expired: 72 hours later (the clock is moved, nothing sleeps); nothing changes.
    late = await invite(j)
    app.clock = lambda: datetime.now(UTC) + timedelta(hours=72, seconds=1)
    try:
        r = await redeem(late["code"])
        assert r.status_code == 410, r.text
        assert (await invitation_states(j))[late["invitation_id"]]["status"] == "expired"
    finally:
        app.clock = lambda: datetime.now(UTC)
    assert (await invitation_states(j))[late["invitation_id"]]["status"] == "pending"

    # Revoked: the code stops working at once.
    revoked = await invite(j)
    r = await vs.post(f"/invitations/{revoked['invitation_id']}/revocation", headers=j.advocate)
    assert r.status_code == 204, r.text
    assert (await redeem(revoked["code"])).status_code == 410
    assert (await invitation_states(j))[revoked["invitation_id"]]["status"] == "revoked"
    # Another victim-services organisation cannot invite, list or revoke.
    away = platform.token("victim_services", "advocate", org="south-advocacy")
    r = await vs.post(f"/cases/{j.case_id}/invitations", headers=away)
    assert r.status_code == 404
    r = await vs.get(f"/cases/{j.case_id}/invitations", headers=away)
    assert r.status_code == 404
    r = await vs.post(f"/invitations/{late['invitation_id']}/revocation", headers=away)
    assert r.status_code == 404


async def test_redemption_is_rate_limited_per_caller(platform: InProcessPlatform) -> None:
    vs = platform.client("victim-support")
    caller = "guesser-" + uuid.uuid4().hex[:6]
    answers = []
    for _ in range(21):
        r = await vs.post(
            "/invitations/redemptions",
            json={"code": "0000-0000-0001"},
            headers=enrolment(platform, caller),
        )
        answers.append(r.status_code)
    assert answers[:20] == [410] * 20 and answers[20] == 429
    # Another caller is not held back by this one.
    r = await vs.post(
        "/invitations/redemptions", json={"code": "0000-0000-0001"}, headers=enrolment(platform)
    )
    assert r.status_code == 410


async def test_an_account_is_linked_once_and_only_after_redemption(
    platform: InProcessPlatform,
) -> None:
    j = await new_case(platform)
    vs = platform.client("victim-support")
    created = await invite(j)
    sub = str(uuid.uuid4())
    path = f"/invitations/{created['invitation_id']}/account"
    # Not before redemption.
    r = await vs.post(path, json={"sub": sub}, headers=enrolment(platform))
    assert r.status_code == 409, r.text
    r = await vs.post(
        "/invitations/redemptions", json={"code": created["code"]}, headers=enrolment(platform)
    )
    assert r.status_code == 200
    # Not by the advocate or a victim.
    for headers in (j.advocate, victim(platform, sub)):
        assert (await vs.post(path, json={"sub": sub}, headers=headers)).status_code == 403
    assert (await vs.post(path, json={"sub": sub}, headers=enrolment(platform))).status_code == 204
    # Only once: neither again nor to another account.
    for again in (sub, str(uuid.uuid4())):
        r = await vs.post(path, json={"sub": again}, headers=enrolment(platform))
        assert r.status_code == 409, r.text
    assert (await invitation_states(j))[created["invitation_id"]]["account_linked"] is True
    # The enrolment account itself reads no case.
    r = await vs.get(f"/cases/{j.case_id}/victim", headers=enrolment(platform))
    assert r.status_code == 403


async def test_the_victim_reads_their_own_case_and_nothing_else(
    platform: InProcessPlatform,
) -> None:
    j = await new_case(platform)
    other = await new_case(platform)
    vs = platform.client("victim-support")
    _, mine = await enrol(j)
    _, theirs = await enrol(other)
    # Someone looks: the police read the flags (refused: no consent) and the advocate reads the
    # record (permitted); only the permitted read by staff is in the victim's log.
    await vs.get(f"/cases/{j.case_id}/victim", headers=j.advocate)

    r = await vs.get("/me/case", headers=mine)
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["stage"] == "referred"
    assert case["supporting_org"] == "north-advocacy"
    assert case["supporting_org_name"]
    assert case["jurisdiction"] == "england-wales"
    assert {h["number"] for h in case["help"]} == {"999", "0808 2000 247"}
    assert case["tell_me_about_agreement"] is False
    assert "case_id" not in case

    r = await vs.get("/me/consents", headers=mine)
    assert r.status_code == 200, r.text
    (consent,) = r.json()
    assert consent["scope"] == "participate" and consent["can_withdraw"] is True
    assert "verified_by" not in consent and "lawful_basis" not in consent

    r = await vs.get("/me/access-log", headers=mine)
    assert r.status_code == 200, r.text
    log = r.json()
    assert log and log[0]["agency"] == "victim_services" and log[0]["what"] == "victim_record"
    assert all(e["agency"] != "victim" for e in log)
    assert set(log[0]) == {"at", "agency", "org", "role", "purpose", "what", "break_glass"}
    assert (await vs.get("/me/agreement", headers=mine)).status_code == 404

    # The other victim's consent cannot be withdrawn from this account (it does not exist).
    r = await vs.get("/me/consents", headers=theirs)
    (their_consent,) = r.json()
    r = await vs.post(
        f"/me/consents/{their_consent['consent_id']}/withdrawal", json={}, headers=mine
    )
    assert r.status_code == 404, r.text

    # A victim token reaches no staff endpoint of any service, own case or not.
    refused = {
        "victim-support": [
            f"/cases/{j.case_id}/victim",
            f"/cases/{j.case_id}/safety-flags",
            f"/cases/{j.case_id}/safety-plan",
            f"/cases/{j.case_id}/consents",
            f"/cases/{j.case_id}/consent-summary",
            f"/cases/{j.case_id}/notifications",
            f"/cases/{j.case_id}/invitations",
            f"/cases/{other.case_id}/victim",
            "/emergency-access/reviews",
        ],
        "referral": [f"/referrals/{j.case_id}", "/referrals"],
        "conference": [f"/cases/{j.case_id}", "/cases", "/intake", "/facilitators"],
        "court": ["/court-cases", f"/court-cases/{j.court_reference}"],
        "audit": [
            f"/cases/{j.case_id}/access",
            f"/victims/{j.case_id}/access-log",
            "/checkpoint",
            "/entries/0",
        ],
    }
    for service, paths in refused.items():
        for path in paths:
            r = await platform.client(service).get(path, headers=mine)
            assert r.status_code in (403, 404), f"{service} {path}: {r.status_code} {r.text}"
    for path, body in (
        (f"/cases/{j.case_id}/invitations", None),
        (f"/consents/{consent['consent_id']}/withdrawal", {}),
    ):
        r = await vs.post(path, json=body, headers=mine)
        assert r.status_code in (403, 404), f"{path}: {r.status_code}"
    r = await platform.client("referral").post("/referrals", json={}, headers=mine)
    assert r.status_code in (403, 422)
    # A victim token whose sub is linked to nothing has no case.
    stranger = victim(platform, "not-linked-" + uuid.uuid4().hex[:6])
    for path in ("/me/case", "/me/consents", "/me/access-log", "/me/agreement"):
        assert (await vs.get(path, headers=stranger)).status_code == 404
    # Staff cannot use the victim's endpoints.
    assert (await vs.get("/me/case", headers=j.advocate)).status_code == 403


async def test_revocation_takes_effect_on_the_next_read(platform: InProcessPlatform) -> None:
    j = await new_case(platform)
    vs = platform.client("victim-support")
    invitation_id, mine = await enrol(j)
    assert (await vs.get("/me/case", headers=mine)).status_code == 200
    r = await vs.post(f"/invitations/{invitation_id}/revocation", headers=j.advocate)
    assert r.status_code == 204
    for path in ("/me/case", "/me/consents", "/me/access-log"):
        assert (await vs.get(path, headers=mine)).status_code == 404
    assert (await invitation_states(j))[invitation_id]["status"] == "revoked"


async def test_the_victims_withdrawal_has_the_advocates_effect(
    platform: InProcessPlatform,
) -> None:
    j = await new_case(platform)
    vs = platform.client("victim-support")
    # The police may read the flags by the victim's share consent.
    r = await vs.post(
        f"/cases/{j.case_id}/safety-flags",
        headers=j.advocate,
        json={"code": "stalking", "severity": "high"},
    )
    assert r.status_code == 204, r.text
    r = await vs.post(
        f"/cases/{j.case_id}/consents",
        headers=j.advocate,
        json=flags_to_police_consent(),
    )
    assert r.status_code == 201, r.text
    share = r.json()["consent_id"]

    async def police_flags() -> bool:
        r = await vs.get(
            f"/cases/{j.case_id}/safety-flags",
            params={"purpose": "safeguarding"},
            headers=j.police,
        )
        assert r.status_code in (200, 403), r.text
        return r.status_code == 200 and "flags" in r.json()

    assert await police_flags()
    await j.accept_and_prepare()
    _, mine = await enrol(j)

    async def stage() -> str:
        r = await vs.get("/me/case", headers=mine)
        assert r.status_code == 200, r.text
        return str(r.json()["stage"])

    assert await eventually(lambda: _is(stage, "being_prepared"))
    # The victim withdraws sharing, then taking part: one action each.
    for consent_id in (share, j.consents["participate"]):
        r = await vs.post(
            f"/me/consents/{consent_id}/withdrawal",
            json={"reason": "I have changed my mind"},
            headers=mine,
        )
        assert r.status_code == 204, r.text
    # Police are refused the flags on their very next read.
    assert not await police_flags()
    # Withdrawing again is a state conflict, not a second withdrawal.
    r = await vs.post(f"/me/consents/{share}/withdrawal", json={}, headers=mine)
    assert r.status_code == 409
    consents = {c["consent_id"]: c for c in (await vs.get("/me/consents", headers=mine)).json()}
    assert consents[share]["status"] == "withdrawn" and not consents[share]["can_withdraw"]
    # The RJ case stops by itself, as after the advocate's withdrawal.

    async def stopped() -> bool:
        case = await j.rj_case()
        return bool(case.get("status") == "stopped")

    await eventually(stopped)
    assert (await j.rj_case()).get("stop_reason") == "victim_withdrew"
    assert await eventually(lambda: _is(stage, "stopped"))
    # The advocate is told.
    notes = await j.notifications()
    told = [n for n in notes if n["kind"] == "victim_withdrew_consent"]
    assert {n["consent_id"] for n in told} == {share, j.consents["participate"]}
    # The consent's history says the victim withdrew it.
    r = await vs.get(f"/cases/{j.case_id}/consents", headers=j.advocate)
    history = next(c for c in r.json() if c["consent_id"] == share)["history"]
    assert history[-1]["by"] == "victim"


async def _is(read: Any, want: str) -> bool:
    return bool(await read() == want)


async def test_no_code_or_hash_reaches_kafka_or_the_logs(
    platform: InProcessPlatform, infrastructure: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    j = await new_case(platform)
    vs = platform.client("victim-support")
    app = platform.services["victim-support"].runtime.app
    created = await invite(j)
    code = created["code"]
    bare = code.replace("-", "")
    r = await vs.post("/invitations/redemptions", json={"code": code}, headers=enrolment(platform))
    assert r.status_code == 200
    username = r.json()["username"]
    await vs.post("/invitations/redemptions", json={"code": code}, headers=enrolment(platform))
    invitation = app.invitation(created["invitation_id"])
    secrets_ = {code, bare, invitation.code_hash, invitation.salt, username}
    # Every event the invitation made reaches audit (by name only) ...
    consumer = AIOKafkaConsumer(
        REFERRAL_TOPIC,
        VICTIM_SUPPORT_TOPIC,
        CONFERENCE_TOPIC,
        COURT_TOPIC,
        "accord.audit.access",
        bootstrap_servers=infrastructure.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    seen: list[str] = []
    try:

        async def published() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                seen.extend(m.value.decode() for m in messages if m.value)
            return any(
                ("VictimInvited" in m and created["invitation_id"] in m) or "VictimInvited" in m
                for m in seen
            ) and any("InvitationRedeemed" in m for m in seen)

        await eventually(published)
        await asyncio.sleep(0.5)
        for messages in (await consumer.getmany(timeout_ms=500)).values():
            seen.extend(m.value.decode() for m in messages if m.value)
    finally:
        await consumer.stop()
    everything = "\n".join(seen)
    for secret in secrets_:
        assert secret not in everything
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets_:
        assert secret not in logged
