"""RJ provider use cases: intake of referrals, RJ cases, facilitators, agreements."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from accord_kernel.application import AccordApplication, AlreadyExists, Routed, VersionConflict
from accord_kernel.case_context import CaseContexts
from accord_kernel.contracts import (
    AgreementItemsShared,
    AgreementMade,
    CaseChanged,
    CaseStopped,
    FacilitatorsAssigned,
    ItemReported,
    ReferralAccepted,
    ReferralDeclined,
    ShareRevoked,
)
from accord_kernel.domain_rules import InvalidState, NotFound
from accord_kernel.settings import ServiceSettings
from eventsourcing.application import AggregateNotFoundError, EventSourcedLog
from eventsourcing.domain import Aggregate, DomainEvent, DomainEventProtocol

from accord_conference.commands import AssignFacilitator, CaseCommand, ScheduleConference
from accord_conference.domain import Facilitator, RJCase
from accord_conference.domain.errors import ValidationFailed
from accord_conference.intake import Intake
from accord_conference.outcome_share import OutcomeShare

INTAKE_LOG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "accord/conference/intake")


class IntakeLogged(DomainEvent):
    case_id: uuid.UUID


class NotEligible(InvalidState):
    """Only an eligible referral can be accepted; `details` names the intake's state."""

    def __init__(self, state: str) -> None:
        super().__init__("Only an eligible referral can be accepted", {"state": state})
        self.state = state


# jurisdiction -> highest risk band at which direct RJ may proceed (policy data), or None
DirectLimit = Callable[[str], str | None]
# may the court receive the agreement items of this case? -> (allowed, decision id)
CourtSharePolicy = Callable[[str, dict[str, Any]], tuple[bool, str | None]]
FACILITATOR_LOG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "accord/conference/facilitators")


def _now() -> datetime:
    return datetime.now(UTC)


class ConferenceService(AccordApplication):
    service_name: ClassVar[str] = "conference"

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.direct_limit: DirectLimit = lambda _: None
        self.court_share_policy: CourtSharePolicy | None = None
        self.facilitator_log: EventSourcedLog[IntakeLogged] = EventSourcedLog(
            self.events, FACILITATOR_LOG_ID, IntakeLogged
        )
        self.intake_log: EventSourcedLog[IntakeLogged] = EventSourcedLog(
            self.events, INTAKE_LOG_ID, IntakeLogged
        )
        self.contexts = CaseContexts(self)

    # --- intake (fed by police events) ---------------------------------------------------
    def intake(self, case_id: str) -> Intake:
        try:
            found: Aggregate = self.repository.get(Intake.id_for(str(uuid.UUID(case_id))))
        except (AggregateNotFoundError, ValueError) as exc:
            raise NotFound("referral in intake") from exc
        assert isinstance(found, Intake)
        return found

    def receive_referral(
        self,
        case_id: str,
        jurisdiction: str,
        submitted_at: Any,
        referring_org: str,
        court_reference: str | None,
    ) -> list[Any]:
        try:
            self.intake(case_id)
            return []  # already known: a replay of the same referral changes nothing
        except NotFound:
            pass
        intake = Intake(
            case_id=uuid.UUID(case_id),
            jurisdiction=jurisdiction,
            submitted_at=submitted_at,
            referring_org=referring_org,
            court_reference=court_reference,
        )
        return [intake, self.intake_log.trigger_event(case_id=uuid.UUID(case_id))]

    def intake_document(self, intake: Intake) -> dict[str, Any]:
        return {
            "case_id": intake.case_id,
            "status": intake.status,
            "jurisdiction": intake.jurisdiction,
            "eligibility": intake.eligibility,
            "received_at": intake.created_on,
            "risk_band": intake.risk_band,
            "reassessment_required": intake.reassessment_required,
        }

    def intake_list(self, limit: int = 100, status: str | None = None) -> list[dict[str, Any]]:
        docs = []
        for logged in self.intake_log.get(desc=True):
            doc = self.intake_document(self.intake(str(logged.case_id)))
            if status is None or doc["status"] == status:
                docs.append(doc)
            if len(docs) >= limit:
                break
        return docs

    def policy_case(
        self, case_id: str, agency: str | None = None, user: str | None = None
    ) -> dict[str, Any]:
        """What the policy needs, with this service's own fact: which provider accepted."""
        case = self.contexts.policy_case(case_id, agency, user)
        try:
            intake = self.intake(case_id)
        except NotFound:
            return case
        case["jurisdiction"] = case.get("jurisdiction") or intake.jurisdiction
        provider = getattr(intake, "provider_org", None)
        if intake.status == "accepted" and provider:
            case["responsible"] = {**case["responsible"], "rj_provider": provider}
        return case

    # --- facilitators -------------------------------------------------------------------
    def register_facilitator(
        self,
        facilitator_id: str,
        name: str,
        org: str,
        accreditation_id: str,
        accredited_until: date,
        endorsement_expires: date | None,
    ) -> None:
        try:
            self.facilitator(facilitator_id)
            raise AlreadyExists("facilitator")
        except NotFound:
            pass
        f = Facilitator.register(
            facilitator_id,
            name,
            org,
            accreditation_id,
            accredited_until,
            endorsement_expires,
            _now(),
        )
        self.save(f, self.facilitator_log.trigger_event(case_id=f.id))

    def facilitator(self, facilitator_id: str) -> Facilitator:
        try:
            found: Aggregate = self.repository.get(Facilitator.id_for(facilitator_id))
        except AggregateNotFoundError as exc:
            raise NotFound("facilitator") from exc
        assert isinstance(found, Facilitator)
        return found

    def renew_endorsement(self, facilitator_id: str, expires: date) -> None:
        """A new expiry that ends before a scheduled conference suspends it, through the case's
        own event: the gate must hold on the conference day."""
        f = self.facilitator(facilitator_id)
        f.renew_endorsement(expires, _now())
        affected = []
        for rj in self.cases(limit=10_000):
            if (
                rj.status == "scheduled"
                and rj.facilitator_id == facilitator_id
                and rj.conference_at is not None
                and not f.has_valid_endorsement(rj.conference_at.date())
            ):
                rj.suspend_for("endorsement_expires_before_conference", _now())
                affected.append(rj)
        self.save(f, *affected)

    def log_supervision(self, facilitator_id: str, supervisor: str, notes_ref: str) -> None:
        f = self.facilitator(facilitator_id)
        f.log_supervision(supervisor, notes_ref, _now())
        self.save(f)

    def facilitators(self, org: str | None = None) -> list[dict[str, Any]]:
        today = _now().date()
        result = []
        for logged in self.facilitator_log.get():
            f: Facilitator = self.repository.get(logged.case_id)
            if org is not None and f.org != org:
                continue
            result.append(
                {
                    "facilitator_id": f.facilitator_id,
                    "name": f.name,
                    "org": f.org,
                    "accreditation_id": f.accreditation_id,
                    "accredited_until": f.accredited_until,
                    "endorsement_expires": f.endorsement_expires,
                    "endorsement_valid_today": f.has_valid_endorsement(today),
                    "supervision_log": f.supervision_log,
                }
            )
        return result

    # --- RJ cases ---------------------------------------------------------------------------
    def rj_case(self, case_id: str) -> RJCase:
        try:
            found: Aggregate = self.repository.get(uuid.UUID(case_id))
        except (AggregateNotFoundError, ValueError) as exc:
            raise NotFound("RJ case") from exc
        if not isinstance(found, RJCase):
            raise NotFound("RJ case")
        return found

    def accept(self, case_id: str, provider_org: str, by: str) -> None:
        """Opens the RJ case for an eligible referral: what victim services already said about
        consent and the safety plan applies from the first moment."""
        intake = self.intake(case_id)
        if intake.status not in ("eligible_direct", "eligible_indirect_only"):
            raise NotEligible(intake.status)
        now = _now()
        rj = RJCase.open(
            case_id,
            provider_org,
            intake.jurisdiction,
            intake.status,
            intake.risk_band or "standard",
            self.direct_limit(intake.jurisdiction),
            by,
            now,
            court_reference=intake.court_reference,
            referring_agency="police",
        )
        context = self.contexts.get(case_id)
        if context.participate_active():
            rj.note_participate_consent(True, now)
        if context.safety_plan_exists:
            rj.note_safety_plan(True, now, _date(context.safety_plan_review_date))
        if intake.reassessment_required:
            rj.note_reassessment_required(now)
        intake.decide("accepted", provider_org)
        # Saved with the case context read above: a consent or safety-plan event that the
        # inbox applies to the context meanwhile makes one of the two saves conflict and run
        # again, so the new case can never miss it (it would have found no RJ case to update).
        context.note_responsible("rj_provider", provider_org)
        self.save(intake, rj, context)

    def command(
        self, case_id: str, command: CaseCommand, expected_version: int | None = None
    ) -> None:
        """Applies one typed command to the case (optimistic concurrency on its version) and
        saves it with whatever the court may now receive."""
        rj = self.rj_case(case_id)
        if expected_version is not None and rj.version != expected_version:
            raise VersionConflict(rj.version)
        command.apply(rj)
        self.save(rj, *self._court_share(rj))

    def assign_facilitator(
        self,
        case_id: str,
        facilitator_id: str,
        role: str,
        by: str,
        expected_version: int | None = None,
    ) -> None:
        today = _now().date()
        rj = self.rj_case(case_id)
        # Endorsed today and, if a conference is scheduled, still on its day.
        days = [today] + ([rj.conference_at.date()] if rj.conference_at is not None else [])
        f = self.facilitator(facilitator_id)
        valid = all(f.has_valid_endorsement(day) for day in days)
        self.command(
            case_id,
            AssignFacilitator(facilitator_id, valid, today, by, role),
            expected_version=expected_version,
        )

    def _endorsed(self, rj: RJCase, *days: date) -> bool:
        return rj.facilitator_id is not None and all(
            self.facilitator(rj.facilitator_id).has_valid_endorsement(day) for day in days
        )

    def schedule(
        self,
        case_id: str,
        modality: str,
        at_time: datetime,
        by: str,
        expected_version: int | None = None,
    ) -> None:
        """The gate is checked as of the conference day: the endorsement must hold today and
        on the day, and the safety plan must still be current then."""
        rj = self.rj_case(case_id)
        today = _now().date()
        day = at_time.astimezone(UTC).date()
        if day < today:
            raise ValidationFailed(
                "a conference cannot be scheduled in the past", {"field": "at_time"}
            )
        valid = self._endorsed(rj, today, day)
        self.command(
            case_id,
            ScheduleConference(modality, at_time, day, valid, by),
            expected_version=expected_version,
        )

    def gate(self, case_id: str, on: date | None = None) -> dict[str, Any]:
        """Every failed condition as of `on`: the scheduled conference's day if there is one,
        else today (the earliest a conference could be)."""
        rj = self.rj_case(case_id)
        today = _now().date()
        scheduled = rj.conference_at.date() if rj.conference_at is not None else None
        day = max(on or scheduled or today, today)
        valid = self._endorsed(rj, today, day)
        return {
            "as_of": day.isoformat(),
            "direct": rj.direct_gate_failures(day, valid),
            "indirect": rj.indirect_gate_failures(day, valid),
        }

    def case_document(self, rj: RJCase) -> dict[str, Any]:
        today = _now().date()
        return {
            "case_id": rj.case_id,
            "status": rj.status,
            "stage": rj.status,
            "modality": rj.modality,
            "jurisdiction": rj.jurisdiction,
            "opened_at": rj.opened_at,
            "stop_reason": rj.stop_reason,
            "suspended": rj.status == "suspended",
            "facilitator_id": rj.facilitator_id,
            "co_facilitator_id": rj.co_facilitator_id,
            "gate": {
                "direct": rj.direct_gate_failures(today, True),
                "indirect": rj.indirect_gate_failures(today, True),
            },
            "conference_at": rj.conference_at,
            "version": rj.version,
            "reassessment_required": rj.reassessment_required,
            "risk_band": rj.risk_band,
            "participate_consent_active": rj.participate_consent_active,
            "offender_consent": rj.offender_consent,
            "preparation": rj.preparations,
            "conference_notes": rj.conference_notes,
            "agreement_items": rj.agreement_items,
            "agreement_consents": rj.agreement_consents,
            "compliance": {
                "items": rj.items_status(),
                "overdue": rj.overdue_items(today),
                "returned_to": rj.returned_to,
            },
        }

    def cases(self, limit: int = 100, visible_to: tuple[str, str] | None = None) -> list[RJCase]:
        """Newest first; `visible_to` (agency, org) keeps the cases that organisation is
        responsible for, so a page is a page of the caller's own (the policy decides rows)."""
        found = []
        for logged in self.intake_log.get(desc=True):
            try:
                rj = self.rj_case(str(logged.case_id))
            except NotFound:
                continue
            if (
                visible_to is not None
                and self.policy_case(rj.case_id)["responsible"].get(visible_to[0]) != visible_to[1]
            ):
                continue
            found.append(rj)
            if len(found) >= limit:
                break
        return found

    def _court_share(self, rj: RJCase, context: Any = None) -> list[Any]:
        """Decides, through policy, whether the court may now hold the agreement text."""
        if rj.agreement_status != "agreed" or not rj.court_reference:
            return []
        share = self.outcome_share(rj.case_id)
        context = context or self.contexts.get(rj.case_id)
        all_parties = rj.outcome_shared_with_court and all(
            c["status"] == "active" for c in context.consents.values() if c["scope"] == "outcome"
        )
        allowed, decision_id = False, None
        if all_parties and self.court_share_policy is not None:
            try:
                allowed, decision_id = self.court_share_policy(
                    rj.case_id,
                    {
                        "outcome_consent_all_parties": True,
                        "consent_provisions": [],
                        "risk_band": rj.risk_band,
                        "emergency_grant": None,
                        "responsible": dict(context.responsible),
                    },
                )
            except Exception:  # policy unavailable: deny, a later command re-decides
                allowed = False
        if allowed and not share.shared:
            share.share(rj.court_reference, rj.agreement_items, decision_id, _now())
        elif not allowed and share.shared:
            share.revoke("outcome_consent_withdrawn", _now())
        return [share]

    def outcome_share(self, case_id: str) -> OutcomeShare:
        try:
            found: Aggregate = self.repository.get(OutcomeShare.id_for(case_id))
        except AggregateNotFoundError:
            return OutcomeShare(case_id)
        assert isinstance(found, OutcomeShare)
        return found

    def reconsider_court_share(self, case_id: str, context: Any) -> list[Any]:
        try:
            return self._court_share(self.rj_case(case_id), context)
        except NotFound:
            return []

    def integration_events(self, domain_event: DomainEventProtocol[uuid.UUID]) -> list[Routed]:
        e: Any = domain_event
        case_id = str(domain_event.originator_id)
        if isinstance(domain_event, RJCase.CaseStopped):
            return [(CaseStopped(case_id=case_id, reason=e.reason, at=e.at), None)]
        if isinstance(domain_event, (RJCase.AgreementAgreed, RJCase.OutcomeSharingWithdrawn)):
            rj = self._at(domain_event)
            return [
                (
                    AgreementMade(
                        case_id=case_id,
                        court_reference=rj.court_reference,
                        items_status=rj.items_status(),
                        outcome_consent_all_parties=rj.outcome_shared_with_court,
                        at=e.at,
                    ),
                    None,
                )
            ]
        if isinstance(domain_event, (RJCase.ItemCompleted, RJCase.AgreementBreached)):
            rj = self._at(domain_event)
            return [
                (
                    ItemReported(
                        case_id=case_id,
                        item_id=e.item_id,
                        status="completed"
                        if isinstance(domain_event, RJCase.ItemCompleted)
                        else "breached",
                        reported_by_agency=e.reported_by_agency,
                        court_reference=rj.court_reference,
                        items_status=rj.items_status(),
                        case_status=rj.status,
                        returned_to=rj.returned_to,
                        at=e.at,
                    ),
                    None,
                )
            ]
        if isinstance(domain_event, RJCase.CaseCompleted):
            rj = self._at(domain_event)
            return [
                (
                    ItemReported(
                        case_id=case_id,
                        item_id="*",
                        status="completed",
                        reported_by_agency="rj_provider",
                        court_reference=rj.court_reference,
                        items_status=rj.items_status(),
                        case_status="completed",
                        at=e.at,
                    ),
                    None,
                )
            ]
        if isinstance(domain_event, OutcomeShare.Shared):
            share = self._at(domain_event)
            return [
                (
                    AgreementItemsShared(
                        case_id=share.case_id,
                        recipient="court",
                        court_reference=e.court_reference,
                        items_text=e.items,
                        at=e.at,
                    ),
                    "court",
                )
            ]
        if isinstance(domain_event, OutcomeShare.Revoked):
            share = self._at(domain_event)
            return [
                (
                    ShareRevoked(
                        case_id=share.case_id,
                        recipient="court",
                        data_classes=["agreement.items"],
                        reason=e.reason,
                        at=e.at,
                    ),
                    "court",
                )
            ]
        if isinstance(domain_event, Intake.Decided) and e.status == "accepted":
            case_id = self._at(domain_event).case_id
            return [
                (
                    ReferralAccepted(case_id=case_id, provider_org=e.provider_org, at=e.timestamp),
                    None,
                )
            ]
        if isinstance(domain_event, Intake.Decided) and e.status == "declined":
            case_id = self._at(domain_event).case_id
            return [
                (
                    ReferralDeclined(
                        case_id=case_id,
                        provider_org=e.provider_org,
                        reason=e.reason or "",
                        at=e.timestamp,
                    ),
                    None,
                )
            ]
        if isinstance(domain_event, RJCase.FacilitatorAssigned):
            rj = self._at(domain_event)
            return [
                (
                    FacilitatorsAssigned(
                        case_id=case_id,
                        at=e.timestamp,
                        facilitator_ids=[f for f in (rj.facilitator_id, rj.co_facilitator_id) if f],
                    ),
                    None,
                )
            ]
        if type(domain_event).__qualname__.startswith("RJCase."):
            # Every other change of the case (assignment, preparation, scheduling, suspension)
            # reaches the audit log by name and version, without its content.
            rj = self._at(domain_event)
            return [
                (
                    CaseChanged(
                        case_id=case_id,
                        service="conference",
                        record="rj_case",
                        change=type(domain_event).__name__,
                        version=domain_event.originator_version,
                        status=rj.status,
                        at=e.timestamp,
                    ),
                    None,
                )
            ]
        return super().integration_events(domain_event)

    def _at(self, domain_event: DomainEventProtocol[uuid.UUID]) -> Any:
        return self.repository.get(
            domain_event.originator_id, version=domain_event.originator_version
        )


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
