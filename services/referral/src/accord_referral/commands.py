"""The referral's submit command, one typed object from the API to the aggregate: the API
builds it from the request body and the caller's token, the use case screens it, and
`Referral.submit` records it. Framework-free, like the domain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Party:
    name: str
    date_of_birth: date | None = None


@dataclass(frozen=True)
class IncidentReport:
    date: date
    summary: str
    offence_type: str


@dataclass(frozen=True)
class SubmitReferral:
    jurisdiction: str
    initiated_by: str
    incident: IncidentReport
    victim: Party
    offender: Party
    offender_acknowledged: bool
    guilty_plea: bool
    court_reference: str | None
    dash_answers: Mapping[str, bool]
    professional_judgement_high: bool
    submitted_by: str
    # The submitting officer's force: responsible for the case for police (SPEC 4a).
    referring_org: str
    # Responsible organisations of the other agencies named on the referral.
    organisations: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    # Fingerprint of the request, so a reused Idempotency-Key with another body is refused.
    request_digest: str | None = None
