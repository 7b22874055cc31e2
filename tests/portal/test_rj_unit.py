"""RJ provider's screens on fake services: every page renders, codes become words, the gate
lists each failed condition, forms check their input and send nothing when it is wrong, and
API problems become the right pages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from accord_portal import rj, words
from fastapi.testclient import TestClient

from .conftest import problem, signed_in_as

CASE = "5d1c2f3e-0a4b-4c5d-8e6f-7a8b9c0d1e2f"
OTHER = "9d1c2f3e-0a4b-4c5d-8e6f-7a8b9c0d1e2f"
TODAY = datetime.now(UTC).date()
ME = "north-rj.facilitator"


def intake_doc(case_id: str = CASE, status: str = "eligible_direct") -> dict[str, Any]:
    return {
        "case_id": case_id,
        "status": status,
        "jurisdiction": "england-wales",
        "eligibility": status,
        "received_at": "2026-03-02T10:00:00+00:00",
        "risk_band": "medium",
        "reassessment_required": False,
    }


def case_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "case_id": CASE,
        "status": "preparing",
        "stage": "preparing",
        "modality": None,
        "jurisdiction": "england-wales",
        "opened_at": "2026-03-03T09:00:00+00:00",
        "stop_reason": None,
        "suspended": False,
        "facilitator_id": ME,
        "co_facilitator_id": None,
        "conference_at": None,
        "version": 4,
        "reassessment_required": False,
        "risk_band": "medium",
        "participate_consent_active": True,
        "offender_consent": False,
        "preparation": [
            {
                "participant": "victim",
                "by": ME,
                "at": "2026-03-04T10:00:00+00:00",
                "seen_alone": True,
                "coercion_screen": "failed",
                "support_persons": ["Sister"],
                "childrens_needs": None,
                "notes": "PREP-NOTES",
            }
        ],
        "conference_notes": None,
        "agreement_items": [],
        "agreement_consents": {},
        "compliance": {"items": [], "overdue": [], "returned_to": None},
    }
    doc.update(overrides)
    return doc


FACILITATORS = [
    {
        "facilitator_id": ME,
        "name": "Rhys North-RJ-Facilitator",
        "org": "north-rj",
        "accreditation_id": "ACC-1",
        "accredited_until": "2030-01-01",
        "endorsement_expires": (TODAY + timedelta(days=365)).isoformat(),
        "endorsement_valid_today": True,
        "supervision_log": [],
    },
    {
        "facilitator_id": "lapsed",
        "name": "Lee Lapsed",
        "org": "north-rj",
        "accreditation_id": "ACC-2",
        "accredited_until": "2030-01-01",
        "endorsement_expires": (TODAY - timedelta(days=1)).isoformat(),
        "endorsement_valid_today": False,
        "supervision_log": [],
    },
    {
        "facilitator_id": "soon",
        "name": "Sasha Soon",
        "org": "north-rj",
        "accreditation_id": "ACC-3",
        "accredited_until": "2030-01-01",
        "endorsement_expires": (TODAY + timedelta(days=10)).isoformat(),
        "endorsement_valid_today": True,
        "supervision_log": [],
    },
]


class Fake:
    """The conference service: answers reads from `case`, records every change it is sent."""

    def __init__(self, case: dict[str, Any] | None = None) -> None:
        self.case = case or case_doc()
        self.gate = {
            "as_of": TODAY.isoformat(),
            "direct": ["offender_consent_missing", "coercion_screen_not_passed", "no_safety_plan"],
            "indirect": ["offender_consent_missing", "coercion_screen_not_passed"],
        }
        self.sent: list[tuple[str, str, Any]] = []
        self.answer: dict[str, httpx.Response] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method != "GET":
            body = json.loads(request.content) if request.content else None
            self.sent.append((request.method, path, body))
            if path in self.answer:
                return self.answer[path]
            return httpx.Response(201 if path.endswith("accept") else 204)
        if path == "/intake":
            return httpx.Response(
                200,
                json=[
                    intake_doc(OTHER, "accepted"),
                    {**intake_doc("1" + CASE[1:], "received"), "risk_band": None},
                    intake_doc(),
                ],
            )
        if path == f"/intake/{CASE}":
            return httpx.Response(200, json=intake_doc())
        if path == "/facilitators":
            return httpx.Response(200, json=FACILITATORS)
        if path == "/cases":
            return httpx.Response(200, json=[self.case])
        if path == f"/cases/{CASE}":
            return httpx.Response(200, json=self.case)
        if path == f"/cases/{CASE}/gate":
            return httpx.Response(200, json=self.gate)
        return problem(404, "not_found")


def client_for(portal_factory: Any, fake: Fake, role: str = "facilitator") -> TestClient:
    client = TestClient(portal_factory(fake), follow_redirects=False)
    session = signed_in_as(client, "rj_provider", role, "north-rj", name=f"North {role}")
    client.csrf = session.csrf_token  # type: ignore[attr-defined]
    return client


def post(client: TestClient, path: str, **form: str) -> httpx.Response:
    return client.post(path, data={"csrf_token": client.csrf, **form})  # type: ignore[attr-defined]


def test_gate_checklist_names_every_failed_condition_and_ticks_the_rest() -> None:
    view = rj.gate_view(
        {"as_of": "2026-04-01", "direct": ["no_safety_plan", "brand_new_code"], "indirect": []}
    )
    failed = [i for i in view["direct"] if not i["met"]]
    assert [i["code"] for i in failed] == ["no_safety_plan", "brand_new_code"]
    assert failed[0]["problem"].startswith("No safety plan is in place")
    assert failed[1]["condition"] == "Brand new code"  # unknown codes are shown, never dropped
    assert len(view["direct"]) == len(words.GATE_CONDITIONS) + 1
    assert all(i["met"] for i in view["indirect"]) and view["indirect_open"]
    assert [i["code"] for i in view["indirect"]] == list(words.GATE_INDIRECT)
    # The portal knows every condition the conference service can name.
    from accord_conference.domain import rj_case

    codes = {v for k, v in vars(rj_case).items() if k.isupper() and isinstance(v, str)}
    assert set(words.GATE_CONDITIONS) <= codes
    named = {
        rj_case.NO_ENDORSED_FACILITATOR,
        rj_case.PARTICIPATE_CONSENT_INACTIVE,
        rj_case.OFFENDER_CONSENT_MISSING,
        rj_case.VICTIM_PREPARATION_MISSING,
        rj_case.OFFENDER_PREPARATION_MISSING,
        rj_case.COERCION_SCREEN_NOT_PASSED,
        rj_case.VICTIM_NOT_SEEN_ALONE,
        rj_case.RISK_BAND_ABOVE_DIRECT_LIMIT,
        rj_case.REASSESSMENT_REQUIRED,
        rj_case.NO_SAFETY_PLAN,
        rj_case.ELIGIBILITY_INDIRECT_ONLY,
    }
    assert set(words.GATE_CONDITIONS) == named
    assert set(words.STOP_REASONS) == set(rj_case.STOP_REASONS)
    assert set(words.RJ_STATUS) == set(rj_case.STATUSES)


def test_intake_lists_eligible_first_with_band_and_received_date(portal_factory: Any) -> None:
    client = client_for(portal_factory, Fake(), "coordinator")
    page = client.get("/intake")
    assert page.status_code == 200
    text = page.text
    assert text.index(CASE[:8].upper()) < text.index("1" + CASE[1:8].upper())
    assert "Eligible (direct or indirect)" in text and "Medium" in text
    assert "2 March 2026" in text and "Not assessed yet" in text
    assert f"/rj-cases/{OTHER}" in text  # an accepted one links to its case
    assert "eligible_direct" not in text


def test_accept_and_decline_with_confirmation(portal_factory: Any) -> None:
    fake = Fake()
    client = client_for(portal_factory, fake, "coordinator")
    assert "Accept referral" in client.get(f"/intake/{CASE}").text
    r = post(client, f"/intake/{CASE}/accept")
    assert r.status_code == 303 and r.headers["location"] == f"/rj-cases/{CASE}"
    assert fake.sent[-1][1] == f"/intake/{CASE}/accept"

    r = post(client, f"/intake/{CASE}/decline/confirm", reason="")
    assert r.status_code == 400 and 'href="#reason"' in r.text
    r = post(client, f"/intake/{CASE}/decline/confirm", reason="No capacity this quarter")
    assert "Are you sure you want to decline" in r.text and len(fake.sent) == 1
    r = post(client, f"/intake/{CASE}/decline", reason="No capacity this quarter")
    assert r.status_code == 303
    assert fake.sent[-1] == (
        "POST",
        f"/intake/{CASE}/decline",
        {"reason": "No capacity this quarter"},
    )


def test_facilitator_sees_no_accept_button(portal_factory: Any) -> None:
    client = client_for(portal_factory, Fake())
    assert "Accept referral" not in client.get(f"/intake/{CASE}").text
    assert client.get("/rj").headers["location"] == "/rj-cases"


def test_facilitators_mark_expired_and_expiring_endorsements(portal_factory: Any) -> None:
    client = client_for(portal_factory, Fake(), "coordinator")
    text = client.get("/facilitators").text
    lapsed = text.split("Lee Lapsed", 1)[1].split("</tr>", 1)[0]
    soon = text.split("Sasha Soon", 1)[1].split("</tr>", 1)[0]
    assert "Expired" in lapsed and "govuk-tag--red" in lapsed
    assert "Expires soon" in soon
    assert "Register a facilitator" in text
    assert "north-rj.coordinator" in text  # the user's own staff account ID


def test_register_facilitator_validates_then_sends(portal_factory: Any) -> None:
    fake = Fake()
    client = client_for(portal_factory, fake, "coordinator")
    r = post(client, "/facilitators/new", facilitator_id="bad id!", name="")
    assert r.status_code == 400
    for anchor in ("#facilitator_id", "#name", "#accreditation_id", "#accredited_until-day"):
        assert f'href="{anchor}"' in r.text
    assert fake.sent == []
    r = post(
        client,
        "/facilitators/new",
        facilitator_id="abc-123",
        name="Nia New",
        accreditation_id="ACC-9",
        **{
            "accredited_until-day": "1",
            "accredited_until-month": "1",
            "accredited_until-year": "2030",
        },
    )
    assert r.status_code == 303
    assert fake.sent[-1][2] == {
        "facilitator_id": "abc-123",
        "name": "Nia New",
        "accreditation_id": "ACC-9",
        "accredited_until": "2030-01-01",
        "endorsement_expires": None,
    }
    fake.answer["/facilitators"] = problem(409, "already_exists")
    r = post(
        client,
        "/facilitators/new",
        facilitator_id="abc-123",
        name="Nia New",
        accreditation_id="ACC-9",
        **{
            "accredited_until-day": "1",
            "accredited_until-month": "1",
            "accredited_until-year": "2030",
        },
    )
    assert r.status_code == 400 and "already registered" in r.text


def test_case_page_in_words_with_gate_checklist(portal_factory: Any) -> None:
    client = client_for(portal_factory, Fake())
    page = client.get(f"/rj-cases/{CASE}")
    assert page.status_code == 200
    text = page.text
    assert "Preparing" in text and "Rhys North-RJ-Facilitator (you)" in text
    assert "The consent of the person who caused harm is not recorded" in text
    assert "does not record a passed coercion screen" in text
    assert "No safety plan is in place" in text
    assert text.count("Not met") == 5 and "Met</strong>" in text
    assert "PREP-NOTES" in text and "Sister" in text
    assert "Record a preparation meeting" in text and "Schedule a conference" in text
    assert "Assign a facilitator" not in text  # coordinators assign
    for code in ("offender_consent_missing", "no_safety_plan", "preparing"):
        assert code not in text


def test_unassigned_facilitator_reads_only_and_sees_withheld_fields(portal_factory: Any) -> None:
    doc = case_doc(facilitator_id="someone-else")
    del doc["preparation"], doc["conference_notes"]
    client = client_for(portal_factory, Fake(doc))
    text = client.get(f"/rj-cases/{CASE}").text
    assert "You are not assigned to this case" in text
    assert text.count("Withheld") >= 2
    assert "Record a preparation meeting" not in text and "Stop the case" not in text


def test_schedule_validates_and_gate_refusal_lists_conditions(portal_factory: Any) -> None:
    fake = Fake()
    client = client_for(portal_factory, fake)
    form = client.get(f"/rj-cases/{CASE}/schedule").text
    assert 'name="expected_version" value="4"' in form
    r = post(client, f"/rj-cases/{CASE}/schedule", expected_version="4")
    assert r.status_code == 400 and fake.sent == []
    for anchor in ("#modality", "#conference_date-day", "#conference_time"):
        assert f'href="{anchor}"' in r.text
    day = TODAY + timedelta(days=7)
    fields = {
        "expected_version": "4",
        "jurisdiction": "england-wales",
        "modality": "direct",
        "conference_date-day": str(day.day),
        "conference_date-month": str(day.month),
        "conference_date-year": str(day.year),
        "conference_time": "14:30",
    }
    fake.answer[f"/cases/{CASE}/conference"] = problem(
        409, "gate_refused", failed=["no_safety_plan"], modality="direct"
    )
    r = post(client, f"/rj-cases/{CASE}/schedule", **fields)
    assert r.status_code == 409 and "There is a problem" in r.text
    assert "No safety plan is in place" in r.text
    sent = fake.sent[-1][2]
    assert sent["expected_version"] == 4 and sent["modality"] == "direct"
    assert datetime.fromisoformat(sent["at_time"]).astimezone(UTC).date() == day

    fake.answer[f"/cases/{CASE}/conference"] = problem(412, "version_conflict")
    r = post(client, f"/rj-cases/{CASE}/schedule", **fields)
    assert r.status_code == 409 and "changed while you were working on it" in r.text
    assert f'href="/rj-cases/{CASE}"' in r.text

    del fake.answer[f"/cases/{CASE}/conference"]
    r = post(client, f"/rj-cases/{CASE}/schedule", **fields)
    assert r.status_code == 303


def test_preparation_needs_seen_alone_and_screen_for_the_victim(portal_factory: Any) -> None:
    fake = Fake()
    client = client_for(portal_factory, fake)
    r = post(client, f"/rj-cases/{CASE}/preparation", participant="victim")
    assert r.status_code == 400 and fake.sent == []
    assert 'href="#seen_alone"' in r.text and 'href="#coercion_screen"' in r.text
    r = post(
        client,
        f"/rj-cases/{CASE}/preparation",
        participant="victim",
        seen_alone="yes",
        coercion_screen="passed",
        support_persons="Sister\n\nFriend",
    )
    assert r.status_code == 303
    assert fake.sent[-1][2] == {
        "participant": "victim",
        "seen_alone": True,
        "coercion_screen": "passed",
        "support_persons": ["Sister", "Friend"],
        "notes": "",
    }
    r = post(client, f"/rj-cases/{CASE}/preparation", participant="offender")
    assert r.status_code == 303 and "seen_alone" not in fake.sent[-1][2]


def test_agreement_items_parsed_and_monitoring_marks_overdue(portal_factory: Any) -> None:
    fake = Fake(case_doc(status="conference_held"))
    client = client_for(portal_factory, fake)
    r = post(client, f"/rj-cases/{CASE}/agreement", item1_what="Attend a course")
    assert r.status_code == 400 and fake.sent == []
    assert 'href="#item1_owner"' in r.text and 'href="#item1_due-day"' in r.text
    due = TODAY + timedelta(days=30)
    r = post(
        client,
        f"/rj-cases/{CASE}/agreement",
        expected_version="4",
        item1_what="Attend a course",
        item1_owner="offender",
        item1_agency="rj_provider",
        **{"item1_due-day": str(due.day), "item1_due-month": str(due.month)},
        **{"item1_due-year": str(due.year)},
    )
    assert r.status_code == 303
    assert fake.sent[-1] == (
        "PUT",
        f"/cases/{CASE}/agreement",
        {
            "items": [
                {
                    "item_id": "item-1",
                    "what": "Attend a course",
                    "owner": "offender",
                    "due_date": due.isoformat(),
                    "monitoring_agency": "rj_provider",
                }
            ],
            "expected_version": 4,
        },
    )
    items = [
        {
            "item_id": "item-1",
            "what": "Attend a course",
            "owner": "offender",
            "due_date": "2026-01-01",
            "monitoring_agency": "rj_provider",
        },
        {
            "item_id": "item-2",
            "what": "Write a letter",
            "owner": "offender",
            "due_date": "2099-01-01",
            "monitoring_agency": "court",
        },
    ]
    fake.case = case_doc(
        status="monitoring",
        agreement_items=items,
        agreement_consents={
            "victim": {"agrees": True, "share_with_court": False, "at": "2026-03-05T10:00:00Z"}
        },
        compliance={
            "items": [
                {"item_id": "item-1", "status": "open", "due_date": "2026-01-01"},
                {"item_id": "item-2", "status": "open", "due_date": "2099-01-01"},
            ],
            "overdue": ["item-1"],
            "returned_to": None,
        },
    )
    text = client.get(f"/rj-cases/{CASE}").text
    row1 = text.split("Attend a course", 1)[1].split("</tr>", 1)[0]
    row2 = text.split("Write a letter", 1)[1].split("</tr>", 1)[0]
    assert "Overdue" in row1 and "Overdue" not in row2
    assert "/items/item-1/report" in row1 and "/report" not in row2  # the court reports item 2
    assert "Agreement being monitored" in text and "Agreement item overdue" in text
    assert "Before a conference can be scheduled" not in text  # the gate has done its work
    r = post(client, f"/rj-cases/{CASE}/items/item-1/report", status="completed")
    assert r.status_code == 400 and 'href="#evidence"' in r.text
    r = post(
        client, f"/rj-cases/{CASE}/items/item-1/report", status="completed", evidence="Cert 42"
    )
    assert r.status_code == 303
    assert fake.sent[-1][2] == {"status": "completed", "evidence": "Cert 42"}
    assert client.get(f"/rj-cases/{CASE}/items/nope/report").status_code == 404


def test_stop_goes_through_a_confirmation(portal_factory: Any) -> None:
    fake = Fake()
    client = client_for(portal_factory, fake)
    r = post(client, f"/rj-cases/{CASE}/stop/confirm")
    assert r.status_code == 400 and 'href="#reason"' in r.text
    r = post(client, f"/rj-cases/{CASE}/stop/confirm", reason="coercion_suspected")
    assert "Are you sure you want to stop this case?" in r.text
    assert "Coercion is suspected" in r.text and fake.sent == []
    r = post(client, f"/rj-cases/{CASE}/stop", reason="coercion_suspected")
    assert r.status_code == 303 and fake.sent[-1][2] == {"reason": "coercion_suspected"}
    fake.case = case_doc(status="stopped", stop_reason="coercion_suspected")
    text = client.get(f"/rj-cases/{CASE}").text
    assert "Stopped because: Coercion is suspected" in text


def test_another_organisations_case_is_not_found(portal_factory: Any) -> None:
    client = client_for(portal_factory, Fake(), "coordinator")
    page = client.get(f"/rj-cases/{OTHER}")
    assert page.status_code == 404
    assert "There is no case with this reference that you can see" in page.text


def test_parse_day_and_schedule_clock() -> None:
    values = {"d-day": "31", "d-month": "2", "d-year": "2030"}
    assert rj.parse_day(values, "d", "the date", required=True, not_before=None)[1].endswith(
        "must be a real date"
    )
    past = {"d-day": "1", "d-month": "1", "d-year": "2000"}
    assert (
        "today or in the future"
        in rj.parse_day(past, "d", "the date", required=True, not_before=date(2026, 1, 1))[1]
    )
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    body, errors = rj.validate_schedule(
        {
            "modality": "letter",
            "conference_date-day": "1",
            "conference_date-month": "7",
            "conference_date-year": "2026",
            "conference_time": "14.05",
        },
        "england-wales",
        now,
    )
    # 14:05 in London in July is 13:05 UTC: in the future.
    assert errors == {} and body["at_time"] == "2026-07-01T14:05:00+01:00"
    _, errors = rj.validate_schedule(
        {
            "modality": "letter",
            "conference_date-day": "1",
            "conference_date-month": "7",
            "conference_date-year": "2026",
            "conference_time": "12:30",
        },
        "england-wales",
        now,
    )
    assert errors == {"conference_time": "The conference must be in the future"}
