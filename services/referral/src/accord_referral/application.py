"""Referral use cases. Methods take and return plain values; eligibility is a policy port."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from accord_kernel.application import AccordApplication, Routed, VersionConflict
from accord_kernel.case_context import CaseContexts
from accord_kernel.contracts import (
    IncidentReported,
    ReferralScreened,
    ReferralSubmitted,
    ReferralWithdrawn,
    RiskAssessed,
)
from accord_kernel.domain_rules import IdempotencyKeyReused, NotFound
from accord_kernel.settings import ServiceSettings
from eventsourcing.application import AggregateNotFoundError, EventSourcedLog
from eventsourcing.domain import Aggregate, DomainEvent, DomainEventProtocol

from accord_referral.calendars import local_zone, public_holidays
from accord_referral.commands import SubmitReferral
from accord_referral.domain import Referral, deadlines_for, is_overdue
from accord_referral.domain.dash import assess

# The eligibility decision is made by policy (OPA) from the jurisdiction pack.
EligibilityPolicy = Callable[[dict[str, Any]], dict[str, Any]]

REFERRAL_LOG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "accord/referral/referrals")


class ReferralLogged(DomainEvent):
    referral_id: uuid.UUID


class ReferralService(AccordApplication):
    service_name: ClassVar[str] = "referral"

    def __init__(self, settings: ServiceSettings, eligibility: EligibilityPolicy) -> None:
        super().__init__(settings)
        self.eligibility = eligibility
        self.referral_log: EventSourcedLog[ReferralLogged] = EventSourcedLog(
            self.events, REFERRAL_LOG_ID, ReferralLogged
        )
        self.contexts = CaseContexts(self)

    # --- commands ------------------------------------------------------------------------
    def submit(self, command: SubmitReferral, now: datetime | None = None) -> tuple[str, bool]:
        """Returns (case id, created). A repeated Idempotency-Key returns the first case; the
        same key for a different request raises IdempotencyKeyReused."""
        now = now or datetime.now(UTC)
        key, digest = command.idempotency_key, command.request_digest
        case_id = (
            uuid.uuid5(uuid.NAMESPACE_URL, f"accord/referral/{command.referring_org}/{key}")
            if key
            else uuid.uuid4()
        )
        if key:
            existing = self._find(case_id)
            if existing is not None:
                first = getattr(existing, "request_digest", None)
                if digest is not None and first is not None and first != digest:
                    raise IdempotencyKeyReused(str(case_id))
                return str(case_id), False
        assessment = assess(command.dash_answers, command.professional_judgement_high)
        decision = self.eligibility(
            {
                "jurisdiction": command.jurisdiction,
                "initiated_by": command.initiated_by,
                "offender_acknowledged": command.offender_acknowledged,
                "guilty_plea": command.guilty_plea,
                "risk_band": assessment.band,
            }
        )
        jurisdiction = command.jurisdiction
        deadlines = {
            k: v.isoformat()
            for k, v in deadlines_for(
                now,
                decision.get("deadlines", {}),
                public_holidays(jurisdiction, now),
                local_zone(jurisdiction),
            ).items()
        }
        referral = Referral.submit(case_id, command, submitted_at=now, deadlines=deadlines)
        referral.assess_risk(
            dict(command.dash_answers),
            command.professional_judgement_high,
            command.submitted_by,
            now,
        )
        referral.record_screening(
            decision["outcome"], list(decision.get("reasons", [])), assessment.band, now
        )
        self.save(referral, self.referral_log.trigger_event(referral_id=case_id))
        return str(case_id), True

    def assess_risk(
        self,
        case_id: str,
        answers: Mapping[str, bool],
        judgement_high: bool,
        assessed_by: str,
        expected_version: int | None = None,
    ) -> None:
        referral = self._get(case_id, expected_version)
        referral.assess_risk(dict(answers), judgement_high, assessed_by, datetime.now(UTC))
        self.save(referral)

    def report_incident(
        self,
        case_id: str,
        incident_date: date,
        summary: str,
        reported_by: str,
        expected_version: int | None = None,
    ) -> None:
        referral = self._get(case_id, expected_version)
        referral.report_incident(incident_date, summary, reported_by, datetime.now(UTC))
        self.save(referral)

    def withdraw(
        self, case_id: str, reason: str, by: str, expected_version: int | None = None
    ) -> None:
        referral = self._get(case_id, expected_version)
        referral.withdraw(reason, by, datetime.now(UTC))
        self.save(referral)

    def record_acceptance(self, case_id: str, provider_org: str, at: datetime) -> list[Referral]:
        referral = self._get(case_id)
        referral.record_acceptance(provider_org, at)
        return [referral]

    def record_decline(
        self, case_id: str, provider_org: str, reason: str, at: datetime
    ) -> list[Referral]:
        referral = self._get(case_id)
        referral.record_decline(provider_org, reason, at)
        return [referral]

    def policy_case(
        self,
        case_id: str,
        agency: str | None = None,
        user: str | None = None,
        risk_band: str | None = None,
    ) -> dict[str, Any]:
        """What the policy needs: consents and grants learnt from events, and the current risk
        band, which this service owns (passed in when the caller has the referral already)."""
        case = self.contexts.policy_case(case_id, agency, user)
        with contextlib.suppress(NotFound):
            referral = self._get(case_id)
            risk_band = risk_band or referral.risk_band
            # This service owns the referral, so its own record says who is responsible, unless
            # a later event said otherwise (a transfer to another victim-services organisation).
            case["responsible"] = {**referral.responsible, **case["responsible"]}
            case["jurisdiction"] = referral.jurisdiction
        case["risk_band"] = risk_band or case["risk_band"]
        return case

    # --- queries -------------------------------------------------------------------------
    def referral(self, case_id: str, today: date | None = None) -> dict[str, Any]:
        return self._document(self._get(case_id), today or datetime.now(UTC).date())

    def referrals(
        self,
        today: date | None = None,
        limit: int = 100,
        overdue_only: bool = False,
        visible_to: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first. `visible_to` (agency, org) keeps the cases that organisation is
        responsible for, so a page of results is a page of the caller's own cases; the policy
        still decides every row."""
        today = today or datetime.now(UTC).date()
        docs = []
        scan_all = overdue_only or visible_to is not None
        for logged in self.referral_log.get(desc=True, limit=None if scan_all else limit):
            referral = self._get(str(logged.referral_id))
            if visible_to is not None and referral.responsible.get(visible_to[0]) != visible_to[1]:
                continue
            doc = self._document(referral, today)
            if not overdue_only or doc["overdue"]:
                docs.append(doc)
            if len(docs) >= limit:
                break
        return docs

    def _find(self, case_id: uuid.UUID) -> Referral | None:
        try:
            found: Aggregate = self.repository.get(case_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Referral) else None

    def _get(self, case_id: str, expected_version: int | None = None) -> Referral:
        try:
            referral: Aggregate = self.repository.get(uuid.UUID(case_id))
        except (AggregateNotFoundError, ValueError) as exc:
            raise NotFound("referral") from exc
        assert isinstance(referral, Referral)
        if expected_version is not None and referral.version != expected_version:
            raise VersionConflict(referral.version)
        return referral

    @staticmethod
    def _document(r: Referral, today: date) -> dict[str, Any]:
        deadlines = {
            k: date.fromisoformat(v) if isinstance(v, str) else v
            for k, v in (r.deadlines or {}).items()
        }
        open_ = r.status not in ("accepted", "declined", "withdrawn", "ineligible")
        return {
            "case_id": str(r.id),
            "status": r.status,
            "jurisdiction": r.jurisdiction,
            "initiated_by": r.initiated_by,
            "submitted_at": r.submitted_at,
            "court_reference": r.court_reference,
            "eligibility": r.eligibility,
            "eligibility_reasons": list(r.eligibility_reasons or []),
            "deadlines": {k: v.isoformat() for k, v in deadlines.items()},
            "overdue": open_ and is_overdue(deadlines, today),
            "decided_by": r.decided_by,
            "decline_reason": r.decline_reason,
            "withdrawn_reason": r.withdrawn_reason,
            # When each later status was reached, so a timeline can date every step.
            "screened_at": r.screened_at,
            "decided_at": r.decided_at,
            "withdrawn_at": r.withdrawn_at,
            "version": r.version,
            "reassessment_required": r.reassessment_required,
            "victim_name": r.victim_name,
            "victim_date_of_birth": r.victim_date_of_birth,
            "offender_name": r.offender_name,
            "offender_date_of_birth": r.offender_date_of_birth,
            "incident_date": r.incident_date,
            "incident_summary": r.incident_summary,
            "offence_type": r.offence_type,
            "offender_acknowledged": r.offender_acknowledged,
            "guilty_plea": r.guilty_plea,
            "incidents": list(r.incidents or []),
            "risk_band": r.risk_band,
            "risk_score": r.risk_score,
            "dash_answers": dict(r.dash_answers or {}),
            "red_flags": list(r.red_flags or []),
            "professional_judgement": r.professional_judgement,
            "risk_history": list(r.risk_history or []),
        }

    # --- outbox translation --------------------------------------------------------------
    def integration_events(self, domain_event: DomainEventProtocol[uuid.UUID]) -> list[Routed]:
        e: Any = domain_event
        case_id = str(domain_event.originator_id)
        if isinstance(domain_event, Referral.Submitted):
            return [
                (
                    ReferralSubmitted(
                        case_id=case_id,
                        jurisdiction=e.jurisdiction,
                        initiated_by=e.initiated_by,
                        submitted_at=e.submitted_at,
                        court_reference=e.court_reference,
                        referring_org=(getattr(e, "organisations", None) or {}).get("police", ""),
                        organisations=dict(getattr(e, "organisations", None) or {}),
                        deadlines=e.deadlines or {},
                    ),
                    None,
                )
            ]
        if isinstance(domain_event, Referral.RiskAssessed):
            return [(RiskAssessed(case_id=case_id, risk_band=e.band, at=e.at), None)]
        if isinstance(domain_event, Referral.Screened):
            return [
                (
                    ReferralScreened(
                        case_id=case_id,
                        outcome=e.outcome,
                        reasons=e.reasons,
                        risk_band=e.risk_band,
                        at=e.at,
                    ),
                    None,
                )
            ]
        if isinstance(domain_event, Referral.IncidentReported):
            return [(IncidentReported(case_id=case_id, reassessment_required=True, at=e.at), None)]
        if isinstance(domain_event, Referral.Withdrawn):
            return [(ReferralWithdrawn(case_id=case_id, reason=e.reason, at=e.at), None)]
        return super().integration_events(domain_event)
