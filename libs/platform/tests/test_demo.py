"""The pure parts of `accord demo`, and its step bookkeeping against an in-memory platform."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from accord_conference.api.cases import (
    AgreementConsentIn,
    AgreementIn,
    FacilitatorIn,
    ItemReportIn,
    PreparationIn,
)
from accord_kernel.dev_tokens import ensure_dev_keys
from accord_platform.demo import (
    ITEM_REPORTS,
    Catalogue,
    Journey,
    JourneyHalted,
    Platform,
    access_summary,
    agreement_body,
    audit_records,
    describe_checkpoint,
    facilitator_body,
    fill,
    find_decision_route,
    find_route,
    participate_consent_body,
    poll,
    referral_body,
    route_shape,
    share_flags_consent_body,
    victim_body,
    visibility,
    walk,
)
from accord_referral.api.schemas import ReferralIn
from accord_victim_support.api.schemas import ConsentIn, VictimIn
from rich.console import Console

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
FIELDS = {
    "case_id": "case.core",
    "name": "party.identity",
    "address": "victim.location",
    "safe_contact_number": "victim.location",
    "support_notes": "support.notes",
}


# --- what an agency could and could not see -----------------------------------------------------


def test_visibility_groups_withheld_fields_by_data_class() -> None:
    seen = visibility(FIELDS, 200, {"case_id": "c1", "name": "A"})
    assert seen.returned == ("case_id", "name")
    assert seen.withheld == {
        "support.notes": ("support_notes",),
        "victim.location": ("address", "safe_contact_number"),
    }
    assert seen.uncatalogued == ()
    assert seen.saw_anything


def test_a_refusal_withholds_every_field() -> None:
    refused = visibility(FIELDS, 403, {"code": "access_denied", "status": 403})
    assert refused.returned == ()
    assert not refused.saw_anything
    assert sum(len(names) for names in refused.withheld.values()) == len(FIELDS)


def test_a_field_the_catalogue_does_not_know_is_called_out() -> None:
    seen = visibility(FIELDS, 200, {"case_id": "c1", "refuge_name": "x"})
    assert seen.uncatalogued == ("refuge_name",)
    assert "refuge_name" not in seen.returned


def test_catalogue_is_the_policy_data_file() -> None:
    catalogue = Catalogue.load()
    assert catalogue.fields("victim_record")["address"] == "victim.location"
    assert catalogue.fields("court_case")["items_text"] == "agreement.items"
    assert catalogue.fields("no_such_resource") == {}


# --- the journey's request bodies are what the real APIs accept ---------------------------------


def test_referral_body_is_a_valid_victim_initiated_referral() -> None:
    body = ReferralIn.model_validate(referral_body("T2026000123", TODAY))
    assert body.initiated_by == "victim"
    assert body.court_reference == "T2026000123"
    assert sum(body.risk_assessment.answers.values()) == 3


def test_victim_services_bodies_validate() -> None:
    VictimIn.model_validate(victim_body())
    participate = ConsentIn.model_validate(participate_consent_body(NOW))
    share = ConsentIn.model_validate(share_flags_consent_body(NOW))
    assert participate.scope == "participate"
    assert share.provisions[0].data_classes == ["safety.flags"]
    assert share.provisions[0].purposes == ["safeguarding"]
    assert share.provisions[0].start < NOW < share.provisions[0].end


def test_provider_bodies_validate() -> None:
    facilitator = FacilitatorIn.model_validate(facilitator_body("fac-0001", TODAY))
    assert facilitator.endorsement_expires is not None
    assert facilitator.endorsement_expires > TODAY
    agreement = AgreementIn.model_validate(agreement_body(TODAY))
    assert {i.item_id for i in agreement.items} == {item for item, _, _ in ITEM_REPORTS}
    PreparationIn.model_validate(
        {"participant": "victim", "seen_alone": True, "coercion_screen": "passed"}
    )
    AgreementConsentIn.model_validate({"party": "victim", "agrees": True, "share_with_court": True})
    for _, status, evidence in ITEM_REPORTS:
        ItemReportIn.model_validate({"status": status, "evidence": evidence})
    # The breach comes last: it returns the case to court, after which nothing is reportable.
    assert [status for _, status, _ in ITEM_REPORTS] == ["completed", "completed", "breached"]


# --- routes of services still being written -----------------------------------------------------

OPENAPI = {
    "paths": {
        "/court-cases/{reference}": {"get": {}},
        "/court-cases/{reference}/review-decisions": {"post": {}},
        "/health/ready": {"get": {}},
    }
}


def test_routes_are_matched_whatever_their_parameters_are_called() -> None:
    assert route_shape("/cases/{case_id}/items/{item}") == "/cases/{}/items/{}"
    assert find_route(OPENAPI, "GET", "/court-cases/{}") == "/court-cases/{reference}"
    assert find_route(OPENAPI, "POST", "/court-cases/{}") is None
    assert find_decision_route(OPENAPI) == "/court-cases/{reference}/review-decisions"
    assert find_decision_route({"paths": {"/court-cases/{r}": {"post": {}}}}) is None
    assert fill("/cases/{case_id}/items/{item}", "c1", "i2") == "/cases/c1/items/i2"


# --- audit answers --------------------------------------------------------------------------------


def test_access_records_are_grouped_by_reader_resource_and_decision() -> None:
    records = [
        {
            "agency": "police",
            "role": "officer",
            "resource_type": "victim_record",
            "purpose": "case_management",
            "decision": "permit",
            "fields_withheld": {"address": "consent_missing"},
        },
        {
            "agency": "police",
            "role": "officer",
            "resource_type": "victim_record",
            "purpose": "case_management",
            "decision": "permit",
            "fields_withheld": {"safe_contact_number": "consent_missing"},
        },
        {
            "agency": "court",
            "role": "clerk",
            "resource_type": "safety_flags",
            "purpose": "case_management",
            "decision": "deny",
            "break_glass": False,
            "fields_withheld": {"flags": "never"},
        },
    ]
    summary = access_summary(records)
    assert [(r["reader"], r["reads"]) for r in summary] == [
        ("court/clerk", 1),
        ("police/officer", 2),
    ]
    assert summary[1]["withheld"] == ["address", "safe_contact_number"]
    assert audit_records({"records": records}) == records
    assert audit_records(records[:1]) == records[:1]
    assert audit_records({"unexpected": 1}) == []


def test_a_signed_note_checkpoint_is_described() -> None:
    note = (
        "accord.example/audit\n42\nq1VtnHUJ0jy1aUNkyzgVe2Ho7kUdLXxIBPKWcq/Jk64=\n\n"
        "\u2014 accord.example/audit AAAAAbase64signature==\n"
    )
    line = describe_checkpoint(note)
    assert line.startswith("accord.example/audit: size 42, root q1VtnHUJ0jy1aUNk")
    assert line.endswith("signed by accord.example/audit")
    assert describe_checkpoint({"checkpoint": note}) == line
    assert describe_checkpoint({"tree_size": 7, "root_hash": "ab" * 32}).startswith("size 7")
    assert describe_checkpoint("origin only").startswith("malformed")


# --- waiting ------------------------------------------------------------------------------------


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_poll_returns_the_first_truthy_answer_and_the_wait() -> None:
    clock = FakeClock()
    answers = iter([None, [], {"status": "eligible_direct"}])
    found, waited = poll(
        lambda: next(answers), timeout=30, interval=0.5, clock=clock, sleep=clock.sleep
    )
    assert found == {"status": "eligible_direct"}
    assert waited == 1.0


def test_poll_gives_up_at_the_bound() -> None:
    clock = FakeClock()
    calls: list[int] = []
    found, waited = poll(
        lambda: calls.append(1), timeout=3, interval=0.5, clock=clock, sleep=clock.sleep
    )
    assert found is None
    assert waited == 3.0
    assert len(calls) == 7


# --- step bookkeeping against an in-memory platform ---------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def journey_on(handler: Handler, tmp_path: Path) -> Journey:
    ensure_dev_keys(tmp_path)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    clock = FakeClock()
    return Journey(
        Platform("http://127.0.0.1", tmp_path, client),
        Console(file=io.StringIO(), width=200),
        Catalogue.load(),
        wait_seconds=2,
        clock=clock,
        sleep=clock.sleep,
    )


def problem(status: int, code: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "type": f"https://accord.example/problems/{code}",
            "code": code,
            "status": status,
            "detail": code,
        },
        headers={"content-type": "application/problem+json"},
    )


def test_a_court_service_that_is_not_running_is_skipped_not_failed(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    journey = journey_on(handler, tmp_path)
    journey.court()
    journey.audit()
    assert [s.outcome for s in journey.steps] == ["skipped", "skipped", "skipped"]
    assert "court service is not running" in journey.steps[0].note
    assert journey.failures == []


def test_a_missing_court_route_is_skipped_but_a_missing_case_fails(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json=OPENAPI if request.url.port == 8104 else {"paths": {}})
        return problem(404, "not_found")

    journey = journey_on(handler, tmp_path)
    journey.court_reference = "T2026000001"
    journey.court()
    court_read = journey.steps[0]
    assert court_read.outcome == "failed"
    assert court_read.status == 404
    assert court_read.waited is not None and court_read.waited >= 2
    journey.audit()
    assert [s.outcome for s in journey.steps[-2:]] == ["skipped", "skipped"]
    assert "has no GET /cases/{}/access yet" in journey.steps[-2].note


def test_views_count_a_policy_refusal_as_an_answer_and_a_500_as_a_failure(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        payload = json.loads(_b64(token.split(".")[1]))
        if payload["agency"] == "court":
            return problem(403, "access_denied")
        if payload["agency"] == "rj_provider":
            return problem(500, "internal_error")
        return httpx.Response(200, json={"case_id": "c1", "flags": []})

    from accord_platform.demo import CLERK, COORDINATOR, POLICE

    journey = journey_on(handler, tmp_path)
    journey.views(
        "Flags",
        "safety_flags",
        "victim-support",
        "/cases/c1/safety-flags",
        [POLICE, CLERK, COORDINATOR],
    )
    outcomes = {s.actor: (s.outcome, s.status) for s in journey.steps}
    assert outcomes == {
        "police/officer": ("ok", 200),
        "court/clerk": ("ok", 403),
        "rj_provider/coordinator": ("failed", 500),
    }


def test_an_essential_command_that_fails_halts_the_journey(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return problem(422, "validation_failed")

    journey = journey_on(handler, tmp_path)
    with pytest.raises(JourneyHalted):
        journey.police_refer(TODAY)
    assert journey.failures[0].note.startswith("validation_failed")


def test_walk_refuses_without_the_platforms_signing_key(tmp_path: Path) -> None:
    console = Console(file=io.StringIO())
    assert walk("http://127.0.0.1", tmp_path / "no-keys", console) == 2
    assert not (tmp_path / "no-keys").exists()


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
