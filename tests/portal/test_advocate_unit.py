"""The advocate's screens on fake services: what each page shows in words, what the forms send
(and refuse to send), and that another organisation's case is not found."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from accord_portal import advocate, words
from fastapi.testclient import TestClient

from .conftest import problem, signed_in_as

CASE = "0b5f7a0e-6a53-4a9a-9f43-3f1f7f6e7a11"
OTHER = "9c1d2e3f-0000-4000-8000-000000000001"
CONSENT = "5e6f7a8b-1111-4222-8333-444455556666"
TODAY = datetime.now(UTC).date()
REFERRAL: dict[str, Any] = {
    "case_id": CASE,
    "status": "eligible_direct",
    "jurisdiction": "england-wales",
    "submitted_at": "2026-03-02T10:00:00Z",
    "deadlines": {
        "victim_information_due": "2026-03-09",
        "victim_support_referral_due": "2026-03-04",
    },
    "overdue": True,
    "victim_name": "Alex Marker-Victim",
    "risk_band": "medium",
}
VICTIM: dict[str, Any] = {
    "case_id": CASE,
    "victim_id": "v1",
    "version": 4,
    "name": "Alex Marker-Victim",
    "date_of_birth": "1990-03-27",
    "preferred_contact_method": "via_advocate",
    "language": "English",
    "interpreter_needed": False,
    "children": [{"age": 6, "needs": None}],
    "address": "1 Hidden Lane",
    "refuge": True,
    "safe_contact_method": "sms",
    # safe_contact_number withheld by policy
}
START = (TODAY - timedelta(days=1)).isoformat() + "T00:00:00+00:00"
END = (TODAY + timedelta(days=31)).isoformat() + "T00:00:00+00:00"
CONSENTS = [
    {
        "consent_id": CONSENT,
        "case_id": CASE,
        "scope": "share",
        "status": "active",
        "seen_alone": True,
        "lawful_basis": "consent",
        "provisions": [
            {
                "type": "permit",
                "agency": "police",
                "purposes": ["safeguarding"],
                "data_classes": ["safety.flags"],
                "start": START,
                "end": END,
            }
        ],
        "history": [{"action": "granted", "by": "a", "at": "2026-03-03T09:00:00Z"}],
    },
    {
        "consent_id": "7e6f7a8b-1111-4222-8333-444455556666",
        "case_id": CASE,
        "scope": "participate",
        "status": "withdrawn",
        "seen_alone": True,
        "lawful_basis": "consent",
        "provisions": [],
        "history": [],
    },
]


class Fake:
    def __init__(self, registered: bool = True) -> None:
        self.registered = registered
        self.posted: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if method != "GET":
            body = json.loads(request.content or b"null")
            self.posted.append((method, path, body))
            if path.endswith("/consents"):
                return httpx.Response(201, json={"consent_id": CONSENT})
            if path.endswith("/victim"):
                return httpx.Response(201, json={"case_id": CASE, "victim_id": "v1"})
            return httpx.Response(204)
        if OTHER in path:
            return problem(404, "not_found")
        if path == "/referrals":
            return httpx.Response(200, json=[REFERRAL])
        if path == f"/referrals/{CASE}":
            return httpx.Response(200, json=REFERRAL)
        if path == f"/victims/{CASE}/access-log":
            entry = {
                "at": "2026-03-04T10:00:00Z",
                "agency": "police",
                "org": "north-police",
                "role": "officer",
                "purpose": "safeguarding",
                "resource_type": "safety_flags",
                "decision": "permit",
            }
            return httpx.Response(200, json=[entry, entry])
        if not self.registered:
            return problem(404, "not_found")
        if path.endswith("/victim"):
            return httpx.Response(200, json=VICTIM)
        if path.endswith("/consents"):
            return httpx.Response(200, json=CONSENTS)
        if path.endswith("/consent-summary"):
            return httpx.Response(200, json={"case_id": CASE})
        if path.endswith("/safety-flags"):
            flag = {"code": "threats_to_kill", "severity": "high", "raised_at": "2026-03-03"}
            return httpx.Response(200, json={"case_id": CASE, "flags": [flag]})
        if path.endswith("/safety-plan"):
            return httpx.Response(
                200, json={"exists": True, "review_date": "2026-01-01", "content": "Plan"}
            )
        return problem(404, "not_found")


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest.fixture
def client(portal_factory: Any, fake: Fake) -> TestClient:
    client = TestClient(portal_factory(fake), follow_redirects=False)
    signed_in_as(client, "victim_services", "advocate", "north-advocacy", "Priya Advocate")
    return client


def text(response: httpx.Response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.text)))


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, path
    return found.group(1)


def test_cases_list_in_words(client: TestClient) -> None:
    page = text(client.get("/victims"))
    for shown in ("0B5F7A0E", "2 March 2026", "Medium", "9 March 2026", "Overdue", "Yes"):
        assert shown in page, shown
    assert "victim_information_due" not in page and "medium" not in page


def test_case_page_is_a_task_list_with_statuses(client: TestClient) -> None:
    page = text(client.get(f"/victims/{CASE}"))
    for shown in (
        "Register the victim Identity, contact and confidential location details Completed",
        "1 active",
        "1 raised",
        "Review overdue",
        "Who accessed this victim's data",
    ):
        assert shown in page, shown


def test_unregistered_case_cannot_start_other_tasks(portal_factory: Any) -> None:
    client = TestClient(portal_factory(Fake(registered=False)), follow_redirects=False)
    signed_in_as(client, "victim_services", "advocate", "north-advocacy")
    page = text(client.get(f"/victims/{CASE}"))
    assert page.count("Cannot start yet") == 5  # incl. inviting the victim to their view
    assert "Not yet started" in page
    assert client.get(f"/victims/{CASE}/consents/new").headers["location"].endswith("/victim/new")
    assert "Not yet" in text(client.get("/victims"))


def test_victim_record_marks_location_confidential_and_withheld(client: TestClient) -> None:
    page = text(client.get(f"/victims/{CASE}/victim"))
    assert "Confidential. Never shown to the person who caused harm" in page
    assert "1 Hidden Lane" in page and "Only through their advocate" in page
    assert "Safe contact number Withheld" in page
    assert "In a refuge Yes" in page and "Aged 6" in page


def test_register_refuses_bad_input_and_sends_good(client: TestClient, fake: Fake) -> None:
    token = csrf(client, f"/victims/{CASE}/safety-flags")
    bad = client.post(
        f"/victims/{CASE}/victim/new",
        data={
            "csrf_token": token,
            "name": "",
            "safe_contact_number": "call me",
            "child-1-age": "x",
        },
    )
    assert bad.status_code == 400
    assert 'href="#name"' in bad.text and 'href="#safe_contact_number"' in bad.text
    assert 'href="#children"' in bad.text or 'href="#child-1-age"' in bad.text
    assert fake.posted == []
    good = client.post(
        f"/victims/{CASE}/victim/new",
        data={
            "csrf_token": token,
            "name": "Alex",
            "safe_contact_number": "07700 900123",
            "refuge": "no",
            "preferred_contact_method": "phone",
            "interpreter_needed": "no",
            "language": "English",
            "child-1-age": "6",
        },
    )
    assert good.status_code == 303
    (_, path, body) = fake.posted[0]
    assert path == f"/cases/{CASE}/victim"
    assert body["children"] == [{"age": 6, "needs": ""}] and body["refuge"] is False


def consent_form(**extra: str) -> dict[str, str]:
    end = TODAY + timedelta(days=30)
    return {
        "scope": "share",
        "provisions": "1",
        "p1_type": "permit",
        "p1_agency": "police",
        "p1_purpose_safeguarding": "yes",
        "p1_class_safety_flags": "yes",
        "p1_start-day": str(TODAY.day),
        "p1_start-month": str(TODAY.month),
        "p1_start-year": str(TODAY.year),
        "p1_end-day": str(end.day),
        "p1_end-month": str(end.month),
        "p1_end-year": str(end.year),
        "lawful_basis": "consent",
        "seen_alone": "yes",
        **extra,
    }


def test_parse_consent_builds_the_api_body() -> None:
    body, errors = advocate.parse_consent(consent_form())
    assert errors == {}
    (p,) = body["provisions"]
    assert p["agency"] == "police" and p["data_classes"] == ["safety.flags"]
    assert p["purposes"] == ["safeguarding"]
    assert p["start"] == f"{TODAY.isoformat()}T00:00:00+00:00"
    assert p["end"] == f"{(TODAY + timedelta(days=31)).isoformat()}T00:00:00+00:00"
    assert body["seen_alone"] is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seen_alone": ""}, "seen_alone"),
        ({"scope": ""}, "scope"),
        ({"p1_agency": "offender"}, "p1_agency"),
        ({"p1_purpose_safeguarding": ""}, "p1_purpose"),
        ({"p1_class_safety_flags": ""}, "p1_class"),
        ({"p1_end-year": "2001"}, "p1_end"),
        ({"p1_start-day": "31", "p1_start-month": "2"}, "p1_start"),
    ],
)
def test_parse_consent_refuses(change: dict[str, str], field: str) -> None:
    _, errors = advocate.parse_consent(consent_form(**change))
    assert field in errors


def test_participate_consent_needs_no_data_class() -> None:
    _, errors = advocate.parse_consent(consent_form(scope="participate", p1_class_safety_flags=""))
    assert errors == {}


def test_consent_journey_check_answers_then_submit(client: TestClient, fake: Fake) -> None:
    token = csrf(client, f"/victims/{CASE}/consents/new")
    empty = client.post(f"/victims/{CASE}/consents/new", data={"csrf_token": token})
    assert empty.status_code == 400
    assert 'href="#seen_alone"' in empty.text and 'href="#p1_purpose_case_management"' in empty.text
    added = client.post(
        f"/victims/{CASE}/consents/new", data={"csrf_token": token, "action": "add"}
    )
    assert 'id="p2_agency"' in added.text and "There is a problem" not in added.text
    check = client.post(
        f"/victims/{CASE}/consents/new", data={"csrf_token": token, **consent_form()}
    )
    page = text(check)
    assert "Check the consent before recording it" in page
    assert "Allow: Police. Information: Safety flags. For: Safeguarding." in page
    assert fake.posted == []
    sent = client.post(
        f"/victims/{CASE}/consents/new/submit", data={"csrf_token": token, **consent_form()}
    )
    assert sent.headers["location"] == f"/victims/{CASE}/consents/{CONSENT}/recorded"
    assert fake.posted[0][1] == f"/cases/{CASE}/consents"
    recorded = text(client.get(sent.headers["location"]))
    assert "Consent recorded" in recorded


def test_consents_listed_with_status_and_withdraw_in_one_action(
    client: TestClient, fake: Fake
) -> None:
    page = client.get(f"/victims/{CASE}/consents")
    words_ = text(page)
    assert "Active" in words_ and "Withdrawn" in words_
    # Only the active consent can be withdrawn.
    assert page.text.count('/withdraw"') == 1
    confirm = text(client.get(f"/victims/{CASE}/consents/{CONSENT}/withdraw"))
    assert "Are you sure you want to withdraw this consent?" in confirm
    token = csrf(client, f"/victims/{CASE}/consents/{CONSENT}/withdraw")
    done = client.post(
        f"/victims/{CASE}/consents/{CONSENT}/withdraw", data={"csrf_token": token, "reason": ""}
    )
    assert done.headers["location"] == f"/victims/{CASE}/consents"
    assert fake.posted == [("POST", f"/consents/{CONSENT}/withdrawal", {"reason": None})]
    assert advocate.WITHDRAWN_BANNER in text(client.get(f"/victims/{CASE}/consents"))


def test_a_consent_of_another_case_is_not_found(client: TestClient) -> None:
    other = "0000aaaa-1111-4222-8333-444455556666"
    assert client.get(f"/victims/{CASE}/consents/{other}/withdraw").status_code == 404


def test_flags_raise_and_clear(client: TestClient, fake: Fake) -> None:
    page = text(client.get(f"/victims/{CASE}/safety-flags"))
    assert "Threats to kill" in page and "High" in page
    token = csrf(client, f"/victims/{CASE}/safety-flags")
    bad = client.post(f"/victims/{CASE}/safety-flags", data={"csrf_token": token})
    assert bad.status_code == 400 and 'href="#code"' in bad.text
    ok = client.post(
        f"/victims/{CASE}/safety-flags",
        data={
            "csrf_token": token,
            "code": "stalking",
            "severity": "medium",
            "expected_version": "4",
        },
    )
    assert ok.status_code == 303
    assert fake.posted[-1][2] == {"code": "stalking", "severity": "medium", "expected_version": 4}
    no_reason = client.post(
        f"/victims/{CASE}/safety-flags/threats_to_kill/clear", data={"csrf_token": token}
    )
    assert no_reason.status_code == 400
    assert client.get(f"/victims/{CASE}/safety-flags/stalking/clear").status_code == 404


def test_plan_review_date_must_not_be_past(client: TestClient, fake: Fake) -> None:
    page = text(client.get(f"/victims/{CASE}/safety-plan"))
    assert "Review overdue" in page and "Plan" in page
    token = csrf(client, f"/victims/{CASE}/safety-plan")
    past = date(2020, 1, 1)
    bad = client.post(
        f"/victims/{CASE}/safety-plan",
        data={
            "csrf_token": token,
            "content": "Stay with sister",
            "review_date-day": str(past.day),
            "review_date-month": str(past.month),
            "review_date-year": str(past.year),
        },
    )
    assert bad.status_code == 400 and 'href="#review_date-day"' in bad.text
    assert fake.posted == []


def test_access_log_in_words(client: TestClient) -> None:
    page = text(client.get(f"/victims/{CASE}/access-log"))
    for shown in ("4 March 2026", "Police", "Officer", "Safeguarding", "Safety flags", "Shown"):
        assert shown in page, shown
    assert "safety_flags" not in page and "safeguarding" not in page


def test_another_organisations_case_is_not_found(client: TestClient) -> None:
    for path in ("", "/victim", "/consents", "/safety-flags", "/safety-plan", "/access-log"):
        response = client.get(f"/victims/{OTHER}{path}")
        assert response.status_code == 404, path
        assert "There is no case with this reference that you can see" in response.text


def test_other_roles_do_not_get_these_screens(portal_factory: Any, fake: Fake) -> None:
    client = TestClient(portal_factory(fake), follow_redirects=False)
    signed_in_as(client, "police", "officer", "north-police")
    assert client.get("/victims").status_code == 403


def test_domain_refusals_name_the_field() -> None:
    from accord_portal.api_client import Invalid

    exc = Invalid(422, "validation_failed", extensions={"field": "children[0].age"})
    errors = advocate.invalid_fields(exc, advocate.VICTIM_API_FIELDS, "name")
    assert list(errors) == ["children"]


def test_words_cover_the_service_vocabularies() -> None:
    from accord_victim_support.api import schemas

    assert set(words.CONTACT_METHODS) == set(schemas.ContactMethod.__args__)
    assert set(words.SAFETY_FLAGS) == set(schemas.FlagCode.__args__)
    assert set(words.PURPOSES) == set(schemas.PurposeName.__args__)
    assert set(words.CONSENT_AGENCIES) <= set(schemas.Agency.__args__)
    assert set(words.CONSENT_CLASSES) <= set(schemas.DataClass.__args__)
