from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from accord_victim_support.domain import (
    EmergencyAccess,
    InvalidState,
    JustificationRequired,
    NotPermitted,
    ReasonRequired,
    UnknownAgency,
    UnknownDataClass,
    ValidationFailed,
)

T0 = datetime(2025, 3, 3, 23, 10, tzinfo=UTC)
JUSTIFICATION = "Caller reports ex-partner outside the refuge with a knife."
OFFICER = "privacy-officer-1"


def requested(**overrides: Any) -> EmergencyAccess:
    arguments: dict[str, Any] = {
        "id": uuid4(),
        "case_id": "case-1",
        "agency": "police",
        "user": "sgt-42",
        "role": "supervisor",
        "reason_code": "imminent_risk_to_life",
        "justification": JUSTIFICATION,
        "data_classes": ["victim.location"],
        "requested_at": T0,
    }
    arguments.update(overrides)
    return EmergencyAccess.request(**arguments)


def test_break_glass_is_granted_for_a_default_hour() -> None:
    access = requested(data_classes=["safety.flags", "victim.location"])
    assert access.expires_at == T0 + timedelta(minutes=60)
    assert access.duration_minutes == 60
    assert access.data_classes == ["safety.flags", "victim.location"]
    assert access.review_pending
    assert [type(e).__name__ for e in access.collect_events()] == ["Granted"]


def test_access_is_active_only_within_its_window() -> None:
    access = requested(duration_minutes=30)
    assert not access.is_active(T0 - timedelta(seconds=1))
    assert access.is_active(T0)
    assert access.is_active(T0 + timedelta(minutes=29, seconds=59))
    assert not access.is_active(T0 + timedelta(minutes=30))
    assert access.covers("victim.location", T0)
    assert not access.covers("safety.flags", T0)
    assert not access.covers("victim.location", T0 + timedelta(hours=1))


def test_rj_providers_may_break_glass_too() -> None:
    assert requested(agency="rj_provider", reason_code="missing_person").agency == "rj_provider"


@pytest.mark.parametrize("role", ["officer", "facilitator", "Supervisor", None])
def test_only_a_supervisor_may_break_glass(role: object) -> None:
    with pytest.raises(NotPermitted) as caught:
        requested(role=role)
    assert caught.value.code == "not_permitted"


@pytest.mark.parametrize("agency", ["victim_services", "court"])
def test_victim_services_and_courts_may_not_break_glass(agency: str) -> None:
    with pytest.raises(NotPermitted) as caught:
        requested(agency=agency)
    assert caught.value.details == {"agency": agency}


def test_an_unknown_agency_is_rejected() -> None:
    with pytest.raises(UnknownAgency):
        requested(agency="neighbourhood_watch")


@pytest.mark.parametrize("reason_code", [None, "", "curiosity", "IMMINENT_RISK_TO_LIFE"])
def test_a_reason_code_from_the_fixed_set_is_required(reason_code: object) -> None:
    with pytest.raises(ReasonRequired) as caught:
        requested(reason_code=reason_code)
    assert caught.value.code == "reason_required"
    assert "safeguarding_child" in caught.value.details["allowed"]


@pytest.mark.parametrize(
    "reason_code",
    ["imminent_risk_to_life", "missing_person", "safeguarding_child", "serious_crime_prevention"],
)
def test_every_listed_reason_code_is_accepted(reason_code: str) -> None:
    assert requested(reason_code=reason_code).reason_code == reason_code


@pytest.mark.parametrize("justification", [None, "", "x" * 19, "   " + "y" * 19 + "   "])
def test_a_justification_of_at_least_twenty_characters_is_required(
    justification: object,
) -> None:
    with pytest.raises(JustificationRequired) as caught:
        requested(justification=justification)
    assert caught.value.code == "justification_required"


def test_a_twenty_character_justification_is_enough() -> None:
    assert requested(justification="  " + "z" * 20).justification == "z" * 20


def test_break_glass_reaches_only_location_and_safety_flags() -> None:
    with pytest.raises(NotPermitted) as caught:
        requested(data_classes=["victim.location", "support.notes"])
    assert caught.value.details["data_classes"] == ["support.notes"]
    with pytest.raises(UnknownDataClass):
        requested(data_classes=["diary"])
    with pytest.raises(ValidationFailed):
        requested(data_classes=[])


@pytest.mark.parametrize("minutes", [0, -5, 241, True, 60.0])
def test_duration_is_between_one_minute_and_four_hours(minutes: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        requested(duration_minutes=minutes)
    assert caught.value.details["field"] == "duration_minutes"


def test_four_hours_is_the_longest_window() -> None:
    assert requested(duration_minutes=240).expires_at == T0 + timedelta(hours=4)


def test_the_request_time_must_be_aware() -> None:
    with pytest.raises(ValidationFailed):
        requested(requested_at=datetime(2025, 3, 3, 23, 10))


def test_a_privacy_officer_completes_the_review_once() -> None:
    access = requested()
    access.complete_review(
        OFFICER, "not_justified", "Location was already known.", T0 + timedelta(days=1)
    )
    assert not access.review_pending
    assert access.review_summary() == {
        "pending": False,
        "reviewer": OFFICER,
        "outcome": "not_justified",
        "at": T0 + timedelta(days=1),
    }
    assert access.review_notes == "Location was already known."
    with pytest.raises(InvalidState) as caught:
        access.complete_review(OFFICER, "justified", None, T0 + timedelta(days=2))
    assert caught.value.code == "invalid_state"
    assert access.review_outcome == "not_justified"


def test_a_review_needs_a_known_outcome() -> None:
    access = requested()
    with pytest.raises(ValidationFailed):
        access.complete_review(OFFICER, "fine", None, T0)
    assert access.review_pending


def test_nobody_reviews_their_own_emergency_access() -> None:
    access = requested()
    with pytest.raises(NotPermitted):
        access.complete_review("sgt-42", "justified", None, T0 + timedelta(hours=2))
    assert access.review_pending
