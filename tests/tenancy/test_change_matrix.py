"""Every write endpoint x every user who must be refused it: another organisation's users get
404 (the case does not exist for them), the wrong agency or an unassigned facilitator 403, and
whatever they sent, nothing is stored. Expectations written from SPEC section 4a, on the real
platform (Kafka, OPA, PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from accord_platform.harness import InProcessPlatform, eventually
from accord_referral.examples import dash

from tests.tenancy.case import CaseOnPlatform, readers
from tests.tenancy.oracle import Reader

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
READERS = readers()
POLICE, VS, RJ, COURT = "police", "victim_services", "rj_provider", "court"
MANAGERS = frozenset({"coordinator", "supervisor"})
PRACTITIONERS = frozenset({"coordinator", "supervisor", "facilitator"})


@dataclass(frozen=True)
class Write:
    service: str
    method: str
    path: str
    body: Any
    agencies: frozenset[str]  # who the route serves at all
    roles: frozenset[str] | None = None  # roles the route serves (None: every role)
    rj_case: bool = False  # a change to the RJ case: assigned facilitator or a manager
    monitoring_agency: str | None = None  # an agreement item's report


def writes(case: CaseOnPlatform) -> list[Write]:
    c, ref, fac = case.case_id, case.court_reference, case.facilitator_id
    soon = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    due = (date.today() + timedelta(days=20)).isoformat()
    item = {
        "item_id": "x",
        "what": "Not stored",
        "owner": "offender",
        "due_date": due,
        "monitoring_agency": "rj_provider",
    }
    police, vs = frozenset({POLICE}), frozenset({VS})
    rj, court = frozenset({RJ}), frozenset({COURT})
    found = [
        Write(
            "referral",
            "POST",
            f"/referrals/{c}/risk-assessments",
            {**dash(20), "expected_version": None},
            police,
        ),
        Write(
            "referral",
            "POST",
            f"/referrals/{c}/incidents",
            {"date": "2026-01-02", "summary": "Not stored"},
            police,
        ),
        Write("referral", "POST", f"/referrals/{c}/withdrawal", {"reason": "Not stored"}, police),
        Write(
            "victim-support",
            "POST",
            f"/cases/{c}/victim",
            {"name": "Not stored", "address": "Not stored", "preferred_contact_method": "phone"},
            vs,
        ),
        Write("victim-support", "POST", f"/cases/{c}/support-notes", {"text": "Not stored"}, vs),
        Write(
            "victim-support",
            "POST",
            f"/cases/{c}/consents",
            {
                "scope": "share",
                "seen_alone": True,
                "provisions": [
                    {
                        "agency": "police",
                        "purposes": ["case_management"],
                        "data_classes": ["victim.location"],
                        "start": datetime.now(UTC).isoformat(),
                        "end": soon,
                    }
                ],
            },
            vs,
        ),
        Write("victim-support", "POST", f"/consents/{case.consent_id}/withdrawal", {}, vs),
        Write(
            "victim-support", "POST", f"/consents/{case.consent_id}/refresh", {"new_end": soon}, vs
        ),
        Write(
            "victim-support",
            "POST",
            f"/cases/{c}/safety-flags",
            {"code": "weapon_access", "severity": "high"},
            vs,
        ),
        Write(
            "victim-support",
            "POST",
            f"/cases/{c}/safety-flags/stalking/clearance",
            {"reason": "Not stored"},
            vs,
        ),
        Write(
            "victim-support",
            "PUT",
            f"/cases/{c}/safety-plan",
            {"content": "Not stored", "review_date": due},
            vs,
        ),
        Write("victim-support", "POST", f"/cases/{c}/transfer", {"to_org": "south-advocacy"}, vs),
        Write("conference", "POST", f"/intake/{c}/accept", None, rj, MANAGERS),
        Write("conference", "POST", f"/intake/{c}/decline", {"reason": "Not stored"}, rj, MANAGERS),
        Write(
            "conference",
            "POST",
            f"/cases/{c}/facilitators",
            {"facilitator_id": case.away_facilitator_id, "role": "co"},
            rj,
            MANAGERS,
            rj_case=True,
        ),
        Write(
            "conference",
            "POST",
            f"/cases/{c}/offender-consent",
            {"given": False},
            rj,
            PRACTITIONERS,
            rj_case=True,
        ),
        Write(
            "conference",
            "POST",
            f"/cases/{c}/preparations",
            {"participant": "victim", "seen_alone": False, "coercion_screen": "failed"},
            rj,
            PRACTITIONERS,
            rj_case=True,
        ),
        Write(
            "conference",
            "POST",
            f"/cases/{c}/conference",
            {"modality": "letter", "at_time": soon},
            rj,
            PRACTITIONERS,
            rj_case=True,
        ),
        Write(
            "conference",
            "POST",
            f"/cases/{c}/conference/held",
            {"notes": "Not stored"},
            rj,
            PRACTITIONERS,
            rj_case=True,
        ),
        Write(
            "conference",
            "POST",
            f"/cases/{c}/stop",
            {"reason": "facilitator_judgement"},
            rj,
            PRACTITIONERS,
            rj_case=True,
        ),
        Write(
            "conference",
            "PUT",
            f"/cases/{c}/agreement",
            {"items": [item]},
            rj,
            PRACTITIONERS,
            rj_case=True,
        ),
        Write(
            "conference",
            "POST",
            f"/cases/{c}/agreement/consents",
            {"party": "victim", "agrees": False, "share_with_court": True},
            rj,
            PRACTITIONERS,
            rj_case=True,
        ),
        Write(
            "conference",
            "POST",
            f"/cases/{c}/agreement/outcome-sharing-withdrawal",
            {"party": "offender"},
            rj,
            PRACTITIONERS,
            rj_case=True,
        ),
        Write(
            "conference",
            "POST",
            f"/facilitators/{fac}/endorsement",
            {"endorsement_expires": "2020-01-01"},
            rj,
            MANAGERS,
        ),
        Write(
            "conference",
            "POST",
            f"/facilitators/{fac}/supervision",
            {"notes_ref": "not-stored"},
            rj,
            MANAGERS,
        ),
        Write(
            "court",
            "POST",
            f"/court-cases/{ref}/decisions",
            {"decision": "returned_for_sentencing", "notes": "Not stored"},
            court,
            frozenset({"clerk", "judge"}),
        ),
    ]
    reporters = frozenset({RJ, POLICE, VS, COURT})
    for agency in (RJ, POLICE, VS, COURT):
        found.append(
            Write(
                "conference",
                "POST",
                f"/cases/{c}/agreement/items/item-{agency}/report",
                {"status": "breached", "evidence": "Not stored"},
                reporters,
                monitoring_agency=agency,
            )
        )
    return found


def expected(write: Write, reader: Reader) -> int | None:
    """The refusal SPEC section 4a calls for, or None where the change is this user's to make
    (those are not sent: this test is about refusals)."""
    if reader.agency not in write.agencies:
        return 403
    if write.roles is not None and reader.role not in write.roles:
        return 403
    if reader.relation == "other":
        return 404
    if write.monitoring_agency is not None:
        if reader.agency != write.monitoring_agency:
            return 403
        if reader.agency == RJ and reader.role == "facilitator" and reader.relation != "own":
            return 403
        return None
    if write.rj_case and reader.role == "facilitator" and reader.relation == "unassigned":
        return 403
    return None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def case(platform: InProcessPlatform) -> CaseOnPlatform:
    return await CaseOnPlatform(platform).build()


async def test_every_refused_change_is_refused_and_stores_nothing(case: CaseOnPlatform) -> None:
    before = await case.snapshot()
    wrong: list[str] = []
    sent = 0
    for write in writes(case):
        for reader in READERS:
            want = expected(write, reader)
            if want is None:
                continue
            r = await case.platform.client(write.service).request(
                write.method, write.path, json=write.body, headers=case.headers(reader)
            )
            sent += 1
            if r.status_code != want:
                wrong.append(
                    f"{reader.label} {write.method} {write.path}: {r.status_code}, "
                    f"want {want}: {r.text[:160]}"
                )
            elif not r.headers["content-type"].startswith("application/problem+json"):
                wrong.append(f"{reader.label} {write.method} {write.path}: not a problem")
    print(f"refused changes sent: {sent}")
    after = await case.snapshot()
    changed = [name for name in before if before[name] != after[name]]
    assert not wrong, "\n".join(wrong)
    assert not changed, f"refused changes stored something in: {changed}"
    assert sent > 300


async def test_the_responsible_organisations_can_still_make_their_changes(
    case: CaseOnPlatform,
) -> None:
    """The other half of the matrix, so the refusals above cannot come from a broken service:
    the users SPEC 4a names make one change each and it is stored."""
    p, c = case.platform, case.case_id
    r = await p.client("referral").post(
        f"/referrals/{c}/incidents",
        json={"date": "2026-01-03", "summary": "New incident"},
        headers=case.own("police", "supervisor"),
    )
    assert r.status_code == 204, r.text
    r = await p.client("victim-support").post(
        f"/cases/{c}/support-notes",
        json={"text": "Call back Tuesday"},
        headers=case.own("victim_services", "supervisor"),
    )
    assert r.status_code == 204, r.text
    r = await p.client("conference").post(
        f"/cases/{c}/agreement/items/item-police/report",
        json={"status": "completed", "evidence": "Seen by PC"},
        headers=case.own("police", "officer"),
    )
    assert r.status_code == 204, r.text
    r = await p.client("conference").post(
        f"/cases/{c}/agreement/items/item-rj_provider/report",
        json={"status": "completed", "evidence": "Letter received"},
        headers=case.own("rj_provider", "facilitator"),
    )
    assert r.status_code == 204, r.text
    rj = (
        await p.client("conference").get(
            f"/cases/{c}", headers=case.own("rj_provider", "coordinator")
        )
    ).json()
    statuses = {i["item_id"]: i["status"] for i in rj["compliance"]["items"]}
    assert statuses["item-police"] == statuses["item-rj_provider"] == "completed"
    notes = (
        await p.client("victim-support").get(
            f"/cases/{c}/victim", headers=case.own("victim_services", "advocate")
        )
    ).json()
    assert any("Call back Tuesday" in str(n) for n in notes["support_notes"])


async def test_a_transfer_hands_the_case_to_another_victim_services_organisation(
    case: CaseOnPlatform,
) -> None:
    """Last on the module's case: after the transfer, the new organisation is the one
    responsible for victim services, at victim services at once and elsewhere by event."""
    p, c = case.platform, case.case_id
    old = case.own("victim_services", "advocate")
    new = case.headers(Reader("victim_services", "advocate", "other"))
    assert (
        await p.client("victim-support").get(f"/cases/{c}/victim", headers=new)
    ).status_code == 404
    r = await p.client("victim-support").post(
        f"/cases/{c}/transfer", json={"to_org": "scotland-advocacy"}, headers=old
    )
    assert r.status_code == 422, r.text  # not a victim-services organisation of this jurisdiction
    r = await p.client("victim-support").post(
        f"/cases/{c}/transfer", json={"to_org": "south-advocacy"}, headers=old
    )
    assert r.status_code == 204, r.text
    assert (
        await p.client("victim-support").get(f"/cases/{c}/victim", headers=old)
    ).status_code == 404
    mine = await p.client("victim-support").get(f"/cases/{c}/victim", headers=new)
    assert mine.status_code == 200 and mine.json()["address"] == "1 Safe Street"

    async def police_know() -> bool:
        before = await p.client("referral").get(f"/referrals/{c}", headers=old)
        after = await p.client("referral").get(f"/referrals/{c}", headers=new)
        return before.status_code == 404 and after.status_code == 200

    assert await eventually(police_know)
