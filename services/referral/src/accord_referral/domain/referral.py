"""The police referral of a domestic-abuse case for restorative justice (RJ).

Lifecycle: `submitted` -> screened, where the status becomes the eligibility outcome
(`eligible_direct` | `eligible_indirect_only` | `ineligible`) -> `accepted` or `declined` by an
RJ provider; `withdrawn` from any state that is not terminal. Eligibility itself is decided by
policy against the jurisdiction pack; the referral records that decision and refuses only
decisions that contradict what it already knows.

Every command validates first and only then triggers its event, so a refused command leaves no
trace. Event attributes are plain values (str, bool, int, list, dict, datetime): dates are kept
as ISO strings because the default transcoder has no `date` transcoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from accord_referral.domain.dash import BANDS, assess
from accord_referral.domain.errors import (
    InvalidDeadlines,
    InvalidState,
    OffenderInitiated,
    ReasonsRequired,
    RiskAssessmentRequired,
    RiskBandMismatch,
    ValidationFailed,
)

# "offender" is accepted so that such a referral is recorded and screened out with a reason
# code, rather than silently lost; it can never become eligible (see `record_screening`).
INITIATORS: tuple[str, ...] = ("victim", "victim_advocate", "police", "court", "offender")
OUTCOMES: tuple[str, ...] = ("eligible_direct", "eligible_indirect_only", "ineligible")
ELIGIBLE: frozenset[str] = frozenset({"eligible_direct", "eligible_indirect_only"})
TERMINAL: frozenset[str] = frozenset({"ineligible", "declined", "withdrawn"})
STATUSES: tuple[str, ...] = ("submitted", *OUTCOMES, "accepted", "declined", "withdrawn")

# Times arrive in UTC while dates are the jurisdiction's civil dates; the earliest civil time
# zone is UTC+14, so a date up to one day after the UTC date is still not in the future.
CIVIL_DATE_TOLERANCE = timedelta(days=1)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{field} must be non-empty text", {"field": field})
    return value


def _optional_text(value: object, field: str) -> str | None:
    return None if value is None else _text(value, field)


def _choice(value: object, field: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationFailed(f"{field} must be one of {', '.join(allowed)}",
                               {"field": field, "allowed": list(allowed)})
    return value


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false", {"field": field})
    return value


def _moment(value: object, field: str) -> datetime:
    # A naive time cannot be ordered against events recorded by other services.
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationFailed(f"{field} must be a timezone-aware datetime", {"field": field})
    return value


def _civil_date(value: object, field: str, not_after: datetime) -> str:
    # datetime is a subclass of date; accepting one would store a time where a date is meant.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationFailed(f"{field} must be a date", {"field": field})
    if value > not_after.date() + CIVIL_DATE_TOLERANCE:
        raise ValidationFailed(f"{field} must not be in the future", {"field": field})
    return value.isoformat()


def _optional_civil_date(value: object, field: str, not_after: datetime) -> str | None:
    return None if value is None else _civil_date(value, field, not_after)


def _case_id(value: object) -> UUID:
    if not isinstance(value, UUID):
        raise ValidationFailed("case_id must be a UUID", {"field": "case_id"})
    return value


def _deadlines(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidDeadlines("deadlines must map names to due dates", {"field": "deadlines"})
    normalised: dict[str, str] = {}
    invalid: list[str] = []
    for name, due in value.items():
        if not isinstance(name, str) or not name:
            invalid.append(repr(name))
        elif isinstance(due, date) and not isinstance(due, datetime):
            normalised[name] = due.isoformat()
        elif isinstance(due, str):
            try:
                normalised[name] = date.fromisoformat(due).isoformat()
            except ValueError:
                invalid.append(name)
        else:
            invalid.append(name)
    if invalid:
        raise InvalidDeadlines("every deadline must be an ISO date",
                               {"field": "deadlines", "invalid": sorted(invalid)})
    return normalised


def _reason_codes(value: object) -> list[str]:
    # A bare string is iterable; taking it character by character would invent reason codes.
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationFailed("reasons must be a list of codes", {"field": "reasons"})
    return [_text(code, "reasons") for code in value]


class Referral(Aggregate):
    """One case as referred by the police; its id is the case id used by every service."""

    # Event classes are declared rather than generated by `@event("Name")` so that their
    # attributes are visible to type checkers and read as the service's event contract.
    class Submitted(Aggregate.Created):
        jurisdiction: str
        initiated_by: str
        incident_date: str
        incident_summary: str
        offence_type: str
        victim_name: str
        victim_date_of_birth: str | None
        offender_name: str
        offender_date_of_birth: str | None
        offender_acknowledged: bool
        guilty_plea: bool
        court_reference: str | None
        submitted_by: str
        submitted_at: datetime
        deadlines: dict[str, str]

    class RiskAssessed(Aggregate.Event):
        answers: dict[str, bool]
        professional_judgement_high: bool
        score: int
        band: str
        red_flags: list[str]
        assessed_by: str
        at: datetime

    class IncidentReported(Aggregate.Event):
        incident_date: str
        summary: str
        reported_by: str
        at: datetime

    class Screened(Aggregate.Event):
        outcome: str
        reasons: list[str]
        risk_band: str
        at: datetime

    class Accepted(Aggregate.Event):
        provider_org: str
        at: datetime

    class Declined(Aggregate.Event):
        provider_org: str
        reason: str
        at: datetime

    class Withdrawn(Aggregate.Event):
        reason: str
        by: str
        at: datetime

    @classmethod
    def submit(
        cls,
        case_id: UUID,
        jurisdiction: str,
        initiated_by: str,
        incident_date: date,
        incident_summary: str,
        offence_type: str,
        victim_name: str,
        victim_date_of_birth: date | None,
        offender_name: str,
        offender_date_of_birth: date | None,
        offender_acknowledged: bool,
        guilty_plea: bool,
        court_reference: str | None,
        submitted_by: str,
        submitted_at: datetime,
        deadlines: Mapping[str, str],
    ) -> Referral:
        at = _moment(submitted_at, "submitted_at")
        return cls(
            id=_case_id(case_id),
            jurisdiction=_text(jurisdiction, "jurisdiction"),
            initiated_by=_choice(initiated_by, "initiated_by", INITIATORS),
            incident_date=_civil_date(incident_date, "incident_date", at),
            incident_summary=_text(incident_summary, "incident_summary"),
            offence_type=_text(offence_type, "offence_type"),
            victim_name=_text(victim_name, "victim_name"),
            victim_date_of_birth=_optional_civil_date(
                victim_date_of_birth, "victim_date_of_birth", at),
            offender_name=_text(offender_name, "offender_name"),
            offender_date_of_birth=_optional_civil_date(
                offender_date_of_birth, "offender_date_of_birth", at),
            offender_acknowledged=_flag(offender_acknowledged, "offender_acknowledged"),
            guilty_plea=_flag(guilty_plea, "guilty_plea"),
            court_reference=_optional_text(court_reference, "court_reference"),
            submitted_by=_text(submitted_by, "submitted_by"),
            submitted_at=at,
            deadlines=_deadlines(deadlines),
        )

    # eventsourcing takes the aggregate id from an `id` parameter of `__init__` and keeps it out
    # of the event's attributes (it is the event's originator id); the id is the case id.
    @event(Submitted)
    def __init__(
        self,
        id: UUID,
        jurisdiction: str,
        initiated_by: str,
        incident_date: str,
        incident_summary: str,
        offence_type: str,
        victim_name: str,
        victim_date_of_birth: str | None,
        offender_name: str,
        offender_date_of_birth: str | None,
        offender_acknowledged: bool,
        guilty_plea: bool,
        court_reference: str | None,
        submitted_by: str,
        submitted_at: datetime,
        deadlines: dict[str, str],
    ) -> None:
        self.status = "submitted"
        self.jurisdiction = jurisdiction
        self.initiated_by = initiated_by
        self.incident_date = incident_date
        self.incident_summary = incident_summary
        self.offence_type = offence_type
        self.victim_name = victim_name
        self.victim_date_of_birth = victim_date_of_birth
        self.offender_name = offender_name
        self.offender_date_of_birth = offender_date_of_birth
        self.offender_acknowledged = offender_acknowledged
        self.guilty_plea = guilty_plea
        self.court_reference = court_reference
        self.submitted_by = submitted_by
        self.submitted_at = submitted_at
        # Copied so that later mutation of aggregate state can never alter a recorded event.
        self.deadlines: dict[str, str] = dict(deadlines)
        self.eligibility: str | None = None
        self.eligibility_reasons: list[str] = []
        self.screened_risk_band: str | None = None
        self.screened_at: datetime | None = None
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.decline_reason: str | None = None
        self.withdrawn_reason: str | None = None
        self.withdrawn_by: str | None = None
        self.withdrawn_at: datetime | None = None
        self.risk_band: str | None = None
        self.risk_score: int | None = None
        self.red_flags: list[str] = []
        self.dash_answers: dict[str, bool] = {}
        self.professional_judgement: bool | None = None
        self.risk_assessed_at: datetime | None = None
        self.risk_history: list[dict[str, Any]] = []
        self.incidents: list[dict[str, Any]] = []
        self.reassessment_required = False

    # --- queries -------------------------------------------------------------------------
    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_eligible(self) -> bool:
        return self.eligibility in ELIGIBLE

    def deadline_dates(self) -> dict[str, date]:
        return {name: date.fromisoformat(due) for name, due in self.deadlines.items()}

    def _require_status(self, command: str, allowed: frozenset[str] | None = None) -> None:
        permitted = self.status not in TERMINAL if allowed is None else self.status in allowed
        if not permitted:
            raise InvalidState(f"cannot {command.replace('_', ' ')} a referral that is "
                               f"{self.status}", {"state": self.status, "command": command})

    # --- risk ----------------------------------------------------------------------------
    def assess_risk(self, answers: Mapping[str, bool], professional_judgement_high: bool,
                    assessed_by: str, at: datetime) -> None:
        self._require_status("assess_risk")
        assessment = assess(answers, professional_judgement_high)
        self._risk_assessed(
            answers=dict(assessment.answers),
            professional_judgement_high=assessment.professional_judgement_high,
            score=assessment.score,
            band=assessment.band,
            red_flags=list(assessment.red_flags),
            assessed_by=_text(assessed_by, "assessed_by"),
            at=_moment(at, "at"),
        )

    # The computed score, band and red flags are part of the event, so the record shows what
    # was concluded at the time even if the scoring thresholds change later.
    @event(RiskAssessed)
    def _risk_assessed(self, answers: dict[str, bool], professional_judgement_high: bool,
                       score: int, band: str, red_flags: list[str], assessed_by: str,
                       at: datetime) -> None:
        self.dash_answers = dict(answers)
        self.professional_judgement = professional_judgement_high
        self.risk_score = score
        self.risk_band = band
        self.red_flags = list(red_flags)
        self.risk_assessed_at = at
        self.reassessment_required = False
        self.risk_history.append({
            "answers": dict(answers), "professional_judgement_high": professional_judgement_high,
            "score": score, "band": band, "red_flags": list(red_flags),
            "assessed_by": assessed_by, "at": at,
        })

    def report_incident(self, incident_date: date, summary: str, reported_by: str,
                        at: datetime) -> None:
        self._require_status("report_incident")
        moment = _moment(at, "at")
        self._incident_reported(
            incident_date=_civil_date(incident_date, "incident_date", moment),
            summary=_text(summary, "summary"),
            reported_by=_text(reported_by, "reported_by"),
            at=moment,
        )

    # A new incident makes the current DASH assessment stale until the next one is recorded.
    @event(IncidentReported)
    def _incident_reported(self, incident_date: str, summary: str, reported_by: str,
                           at: datetime) -> None:
        self.incidents.append({"incident_date": incident_date, "summary": summary,
                               "reported_by": reported_by, "at": at})
        self.reassessment_required = True

    # --- lifecycle -----------------------------------------------------------------------
    def record_screening(self, outcome: str, reasons: Sequence[str], risk_band: str,
                         at: datetime) -> None:
        self._require_status("record_screening", frozenset({"submitted"}))
        if self.risk_band is None or self.reassessment_required:
            raise RiskAssessmentRequired(
                "screening needs a current DASH risk assessment",
                {"state": self.status, "reassessment_required": self.reassessment_required},
            )
        outcome = _choice(outcome, "outcome", OUTCOMES)
        codes = _reason_codes(reasons)
        risk_band = _choice(risk_band, "risk_band", BANDS)
        moment = _moment(at, "at")
        if outcome == "ineligible" and not codes:
            raise ReasonsRequired("an ineligible decision must give its reasons as codes",
                                  {"outcome": outcome})
        if risk_band != self.risk_band:
            raise RiskBandMismatch(
                "the eligibility decision was taken on a different risk band than the current "
                "assessment", {"decided_on": risk_band, "current": self.risk_band},
            )
        if outcome in ELIGIBLE and self.initiated_by == "offender":
            raise OffenderInitiated(
                "a referral initiated by the person who caused harm cannot be eligible",
                {"outcome": outcome, "initiated_by": self.initiated_by},
            )
        self._screened(outcome=outcome, reasons=codes, risk_band=risk_band, at=moment)

    @event(Screened)
    def _screened(self, outcome: str, reasons: list[str], risk_band: str, at: datetime) -> None:
        self.status = outcome
        self.eligibility = outcome
        self.eligibility_reasons = list(reasons)
        self.screened_risk_band = risk_band
        self.screened_at = at

    def record_acceptance(self, provider_org: str, at: datetime) -> None:
        self._require_status("record_acceptance", ELIGIBLE)
        self._accepted(provider_org=_text(provider_org, "provider_org"), at=_moment(at, "at"))

    @event(Accepted)
    def _accepted(self, provider_org: str, at: datetime) -> None:
        self.status = "accepted"
        self.decided_by = provider_org
        self.decided_at = at

    def record_decline(self, provider_org: str, reason: str, at: datetime) -> None:
        self._require_status("record_decline", ELIGIBLE)
        self._declined(provider_org=_text(provider_org, "provider_org"),
                       reason=_text(reason, "reason"), at=_moment(at, "at"))

    @event(Declined)
    def _declined(self, provider_org: str, reason: str, at: datetime) -> None:
        self.status = "declined"
        self.decided_by = provider_org
        self.decided_at = at
        self.decline_reason = reason

    def withdraw(self, reason: str, by: str, at: datetime) -> None:
        self._require_status("withdraw")
        self._withdrawn(reason=_text(reason, "reason"), by=_text(by, "by"), at=_moment(at, "at"))

    @event(Withdrawn)
    def _withdrawn(self, reason: str, by: str, at: datetime) -> None:
        self.status = "withdrawn"
        self.withdrawn_reason = reason
        self.withdrawn_by = by
        self.withdrawn_at = at
