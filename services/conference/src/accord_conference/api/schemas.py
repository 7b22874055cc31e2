"""What the RJ provider's endpoints answer. Reads are policy-filtered: a withheld field is
absent (for example conference notes outside the provider)."""

from __future__ import annotations

from typing import Any

from accord_kernel.responses import Body, Day, Moment, ReadModel, Records, withheld
from pydantic import Field


class FacilitatorRegistered(Body):
    facilitator_id: str


class Accepted(Body):
    case_id: str
    status: str = Field(description="`open`: the provider's RJ case exists")


class FacilitatorOut(Body):
    """A facilitator of the caller's own provider, with accreditation and endorsement."""

    facilitator_id: str
    name: str
    org: str
    accreditation_id: str
    accredited_until: Day
    endorsement_expires: Day | None
    endorsement_valid_today: bool
    supervision_log: Records


class GateOut(Body):
    """Every failed gate condition for direct and for indirect RJ on the day `as_of`."""

    as_of: Day
    direct: list[str]
    indirect: list[str]


class IntakeOut(ReadModel):
    case_id: str = withheld()
    status: str = withheld()
    jurisdiction: str | None = withheld()
    eligibility: str | None = withheld()
    received_at: Moment = withheld()
    risk_band: str | None = withheld()
    reassessment_required: bool = withheld()


class RJCaseOut(ReadModel):
    case_id: str = withheld()
    status: str = withheld()
    stage: str = withheld()
    modality: str | None = withheld()
    jurisdiction: str | None = withheld()
    opened_at: Moment = withheld()
    stop_reason: str | None = withheld()
    suspended: bool = withheld()
    facilitator_id: str | None = withheld()
    co_facilitator_id: str | None = withheld()
    gate: dict[str, list[str]] = withheld("Failed gate conditions today: direct, indirect")
    conference_at: Moment | None = withheld()
    version: int = withheld("The aggregate's version, for If-Match")
    reassessment_required: bool = withheld()
    risk_band: str | None = withheld()
    participate_consent_active: bool = withheld()
    offender_consent: bool | None = withheld()
    preparation: Records = withheld("Preparation meetings")
    conference_notes: str | None = withheld()
    agreement_items: Records = withheld()
    agreement_consents: dict[str, dict[str, Any]] = withheld("party -> consent")
    compliance: dict[str, Any] = withheld("items, overdue, returned_to")
