from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from accord_referral.commands import IncidentReport, Party, SubmitReferral
from accord_referral.domain import (
    QUESTION_CODES,
    RED_FLAG_CODES,
    InvalidDashAnswers,
    InvalidDeadlines,
    InvalidState,
    OffenderInitiated,
    ReasonsRequired,
    Referral,
    ReferralError,
    RiskAssessmentRequired,
    RiskBandMismatch,
    ValidationFailed,
)
from eventsourcing.application import Application

T0 = datetime(2025, 3, 7, 10, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=2)
T2 = T0 + timedelta(days=1)
T3 = T0 + timedelta(days=2)
OFFICER = "pc-4471"
PROVIDER = "why-me-rj"
DEADLINES = {"victim_information_due": "2025-03-14", "victim_support_referral_due": "2025-03-11"}


def checklist(yes: int = 3, *red_flags: str) -> dict[str, bool]:
    """`yes` answers among the questions that are not red flags, plus the named red flags."""
    others = [code for code in QUESTION_CODES if code not in RED_FLAG_CODES]
    chosen = set(others[:yes]) | set(red_flags)
    return {code: code in chosen for code in QUESTION_CODES}


def submitted(**overrides: Any) -> Referral:
    arguments: dict[str, Any] = {
        "case_id": uuid4(),
        "jurisdiction": "england-wales",
        "initiated_by": "victim",
        "incident_date": date(2025, 3, 1),
        "incident_summary": "Assault at the home address",
        "offence_type": "assault_occasioning_abh",
        "victim_name": "Alex Victim",
        "victim_date_of_birth": date(1990, 1, 1),
        "offender_name": "Sam Offender",
        "offender_date_of_birth": date(1988, 5, 5),
        "offender_acknowledged": True,
        "guilty_plea": False,
        "court_reference": "T20250001",
        "submitted_by": OFFICER,
        "submitted_at": T0,
        "deadlines": DEADLINES,
    }
    arguments.update(overrides)
    a = arguments
    command = SubmitReferral(
        jurisdiction=a["jurisdiction"],
        initiated_by=a["initiated_by"],
        incident=IncidentReport(a["incident_date"], a["incident_summary"], a["offence_type"]),
        victim=Party(a["victim_name"], a["victim_date_of_birth"]),
        offender=Party(a["offender_name"], a["offender_date_of_birth"]),
        offender_acknowledged=a["offender_acknowledged"],
        guilty_plea=a["guilty_plea"],
        court_reference=a["court_reference"],
        dash_answers=checklist(),
        professional_judgement_high=False,
        submitted_by=a["submitted_by"],
        referring_org="north-police",
    )
    return Referral.submit(a["case_id"], command, a["submitted_at"], a["deadlines"])


def assessed(yes: int = 3, **overrides: Any) -> Referral:
    referral = submitted(**overrides)
    referral.assess_risk(checklist(yes), False, OFFICER, T0)
    return referral


def screened(outcome: str, **overrides: Any) -> Referral:
    referral = assessed(**overrides)
    reasons = {
        "eligible_direct": [],
        "eligible_indirect_only": ["risk_too_high_for_direct"],
        "ineligible": ["no_acknowledgement_of_responsibility"],
    }[outcome]
    referral.record_screening(outcome, reasons, "standard", T1)
    return referral


def accepted() -> Referral:
    referral = screened("eligible_direct")
    referral.record_acceptance(PROVIDER, T2)
    return referral


def declined() -> Referral:
    referral = screened("eligible_direct")
    referral.record_decline(PROVIDER, "no facilitator with an endorsement", T2)
    return referral


def withdrawn() -> Referral:
    referral = assessed()
    referral.withdraw("victim asked to stop", OFFICER, T1)
    return referral


IN_STATE: dict[str, Callable[[], Referral]] = {
    "submitted": assessed,
    "eligible_direct": lambda: screened("eligible_direct"),
    "eligible_indirect_only": lambda: screened("eligible_indirect_only"),
    "ineligible": lambda: screened("ineligible"),
    "accepted": accepted,
    "declined": declined,
    "withdrawn": withdrawn,
}

COMMANDS: dict[str, Callable[[Referral], None]] = {
    "record_screening": lambda r: r.record_screening("eligible_direct", [], "standard", T3),
    "record_acceptance": lambda r: r.record_acceptance(PROVIDER, T3),
    "record_decline": lambda r: r.record_decline(PROVIDER, "no capacity", T3),
    "withdraw": lambda r: r.withdraw("victim withdrew", OFFICER, T3),
    "assess_risk": lambda r: r.assess_risk(checklist(4), False, OFFICER, T3),
    "report_incident": lambda r: r.report_incident(
        date(2025, 3, 8), "threats by text", OFFICER, T3
    ),
}

NON_TERMINAL = {"submitted", "eligible_direct", "eligible_indirect_only", "accepted"}
ALLOWED = {
    "record_screening": {"submitted"},
    "record_acceptance": {"eligible_direct", "eligible_indirect_only"},
    "record_decline": {"eligible_direct", "eligible_indirect_only"},
    "withdraw": NON_TERMINAL,
    "assess_risk": NON_TERMINAL,
    "report_incident": NON_TERMINAL,
}
STATUS_AFTER = {
    "record_screening": "eligible_direct",
    "record_acceptance": "accepted",
    "record_decline": "declined",
    "withdraw": "withdrawn",
}


def event_names(referral: Referral) -> list[str]:
    return [type(e).__name__ for e in referral.collect_events()]


# --- submission --------------------------------------------------------------------------


def test_submission_records_the_referral_under_the_case_id() -> None:
    case_id = uuid4()

    referral = submitted(case_id=case_id)

    assert referral.id == case_id
    assert referral.version == 1
    assert referral.status == "submitted"
    assert referral.jurisdiction == "england-wales"
    assert referral.initiated_by == "victim"
    assert referral.incident_date == "2025-03-01"
    assert referral.victim_date_of_birth == "1990-01-01"
    assert referral.offender_acknowledged is True
    assert referral.court_reference == "T20250001"
    assert referral.submitted_at == T0
    assert referral.deadline_dates() == {
        "victim_information_due": date(2025, 3, 14),
        "victim_support_referral_due": date(2025, 3, 11),
    }
    assert referral.risk_band is None
    assert referral.risk_history == []
    assert not referral.reassessment_required
    assert event_names(referral) == ["Submitted"]


def test_deadlines_may_be_given_as_dates_and_are_kept_as_iso_dates() -> None:
    referral = submitted(deadlines={"victim_information_due": date(2025, 3, 14)})

    assert referral.deadlines == {"victim_information_due": "2025-03-14"}


def test_dates_of_birth_and_court_reference_are_optional() -> None:
    referral = submitted(
        victim_date_of_birth=None, offender_date_of_birth=None, court_reference=None
    )

    assert referral.victim_date_of_birth is None
    assert referral.offender_date_of_birth is None
    assert referral.court_reference is None


def test_an_incident_dated_on_the_next_utc_day_is_accepted_for_zones_ahead_of_utc() -> None:
    referral = submitted(incident_date=T0.date() + timedelta(days=1))

    assert referral.incident_date == "2025-03-08"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("case_id", "not-a-uuid"),
        ("jurisdiction", ""),
        ("initiated_by", "neighbour"),
        ("incident_date", datetime(2025, 3, 1, tzinfo=UTC)),
        ("incident_date", "2025-03-01"),
        ("incident_date", date(2025, 3, 9)),
        ("incident_summary", "   "),
        ("offence_type", None),
        ("victim_name", ""),
        ("offender_name", 7),
        ("victim_date_of_birth", date(2030, 1, 1)),
        ("offender_date_of_birth", "1988-05-05"),
        ("offender_acknowledged", "yes"),
        ("guilty_plea", None),
        ("court_reference", ""),
        ("submitted_by", ""),
        ("submitted_at", datetime(2025, 3, 7, 10, 0)),
        ("submitted_at", date(2025, 3, 7)),
    ],
)
def test_submission_rejects_malformed_values_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        submitted(**{field: value})

    assert caught.value.http_status == 422
    assert caught.value.details["field"] == field


def test_submitted_text_is_stored_without_surrounding_whitespace() -> None:
    referral = submitted(victim_name="  Alex Victim ", incident_summary="Assault\n")

    assert (referral.victim_name, referral.incident_summary) == ("Alex Victim", "Assault")


@pytest.mark.parametrize(
    ("field", "value"),
    [("victim_name", "x" * 201), ("incident_summary", "x" * 4_001), ("court_reference", "T" * 65)],
)
def test_submission_refuses_text_longer_than_the_api_accepts(field: str, value: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        submitted(**{field: value})

    assert caught.value.details["field"] == field
    assert caught.value.details["max_length"] == len(value) - 1


def test_an_incident_summary_as_long_as_the_api_accepts_is_recorded() -> None:
    assert len(submitted(incident_summary="x" * 4_000).incident_summary) == 4_000


def test_an_argument_refusal_is_a_referral_error_with_the_shared_code_and_status() -> None:
    # The API and the inbox catch ReferralError; the problem document needs code and status.
    with pytest.raises(ReferralError) as caught:
        submitted(offender_acknowledged="yes")

    assert isinstance(caught.value, ValidationFailed)
    assert (caught.value.code, caught.value.http_status) == ("validation_failed", 422)
    assert caught.value.details == {"field": "offender_acknowledged"}


@pytest.mark.parametrize(
    "deadlines",
    [
        {"victim_information_due": "14/03/2025"},
        {"victim_information_due": 5},
        {"victim_information_due": T0},
        ["2025-03-14"],
    ],
)
def test_submission_rejects_deadlines_that_are_not_dates(deadlines: Any) -> None:
    with pytest.raises(InvalidDeadlines):
        submitted(deadlines=deadlines)


def test_the_submitted_event_carries_no_mutable_link_to_the_caller_or_the_state() -> None:
    given_deadlines = dict(DEADLINES)
    referral = submitted(deadlines=given_deadlines)

    given_deadlines["victim_information_due"] = "2030-01-01"
    referral.deadlines["victim_support_referral_due"] = "2030-01-01"

    (created,) = referral.collect_events()
    assert isinstance(created, Referral.Submitted)
    assert created.deadlines == DEADLINES


# --- screening ---------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["eligible_direct", "eligible_indirect_only", "ineligible"])
def test_screening_sets_the_status_to_the_outcome(outcome: str) -> None:
    referral = screened(outcome)

    assert referral.status == outcome
    assert referral.eligibility == outcome
    assert referral.is_eligible is (outcome != "ineligible")
    assert referral.is_terminal is (outcome == "ineligible")
    assert referral.screened_at == T1
    assert referral.screened_risk_band == "standard"
    assert event_names(referral) == ["Submitted", "RiskAssessed", "Screened"]


def test_screening_records_the_reason_codes() -> None:
    referral = assessed()

    referral.record_screening(
        "ineligible", ["no_guilty_plea", "initiator_not_permitted"], "standard", T1
    )

    assert referral.eligibility_reasons == ["no_guilty_plea", "initiator_not_permitted"]


def test_screening_requires_a_risk_assessment() -> None:
    referral = submitted()

    with pytest.raises(RiskAssessmentRequired) as caught:
        referral.record_screening("eligible_direct", [], "standard", T1)

    assert caught.value.code == "risk_assessment_required"
    assert caught.value.http_status == 409
    assert caught.value.details == {"state": "submitted", "reassessment_required": False}
    assert referral.version == 1


def test_screening_after_a_new_incident_requires_a_fresh_assessment() -> None:
    referral = assessed()
    referral.report_incident(date(2025, 3, 6), "further assault", OFFICER, T1)

    with pytest.raises(RiskAssessmentRequired) as caught:
        referral.record_screening("eligible_direct", [], "standard", T1)
    assert caught.value.details["reassessment_required"] is True

    referral.assess_risk(checklist(5), False, OFFICER, T2)
    referral.record_screening("eligible_direct", [], "standard", T2)
    assert referral.status == "eligible_direct"


def test_an_unknown_outcome_is_rejected() -> None:
    referral = assessed()

    with pytest.raises(ValidationFailed) as caught:
        referral.record_screening("eligible", [], "standard", T1)

    assert caught.value.details["field"] == "outcome"
    assert referral.status == "submitted"


def test_reasons_given_as_one_string_are_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        assessed().record_screening("ineligible", "no_guilty_plea", "standard", T1)

    assert caught.value.details["field"] == "reasons"


def test_an_ineligible_decision_must_give_reasons() -> None:
    with pytest.raises(ReasonsRequired) as caught:
        assessed().record_screening("ineligible", [], "standard", T1)

    assert caught.value.code == "reasons_required"


def test_a_decision_taken_on_another_risk_band_is_rejected() -> None:
    referral = assessed(yes=14)

    with pytest.raises(RiskBandMismatch) as caught:
        referral.record_screening("eligible_direct", [], "standard", T1)

    assert caught.value.details == {"decided_on": "standard", "current": "high"}
    assert referral.status == "submitted"


def test_an_unknown_risk_band_is_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        assessed().record_screening("eligible_direct", [], "low", T1)

    assert caught.value.details["field"] == "risk_band"


@pytest.mark.parametrize("outcome", ["eligible_direct", "eligible_indirect_only"])
def test_an_offender_initiated_referral_is_never_recorded_as_eligible(outcome: str) -> None:
    referral = assessed(initiated_by="offender")

    with pytest.raises(OffenderInitiated) as caught:
        referral.record_screening(outcome, [], "standard", T1)

    assert caught.value.code == "offender_initiated"
    assert referral.status == "submitted"


def test_an_offender_initiated_referral_is_screened_out_with_its_reason() -> None:
    referral = assessed(initiated_by="offender")

    referral.record_screening("ineligible", ["offender_initiated"], "standard", T1)

    assert referral.status == "ineligible"
    assert referral.is_terminal


# --- provider decision and withdrawal ----------------------------------------------------


@pytest.mark.parametrize("outcome", ["eligible_direct", "eligible_indirect_only"])
def test_a_provider_accepts_an_eligible_referral(outcome: str) -> None:
    referral = screened(outcome)

    referral.record_acceptance(PROVIDER, T2)

    assert referral.status == "accepted"
    assert referral.decided_by == PROVIDER
    assert referral.decided_at == T2
    assert not referral.is_terminal


def test_a_provider_declines_an_eligible_referral_with_a_reason() -> None:
    referral = declined()

    assert referral.status == "declined"
    assert referral.decided_by == PROVIDER
    assert referral.decline_reason == "no facilitator with an endorsement"
    assert referral.is_terminal


def test_a_decline_needs_a_reason() -> None:
    with pytest.raises(ValidationFailed) as caught:
        screened("eligible_direct").record_decline(PROVIDER, " ", T2)

    assert caught.value.details["field"] == "reason"


def test_withdrawal_records_who_why_and_when() -> None:
    referral = withdrawn()

    assert referral.status == "withdrawn"
    assert referral.withdrawn_reason == "victim asked to stop"
    assert referral.withdrawn_by == OFFICER
    assert referral.withdrawn_at == T1
    assert referral.is_terminal


@pytest.mark.parametrize("state", sorted(IN_STATE))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_in_every_state(state: str, command: str) -> None:
    referral = IN_STATE[state]()
    version = referral.version

    if state in ALLOWED[command]:
        COMMANDS[command](referral)
        assert referral.version == version + 1
        assert referral.status == STATUS_AFTER.get(command, state)
    else:
        with pytest.raises(InvalidState) as caught:
            COMMANDS[command](referral)
        assert caught.value.code == "invalid_state"
        assert caught.value.http_status == 409
        assert caught.value.details == {"state": state, "command": command}
        assert referral.version == version
        assert referral.status == state


def test_the_state_check_comes_before_argument_validation() -> None:
    # A conflict is reported as such even when the arguments are also wrong, so a client is
    # not told to fix a body for a command that could never succeed.
    with pytest.raises(InvalidState):
        withdrawn().withdraw("", "", datetime(2025, 3, 7))


@pytest.mark.parametrize("command", ["record_acceptance", "withdraw", "record_decline"])
def test_commands_need_a_timezone_aware_time(command: str) -> None:
    referral = screened("eligible_direct")
    naive = datetime(2025, 3, 8, 9, 0)
    calls: dict[str, Callable[[], None]] = {
        "record_acceptance": lambda: referral.record_acceptance(PROVIDER, naive),
        "withdraw": lambda: referral.withdraw("reason", OFFICER, naive),
        "record_decline": lambda: referral.record_decline(PROVIDER, "reason", naive),
    }

    with pytest.raises(ValidationFailed) as caught:
        calls[command]()

    assert caught.value.details == {"field": "at"}
    assert referral.status == "eligible_direct"


# --- risk and incidents ------------------------------------------------------------------


def test_a_risk_assessment_sets_the_current_risk() -> None:
    referral = submitted()

    referral.assess_risk(checklist(10, "attempted_strangulation"), False, OFFICER, T1)

    assert referral.risk_score == 11
    assert referral.risk_band == "medium"
    assert referral.red_flags == ["attempted_strangulation"]
    assert referral.dash_answers == checklist(10, "attempted_strangulation")
    assert referral.professional_judgement is False
    assert referral.risk_assessed_at == T1


def test_every_reassessment_is_a_new_event_and_history_keeps_the_earlier_ones() -> None:
    referral = submitted()
    referral.assess_risk(checklist(2), False, OFFICER, T0)
    referral.assess_risk(checklist(2), True, "sgt-12", T1)
    referral.assess_risk(checklist(15), False, OFFICER, T2)

    assert event_names(referral) == ["Submitted", "RiskAssessed", "RiskAssessed", "RiskAssessed"]
    assert [
        (h["score"], h["band"], h["professional_judgement_high"], h["assessed_by"], h["at"])
        for h in referral.risk_history
    ] == [
        (2, "standard", False, OFFICER, T0),
        (2, "high", True, "sgt-12", T1),
        (15, "high", False, OFFICER, T2),
    ]
    assert referral.risk_history[0]["answers"] == checklist(2)
    assert referral.risk_band == "high"
    assert referral.risk_score == 15


def test_the_risk_event_records_the_conclusion_reached_at_the_time() -> None:
    referral = submitted()
    referral.collect_events()

    referral.assess_risk(checklist(13, "threats_to_kill"), True, OFFICER, T1)

    (event,) = referral.collect_events()
    assert isinstance(event, Referral.RiskAssessed)
    assert (event.score, event.band, event.red_flags) == (14, "high", ["threats_to_kill"])
    assert event.at == T1
    assert event.assessed_by == OFFICER


def test_changing_the_referral_state_does_not_alter_the_recorded_risk_event() -> None:
    referral = submitted()
    referral.collect_events()
    referral.assess_risk(checklist(3), False, OFFICER, T1)

    referral.dash_answers["current_injury"] = False
    referral.risk_history[0]["answers"]["very_frightened"] = False
    referral.red_flags.append("separation")

    (event,) = referral.collect_events()
    assert isinstance(event, Referral.RiskAssessed)
    assert event.answers == checklist(3)
    assert event.red_flags == []


def test_an_invalid_checklist_records_nothing() -> None:
    referral = assessed()
    version = referral.version

    with pytest.raises(InvalidDashAnswers):
        referral.assess_risk({"current_injury": True}, False, OFFICER, T1)

    assert referral.version == version
    assert len(referral.risk_history) == 1


def test_an_assessment_needs_an_assessor() -> None:
    with pytest.raises(ValidationFailed) as caught:
        submitted().assess_risk(checklist(3), False, "", T1)

    assert caught.value.details["field"] == "assessed_by"


def test_a_new_incident_requires_reassessment_until_the_next_assessment() -> None:
    referral = screened("eligible_direct")

    referral.report_incident(date(2025, 3, 8), "threats by text message", OFFICER, T2)

    assert referral.reassessment_required
    assert referral.incidents == [
        {
            "incident_date": "2025-03-08",
            "summary": "threats by text message",
            "reported_by": OFFICER,
            "at": T2,
        }
    ]
    assert referral.risk_band == "standard"

    referral.assess_risk(checklist(14), False, OFFICER, T3)

    assert not referral.reassessment_required
    assert referral.risk_band == "high"
    assert referral.status == "eligible_direct"


def test_incidents_accumulate() -> None:
    referral = accepted()

    referral.report_incident(date(2025, 3, 8), "first", OFFICER, T2)
    referral.report_incident(date(2025, 3, 9), "second", OFFICER, T3)

    assert [i["summary"] for i in referral.incidents] == ["first", "second"]
    assert event_names(referral)[-2:] == ["IncidentReported", "IncidentReported"]


def test_an_incident_cannot_be_dated_in_the_future() -> None:
    referral = assessed()

    with pytest.raises(ValidationFailed) as caught:
        referral.report_incident(T1.date() + timedelta(days=2), "later", OFFICER, T1)

    assert caught.value.details == {"field": "incident_date"}
    assert not referral.reassessment_required


# --- errors and persistence --------------------------------------------------------------


def test_every_domain_error_is_a_referral_error_with_a_stable_code() -> None:
    for error in (
        ValidationFailed,
        InvalidDashAnswers,
        InvalidDeadlines,
        ReasonsRequired,
        OffenderInitiated,
        RiskBandMismatch,
        InvalidState,
        RiskAssessmentRequired,
    ):
        assert issubclass(error, ReferralError)
        assert error.code != ReferralError.code
        assert error("x").details == {}


@pytest.fixture
def application() -> Application[UUID]:
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.mark.parametrize("state", sorted(IN_STATE))
def test_a_referral_survives_a_round_trip_through_the_event_store(
    application: Application[UUID], state: str
) -> None:
    referral = IN_STATE[state]()
    if not referral.is_terminal:
        referral.report_incident(date(2025, 3, 8), "threats by text message", OFFICER, T3)

    application.save(referral)
    stored: object = application.repository.get(referral.id)

    assert isinstance(stored, Referral)
    assert stored.version == referral.version
    assert stored.__dict__ == referral.__dict__


def test_stored_events_keep_their_names_and_values(application: Application[UUID]) -> None:
    referral = accepted()
    referral.report_incident(date(2025, 3, 8), "threats", OFFICER, T3)
    referral.assess_risk(checklist(14, "stalking_harassment"), True, OFFICER, T3)
    referral.withdraw("victim withdrew", OFFICER, T3)
    application.save(referral)

    stored = list(application.events.get(referral.id))

    assert [type(e).__qualname__ for e in stored] == [
        "Referral.Submitted",
        "Referral.RiskAssessed",
        "Referral.Screened",
        "Referral.Accepted",
        "Referral.IncidentReported",
        "Referral.RiskAssessed",
        "Referral.Withdrawn",
    ]
    values: list[Any] = stored
    assert values[0].submitted_at == T0
    assert values[0].deadlines == DEADLINES
    assert values[4].incident_date == "2025-03-08"
    assert values[5].red_flags == ["stalking_harassment"]
    assert values[5].band == "high"
    assert values[6].reason == "victim withdrew"
    assert all(e.originator_id == referral.id for e in stored)


def test_a_stored_referral_can_continue_its_lifecycle(application: Application[UUID]) -> None:
    referral = assessed()
    application.save(referral)

    stored: object = application.repository.get(referral.id)
    assert isinstance(stored, Referral)
    stored.record_screening("eligible_indirect_only", ["risk_too_high_for_direct"], "standard", T1)
    stored.record_acceptance(PROVIDER, T2)
    application.save(stored)

    again: object = application.repository.get(referral.id)
    assert isinstance(again, Referral)
    assert again.status == "accepted"
    assert again.version == 4
