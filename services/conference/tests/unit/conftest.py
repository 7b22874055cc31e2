from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from accord_conference.domain import RJCase

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TODAY = date(2025, 3, 10)
CONFERENCE_AT = datetime(2025, 3, 20, 14, 0, tzinfo=UTC)
COORDINATOR = "coordinator-1"
FACILITATOR = "facilitator-1"


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def opened(**overrides: Any) -> RJCase:
    arguments: dict[str, Any] = {
        "case_id": str(uuid.uuid4()),
        "provider_org": "rj-north",
        "jurisdiction": "england-wales",
        "eligibility": "eligible_direct",
        "risk_band": "standard",
        "direct_max_band": "medium",
        "opened_by": COORDINATOR,
        "at": T0,
    }
    arguments.update(overrides)
    return RJCase.open(**arguments)


def prepared(
    *,
    eligibility: str = "eligible_direct",
    court_reference: str | None = None,
    participate_consent: bool = True,
    offender_consent: bool = True,
    victim_preparation: bool = True,
    offender_preparation: bool = True,
    seen_alone: bool = True,
    coercion_screen: str = "passed",
    band: str = "standard",
    direct_max_band: str | None = "medium",
    reassessment: bool = False,
    safety_plan: bool = True,
) -> RJCase:
    """A case in preparation; with the defaults every gate condition holds."""
    case = opened(eligibility=eligibility, court_reference=court_reference)
    case.assign_facilitator(FACILITATOR, endorsement_valid=True, on=TODAY, by=COORDINATOR)
    if participate_consent:
        case.note_participate_consent(True, at(1))
    if offender_consent:
        case.record_offender_consent(True, at(2))
    if victim_preparation:
        case.record_preparation(
            "victim",
            FACILITATOR,
            at(3),
            seen_alone=seen_alone,
            coercion_screen=coercion_screen,
            support_persons=["sister"],
            childrens_needs="two children, school-age",
            notes="wants to be heard",
        )
    if offender_preparation:
        case.record_preparation("offender", FACILITATOR, at(4), notes="accepts responsibility")
    case.note_risk_band(band, direct_max_band, at(5))
    if reassessment:
        case.note_reassessment_required(at(6))
    if safety_plan:
        case.note_safety_plan(True, at(7))
    return case


def event_names(case: RJCase) -> list[str]:
    return [type(e).__name__ for e in case.collect_events()]


@pytest.fixture
def ready() -> RJCase:
    return prepared()
