from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from accord_conference.domain import (
    STOP_REASONS,
    EndorsementInvalid,
    Facilitator,
    InvalidState,
    ItemAlreadyReported,
    RJCase,
    UnknownItem,
    UnknownStopReason,
    ValidationFailed,
)

from .conftest import (
    CONFERENCE_AT,
    COORDINATOR,
    FACILITATOR,
    T0,
    TODAY,
    at,
    event_names,
    opened,
    prepared,
)

ITEMS: list[dict[str, Any]] = [
    {
        "item_id": "apology",
        "what": "Written apology",
        "owner": "offender",
        "due_date": "2025-04-01",
        "monitoring_agency": "rj_provider",
    },
    {
        "item_id": "programme",
        "what": "Complete a perpetrator programme",
        "owner": "offender",
        "due_date": date(2025, 9, 30),
        "monitoring_agency": "police",
    },
]


def scheduled(modality: str = "direct", **condition: Any) -> RJCase:
    case = prepared(**condition)
    case.schedule_conference(modality, CONFERENCE_AT, TODAY, True, COORDINATOR)
    return case


def held(**condition: Any) -> RJCase:
    case = scheduled(**condition)
    case.record_conference_held(CONFERENCE_AT, "both attended; apology offered", FACILITATOR)
    return case


def agreed(court_reference: str | None = "T20250001", share: bool = True) -> RJCase:
    case = held(court_reference=court_reference)
    case.draft_agreement(ITEMS, FACILITATOR, at(300))
    case.record_agreement_consent("victim", True, share, at(301))
    case.record_agreement_consent("offender", True, True, at(302))
    return case


# --- opening and stages ---------------------------------------------------------------------
def test_opening_keeps_the_case_id_and_starts_open() -> None:
    case_id = str(uuid.uuid4())
    case = opened(case_id=case_id)
    assert case.id == uuid.UUID(case_id)
    assert case.case_id == case_id
    assert (case.status, case.eligibility, case.risk_band, case.direct_max_band) == (
        "open",
        "eligible_direct",
        "standard",
        "medium",
    )
    assert event_names(case) == ["Opened"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"case_id": "not-a-uuid"},
        {"eligibility": "ineligible"},
        {"risk_band": "severe"},
        {"direct_max_band": "extreme"},
        {"at": T0.replace(tzinfo=None)},
    ],
)
def test_opening_refuses_malformed_arguments(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        opened(**overrides)


def test_the_happy_path_walks_every_stage() -> None:
    case = opened(court_reference="T20250001")
    stages = [case.status]
    case.assign_facilitator(FACILITATOR, True, TODAY, COORDINATOR)
    stages.append(case.status)
    case.note_participate_consent(True, at(1))
    case.record_offender_consent(True, at(2))
    case.record_preparation("victim", FACILITATOR, at(3), seen_alone=True, coercion_screen="passed")
    case.record_preparation("offender", FACILITATOR, at(4))
    case.record_preparation("victim_support_person", FACILITATOR, at(5))
    case.note_safety_plan(True, at(6))
    case.schedule_conference("direct", CONFERENCE_AT, TODAY, True, COORDINATOR)
    stages.append(case.status)
    case.record_conference_held(CONFERENCE_AT, "notes", FACILITATOR)
    stages.append(case.status)
    case.draft_agreement(ITEMS, FACILITATOR, at(300))
    stages.append(case.status)
    case.record_agreement_consent("victim", True, True, at(301))
    case.record_agreement_consent("offender", True, True, at(302))
    stages.append(case.status)
    case.complete_item("apology", "letter received", "rj_provider", at(400))
    case.complete_item("programme", "certificate", "police", at(500))
    stages.append(case.status)
    assert stages == [
        "open",
        "preparing",
        "scheduled",
        "conference_held",
        "agreement",
        "monitoring",
        "completed",
    ]
    assert event_names(case) == [
        "Opened",
        "FacilitatorAssigned",
        "ParticipateConsentNoted",
        "OffenderConsentRecorded",
        "PreparationRecorded",
        "PreparationRecorded",
        "PreparationRecorded",
        "SafetyPlanNoted",
        "ConferenceScheduled",
        "ConferenceHeld",
        "AgreementDrafted",
        "AgreementConsentRecorded",
        "AgreementConsentRecorded",
        "AgreementAgreed",
        "ItemCompleted",
        "ItemCompleted",
        "CaseCompleted",
    ]


@pytest.mark.parametrize(
    ("build", "command"),
    [
        (opened, lambda c: c.record_preparation("offender", FACILITATOR, at(1))),
        (opened, lambda c: c.schedule_conference("direct", CONFERENCE_AT, TODAY, True, "x")),
        (prepared, lambda c: c.record_conference_held(CONFERENCE_AT, "", FACILITATOR)),
        (prepared, lambda c: c.draft_agreement(ITEMS, FACILITATOR, at(9))),
        (scheduled, lambda c: c.record_agreement_consent("victim", True, True, at(9))),
        (held, lambda c: c.complete_item("apology", "e", "rj_provider", at(9))),
        (prepared, lambda c: c.resume(COORDINATOR, at(9))),
    ],
)
def test_invalid_transitions_name_the_current_state(build: Any, command: Any) -> None:
    case = build()
    status = case.status
    with pytest.raises(InvalidState) as refused:
        command(case)
    assert refused.value.code == "invalid_state"
    assert refused.value.details["state"] == status
    assert case.status == status


# --- facilitators ---------------------------------------------------------------------------
def test_a_facilitator_whose_endorsement_expired_yesterday_is_refused() -> None:
    facilitator = Facilitator.register(
        "user-fac-2",
        "Jo",
        "rj-north",
        "RJC-2",
        date(2027, 1, 1),
        TODAY - timedelta(days=1),
    )
    case = opened()
    with pytest.raises(EndorsementInvalid) as refused:
        case.assign_facilitator(
            facilitator.facilitator_id,
            facilitator.has_valid_endorsement(TODAY),
            TODAY,
            COORDINATOR,
        )
    assert refused.value.code == "endorsement_invalid"
    assert (case.status, case.facilitator_id) == ("open", None)


def test_a_co_facilitator_needs_an_endorsement_and_a_lead_first() -> None:
    case = opened()
    with pytest.raises(InvalidState):
        case.assign_facilitator("user-co", True, TODAY, COORDINATOR, role="co")
    case.assign_facilitator(FACILITATOR, True, TODAY, COORDINATOR)
    with pytest.raises(EndorsementInvalid):
        case.assign_facilitator("user-co", False, TODAY, COORDINATOR, role="co")
    with pytest.raises(ValidationFailed):
        case.assign_facilitator(FACILITATOR, True, TODAY, COORDINATOR, role="co")
    case.assign_facilitator("user-co", True, TODAY, COORDINATOR, role="co")
    assert (case.facilitator_id, case.co_facilitator_id) == (FACILITATOR, "user-co")


def test_the_victims_meeting_must_state_seen_alone_and_the_screen() -> None:
    case = prepared(victim_preparation=False)
    with pytest.raises(ValidationFailed) as refused:
        case.record_preparation("victim", FACILITATOR, at(9), coercion_screen="passed")
    assert refused.value.details == {"field": "seen_alone"}
    with pytest.raises(ValidationFailed):
        case.record_preparation("victim", FACILITATOR, at(9), seen_alone=True)
    with pytest.raises(ValidationFailed):
        case.record_preparation(
            "victim", FACILITATOR, at(9), seen_alone=True, coercion_screen="inconclusive"
        )


def test_preparation_records_support_persons_and_childrens_needs() -> None:
    case = prepared()
    victim = case.preparations[0]
    assert victim["participant"] == "victim"
    assert victim["support_persons"] == ["sister"]
    assert victim["childrens_needs"] == "two children, school-age"
    assert (victim["seen_alone"], victim["coercion_screen"]) == (True, "passed")


# --- automatic stop and suspension ----------------------------------------------------------
@pytest.mark.parametrize("build", [opened, prepared, scheduled, held, agreed])
def test_withdrawn_participate_consent_stops_a_live_case_at_once(build: Any) -> None:
    case = build()
    case.collect_events()
    case.note_participate_consent(False, at(600))
    assert case.status == "stopped"
    assert (case.stop_reason, case.stopped_by, case.stopped_at) == (
        "victim_withdrew",
        None,
        at(600),
    )
    events = case.collect_events()
    assert [type(e).__name__ for e in events] == ["ParticipateConsentNoted", "CaseStopped"]
    assert events[1].automatic is True  # type: ignore[attr-defined]


def test_withdrawal_on_a_closed_case_is_recorded_without_a_second_stop() -> None:
    case = prepared()
    case.stop("facilitator_judgement", COORDINATOR, at(9))
    case.collect_events()
    case.note_participate_consent(False, at(10))
    assert (case.status, case.stop_reason) == ("stopped", "facilitator_judgement")
    assert event_names(case) == ["ParticipateConsentNoted"]


def test_escalation_over_the_limit_suspends_a_scheduled_direct_conference() -> None:
    case = scheduled()
    case.collect_events()
    case.note_risk_band("high", "medium", at(100))
    assert (case.status, case.suspension_reason) == ("suspended", "risk_escalated")
    assert case.conference_at is None
    assert event_names(case) == ["RiskBandNoted", "ConferenceSuspended"]


def test_escalation_within_the_limit_or_for_letters_suspends_nothing() -> None:
    within = scheduled()
    within.note_risk_band("medium", "medium", at(100))
    assert within.status == "scheduled"
    letters = scheduled("letter")
    letters.note_risk_band("high", "medium", at(100))
    assert letters.status == "scheduled"
    preparing = prepared()
    preparing.note_risk_band("high", "medium", at(100))
    assert preparing.status == "preparing"


def test_a_suspended_case_resumes_to_preparation_and_must_pass_the_gate_again() -> None:
    case = scheduled()
    case.note_risk_band("high", "medium", at(100))
    case.resume(COORDINATOR, at(101))
    assert case.status == "preparing"
    assert case.direct_gate_failures(TODAY, True) == ["risk_band_above_direct_limit"]
    case.schedule_conference("shuttle", CONFERENCE_AT, TODAY, True, COORDINATOR)
    assert (case.status, case.modality) == ("scheduled", "shuttle")


def test_an_offender_withdrawing_given_consent_stops_the_case() -> None:
    case = prepared()
    case.record_offender_consent(False, at(9))
    assert (case.status, case.stop_reason) == ("stopped", "offender_withdrew")


def test_an_offender_first_declining_is_only_recorded() -> None:
    case = prepared(offender_consent=False)
    case.record_offender_consent(False, at(9))
    assert case.status == "preparing"
    assert not case.offender_consent


# --- stops ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reason", STOP_REASONS)
def test_a_case_can_be_stopped_with_each_reason(reason: str) -> None:
    case = scheduled()
    case.stop(reason, COORDINATOR, at(50))
    assert (case.status, case.stop_reason, case.stopped_by) == ("stopped", reason, COORDINATOR)
    assert case.is_terminal


@pytest.mark.parametrize("build", [opened, prepared, scheduled, held, agreed])
def test_stopping_is_possible_from_every_live_stage(build: Any) -> None:
    case = build()
    case.stop("coercion_suspected", COORDINATOR, at(700))
    assert case.status == "stopped"


def test_a_suspended_case_can_be_stopped() -> None:
    case = scheduled()
    case.note_risk_band("high", "medium", at(100))
    case.stop("risk_escalated", COORDINATOR, at(101))
    assert case.status == "stopped"


def test_unknown_stop_reasons_are_refused() -> None:
    case = prepared()
    with pytest.raises(UnknownStopReason) as refused:
        case.stop("changed_mind", COORDINATOR, at(9))
    assert refused.value.code == "unknown_stop_reason"
    assert case.status == "preparing"


def test_a_stopped_case_cannot_be_stopped_again() -> None:
    case = prepared()
    case.stop("continuing_violence", COORDINATOR, at(9))
    with pytest.raises(InvalidState) as refused:
        case.stop("facilitator_judgement", COORDINATOR, at(10))
    assert refused.value.details["state"] == "stopped"


# --- conference and agreement ---------------------------------------------------------------
def test_conference_notes_are_kept() -> None:
    case = held()
    assert case.conference_notes == "both attended; apology offered"
    assert case.conference_held_at == CONFERENCE_AT


def test_the_agreement_is_agreed_only_when_both_parties_agree() -> None:
    case = held()
    case.draft_agreement(ITEMS, FACILITATOR, at(300))
    case.record_agreement_consent("victim", True, True, at(301))
    assert (case.status, case.agreement_status) == ("agreement", "draft")
    case.record_agreement_consent("offender", False, True, at(302))
    assert (case.status, case.agreement_agreed) == ("agreement", False)
    case.record_agreement_consent("offender", True, True, at(303))
    assert (case.status, case.agreement_status) == ("monitoring", "agreed")
    assert case.outcome_shared_with_court


def test_the_outcome_is_shared_with_the_court_only_if_both_consent() -> None:
    assert not agreed(share=False).outcome_shared_with_court
    case = agreed(share=True)
    assert case.outcome_shared_with_court
    case.withdraw_outcome_sharing("offender", at(310))
    assert not case.outcome_shared_with_court
    assert case.agreement_agreed


def test_a_redraft_voids_consents_given_to_the_last_draft() -> None:
    case = held()
    case.draft_agreement(ITEMS, FACILITATOR, at(300))
    case.record_agreement_consent("victim", True, True, at(301))
    case.draft_agreement(ITEMS[:1], FACILITATOR, at(302))
    assert case.agreement_consents == {}
    assert [i["item_id"] for i in case.agreement_items] == ["apology"]


@pytest.mark.parametrize(
    "items",
    [
        [],
        [{**ITEMS[0], "owner": "court"}],
        [{**ITEMS[0], "monitoring_agency": "probation"}],
        [{**ITEMS[0], "due_date": "next week"}],
        [ITEMS[0], ITEMS[0]],
        [{k: v for k, v in ITEMS[0].items() if k != "what"}],
        [{**ITEMS[0], "address": "1 Quiet Lane"}],
    ],
)
def test_malformed_agreement_items_are_refused(items: list[dict[str, Any]]) -> None:
    case = held()
    with pytest.raises(ValidationFailed):
        case.draft_agreement(items, FACILITATOR, at(300))
    assert case.status == "conference_held"


def test_item_due_dates_are_kept_as_iso_text() -> None:
    case = agreed()
    assert [i["due_date"] for i in case.agreement_items] == ["2025-04-01", "2025-09-30"]


# --- monitoring -----------------------------------------------------------------------------
def test_completing_every_item_completes_the_case() -> None:
    case = agreed()
    case.complete_item("apology", "letter received", "rj_provider", at(400))
    assert case.status == "monitoring"
    assert case.items_status() == [
        {
            "item_id": "apology",
            "status": "completed",
            "due_date": "2025-04-01",
            "completed_at": at(400),
        },
        {"item_id": "programme", "status": "open", "due_date": "2025-09-30", "completed_at": None},
    ]
    case.collect_events()
    case.complete_item("programme", "certificate", "police", at(500))
    assert (case.status, case.closed_at) == ("completed", at(500))
    assert event_names(case) == ["ItemCompleted", "CaseCompleted"]


def test_a_breach_returns_the_case_to_the_court() -> None:
    case = agreed(court_reference="T20250001")
    case.collect_events()
    case.breach_item("programme", "did not attend", "police", at(450))
    assert (case.status, case.returned_to) == ("returned", "court")
    assert case.item_report("programme") == {
        "status": "breached",
        "evidence": "did not attend",
        "reported_by_agency": "police",
        "at": at(450),
    }
    assert event_names(case) == ["AgreementBreached"]


def test_a_breach_without_a_court_reference_returns_to_the_referring_agency() -> None:
    case = agreed(court_reference=None)
    case.breach_item("apology", "no apology", "rj_provider", at(450))
    assert (case.status, case.returned_to) == ("returned", "police")


def test_an_item_is_reported_once() -> None:
    case = agreed()
    case.complete_item("apology", "letter received", "rj_provider", at(400))
    for report in (case.complete_item, case.breach_item):
        with pytest.raises(ItemAlreadyReported) as refused:
            report("apology", "again", "rj_provider", at(401))
        assert refused.value.details == {"item_id": "apology", "status": "completed"}
    assert case.status == "monitoring"


def test_reports_on_unknown_items_or_by_unknown_agencies_are_refused() -> None:
    case = agreed()
    with pytest.raises(UnknownItem):
        case.complete_item("community_work", "done", "rj_provider", at(400))
    with pytest.raises(ValidationFailed):
        case.breach_item("apology", "none", "probation", at(400))
    assert case.status == "monitoring"


def test_after_a_breach_no_further_item_can_be_reported() -> None:
    case = agreed()
    case.breach_item("apology", "no apology", "rj_provider", at(450))
    with pytest.raises(InvalidState):
        case.complete_item("programme", "certificate", "police", at(451))


def test_overdue_items_are_open_items_past_their_due_date() -> None:
    case = agreed()
    assert case.overdue_items(date(2025, 4, 1)) == []
    assert case.overdue_items(date(2025, 4, 2)) == ["apology"]
    assert case.overdue_items(date(2025, 10, 1)) == ["apology", "programme"]
    case.complete_item("apology", "late letter", "rj_provider", at(900))
    assert case.overdue_items(date(2025, 10, 1)) == ["programme"]


def test_a_draft_agreement_has_no_overdue_items() -> None:
    case = held()
    case.draft_agreement(ITEMS, FACILITATOR, at(300))
    assert case.overdue_items(date(2030, 1, 1)) == []
