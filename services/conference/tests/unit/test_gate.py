from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from accord_conference.domain import GateRefused, RJCase, ValidationFailed
from accord_conference.domain.rj_case import (
    COERCION_SCREEN_NOT_PASSED,
    ELIGIBILITY_INDIRECT_ONLY,
    NO_ENDORSED_FACILITATOR,
    NO_SAFETY_PLAN,
    OFFENDER_CONSENT_MISSING,
    OFFENDER_PREPARATION_MISSING,
    PARTICIPATE_CONSENT_INACTIVE,
    REASSESSMENT_REQUIRED,
    RISK_BAND_ABOVE_DIRECT_LIMIT,
    VICTIM_NOT_SEEN_ALONE,
    VICTIM_PREPARATION_MISSING,
)

from .conftest import CONFERENCE_AT, COORDINATOR, FACILITATOR, TODAY, at, prepared

ALL_DIRECT = [
    NO_ENDORSED_FACILITATOR,
    PARTICIPATE_CONSENT_INACTIVE,
    OFFENDER_CONSENT_MISSING,
    VICTIM_PREPARATION_MISSING,
    OFFENDER_PREPARATION_MISSING,
    COERCION_SCREEN_NOT_PASSED,
    VICTIM_NOT_SEEN_ALONE,
    RISK_BAND_ABOVE_DIRECT_LIMIT,
    REASSESSMENT_REQUIRED,
    NO_SAFETY_PLAN,
    ELIGIBILITY_INDIRECT_ONLY,
]


def test_a_fully_prepared_case_passes_both_gates(ready: RJCase) -> None:
    assert ready.direct_gate_failures(TODAY, endorsement_valid=True) == []
    assert ready.indirect_gate_failures(TODAY, endorsement_valid=True) == []


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ({"participate_consent": False}, PARTICIPATE_CONSENT_INACTIVE),
        ({"offender_consent": False}, OFFENDER_CONSENT_MISSING),
        ({"offender_preparation": False}, OFFENDER_PREPARATION_MISSING),
        ({"coercion_screen": "failed"}, COERCION_SCREEN_NOT_PASSED),
        ({"seen_alone": False}, VICTIM_NOT_SEEN_ALONE),
        ({"band": "high"}, RISK_BAND_ABOVE_DIRECT_LIMIT),
        ({"direct_max_band": None}, RISK_BAND_ABOVE_DIRECT_LIMIT),
        ({"reassessment": True}, REASSESSMENT_REQUIRED),
        ({"safety_plan": False}, NO_SAFETY_PLAN),
        ({"eligibility": "eligible_indirect_only"}, ELIGIBILITY_INDIRECT_ONLY),
    ],
)
def test_each_direct_condition_alone_is_the_only_failure(
    condition: dict[str, Any],
    code: str,
) -> None:
    case = prepared(**condition)
    assert case.direct_gate_failures(TODAY, endorsement_valid=True) == [code]


def test_an_invalid_endorsement_alone_is_the_only_failure(ready: RJCase) -> None:
    assert ready.direct_gate_failures(TODAY, endorsement_valid=False) == [
        NO_ENDORSED_FACILITATOR,
    ]


def test_without_a_victim_meeting_neither_screen_nor_seen_alone_is_established() -> None:
    case = prepared(victim_preparation=False)
    assert case.direct_gate_failures(TODAY, endorsement_valid=True) == [
        VICTIM_PREPARATION_MISSING,
        COERCION_SCREEN_NOT_PASSED,
        VICTIM_NOT_SEEN_ALONE,
    ]


def test_a_risk_band_at_the_direct_limit_is_within_it() -> None:
    case = prepared(band="medium", direct_max_band="medium")
    assert case.direct_gate_failures(TODAY, endorsement_valid=True) == []


def test_every_failed_condition_is_listed_together() -> None:
    case = prepared(
        eligibility="eligible_indirect_only",
        participate_consent=False,
        offender_consent=False,
        victim_preparation=False,
        offender_preparation=False,
        band="high",
        reassessment=True,
        safety_plan=False,
    )
    assert case.direct_gate_failures(TODAY, endorsement_valid=False) == ALL_DIRECT


def test_the_latest_victim_meeting_decides_the_screen() -> None:
    case = prepared(coercion_screen="failed", seen_alone=False)
    assert case.direct_gate_failures(TODAY, True) == [
        COERCION_SCREEN_NOT_PASSED,
        VICTIM_NOT_SEEN_ALONE,
    ]
    case.record_preparation("victim", FACILITATOR, at(9), seen_alone=True, coercion_screen="passed")
    assert case.direct_gate_failures(TODAY, True) == []
    case.record_preparation(
        "victim", FACILITATOR, at(10), seen_alone=True, coercion_screen="failed"
    )
    assert case.direct_gate_failures(TODAY, True) == [COERCION_SCREEN_NOT_PASSED]


def test_a_new_risk_assessment_clears_a_pending_reassessment() -> None:
    case = prepared(reassessment=True)
    assert REASSESSMENT_REQUIRED in case.direct_gate_failures(TODAY, True)
    case.note_risk_band("standard", "medium", at(9))
    assert case.direct_gate_failures(TODAY, True) == []


def test_a_safety_plan_past_its_review_date_does_not_count() -> None:
    case = prepared(safety_plan=False)
    case.note_safety_plan(True, at(9), review_date=TODAY - timedelta(days=1))
    assert case.direct_gate_failures(TODAY, True) == [NO_SAFETY_PLAN]
    case.note_safety_plan(True, at(10), review_date=TODAY)
    assert case.direct_gate_failures(TODAY, True) == []
    case.note_safety_plan(False, at(11))
    assert case.direct_gate_failures(TODAY, True) == [NO_SAFETY_PLAN]


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ({"participate_consent": False}, PARTICIPATE_CONSENT_INACTIVE),
        ({"offender_consent": False}, OFFENDER_CONSENT_MISSING),
        ({"coercion_screen": "failed"}, COERCION_SCREEN_NOT_PASSED),
        ({"reassessment": True}, REASSESSMENT_REQUIRED),
    ],
)
def test_each_indirect_condition_alone_is_the_only_failure(
    condition: dict[str, Any],
    code: str,
) -> None:
    assert prepared(**condition).indirect_gate_failures(TODAY, True) == [code]


def test_the_indirect_gate_without_endorsement_or_victim_preparation() -> None:
    assert prepared().indirect_gate_failures(TODAY, False) == [NO_ENDORSED_FACILITATOR]
    assert prepared(victim_preparation=False).indirect_gate_failures(TODAY, True) == [
        VICTIM_PREPARATION_MISSING,
        COERCION_SCREEN_NOT_PASSED,
    ]


def test_the_indirect_gate_ignores_what_only_a_meeting_in_person_needs() -> None:
    case = prepared(
        eligibility="eligible_indirect_only",
        offender_preparation=False,
        band="high",
        safety_plan=False,
        seen_alone=False,
    )
    assert case.indirect_gate_failures(TODAY, True) == []
    assert case.direct_gate_failures(TODAY, True) == [
        OFFENDER_PREPARATION_MISSING,
        VICTIM_NOT_SEEN_ALONE,
        RISK_BAND_ABOVE_DIRECT_LIMIT,
        NO_SAFETY_PLAN,
        ELIGIBILITY_INDIRECT_ONLY,
    ]


def test_the_indirect_gate_lists_all_its_failures_together() -> None:
    case = prepared(
        participate_consent=False,
        offender_consent=False,
        victim_preparation=False,
        reassessment=True,
    )
    assert case.indirect_gate_failures(TODAY, False) == [
        NO_ENDORSED_FACILITATOR,
        PARTICIPATE_CONSENT_INACTIVE,
        OFFENDER_CONSENT_MISSING,
        VICTIM_PREPARATION_MISSING,
        COERCION_SCREEN_NOT_PASSED,
        REASSESSMENT_REQUIRED,
    ]


def test_scheduling_refusal_lists_every_failed_code_and_changes_nothing() -> None:
    case = prepared(offender_consent=False, safety_plan=False, band="high")
    case.collect_events()
    with pytest.raises(GateRefused) as refused:
        case.schedule_conference("direct", CONFERENCE_AT, TODAY, True, COORDINATOR)
    assert refused.value.code == "gate_refused"
    assert refused.value.details == {
        "failed": [OFFENDER_CONSENT_MISSING, RISK_BAND_ABOVE_DIRECT_LIMIT, NO_SAFETY_PLAN],
        "modality": "direct",
    }
    assert case.status == "preparing"
    assert case.collect_events() == []


def test_an_indirect_only_case_may_schedule_letters_but_not_a_meeting() -> None:
    case = prepared(eligibility="eligible_indirect_only")
    with pytest.raises(GateRefused) as refused:
        case.schedule_conference("direct", CONFERENCE_AT, TODAY, True, COORDINATOR)
    assert refused.value.details["failed"] == [ELIGIBILITY_INDIRECT_ONLY]
    case.schedule_conference("letter", CONFERENCE_AT, TODAY, True, COORDINATOR)
    assert (case.status, case.modality) == ("scheduled", "letter")


def test_shuttle_scheduling_uses_the_indirect_gate() -> None:
    case = prepared(reassessment=True)
    with pytest.raises(GateRefused) as refused:
        case.schedule_conference("shuttle", CONFERENCE_AT, TODAY, True, COORDINATOR)
    assert refused.value.details == {"failed": [REASSESSMENT_REQUIRED], "modality": "shuttle"}


def test_a_conference_cannot_be_scheduled_before_the_day_of_scheduling(ready: RJCase) -> None:
    with pytest.raises(ValidationFailed):
        ready.schedule_conference("direct", CONFERENCE_AT, date(2025, 3, 21), True, COORDINATOR)
    with pytest.raises(ValidationFailed):
        ready.schedule_conference("video", CONFERENCE_AT, TODAY, True, COORDINATOR)
