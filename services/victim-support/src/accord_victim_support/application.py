"""Victim-services use cases: victim record, consents, safety flags and plans, emergency
access, transfers between victim-services organisations. Methods take and return plain values.

Data that consent governs (location, safety flags, safety plan) never leaves this service: other
agencies read it here, at read time, with their own token, and the policy decides each read
(SPEC section 2, "sensitive data is read at its source"). So a withdrawal takes effect on the
very next read, whatever Kafka is doing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar, TypeVar

from accord_kernel.application import AccordApplication, AlreadyExists, Routed, VersionConflict
from accord_kernel.case_context import CaseContext, CaseContexts
from accord_kernel.contracts import (
    CaseChanged,
    ConsentChanged,
    EmergencyAccessGranted,
    SafetyPlanChanged,
    VictimServicesTransferred,
)
from accord_kernel.domain_rules import NotFound
from accord_kernel.settings import ServiceSettings
from eventsourcing.application import AggregateNotFoundError, EventSourcedLog
from eventsourcing.domain import Aggregate, DomainEvent, DomainEventProtocol

from accord_victim_support.domain import Consent, EmergencyAccess, NotPermitted, VictimRecord
from accord_victim_support.domain.consent import active_provisions, summary
from accord_victim_support.notifications import VictimNotifications

log = logging.getLogger("accord.victim_support")

A = TypeVar("A", bound=Aggregate)


class Logged(DomainEvent):
    item_id: uuid.UUID


def _ns(*parts: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "accord/victim-support/" + "/".join(parts))


def _now() -> datetime:
    return datetime.now(UTC)


class VictimSupportService(AccordApplication):
    service_name: ClassVar[str] = "victim-support"

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.contexts = CaseContexts(self)
        self.cases: EventSourcedLog[Logged] = EventSourcedLog(self.events, _ns("cases"), Logged)
        self.reviews: EventSourcedLog[Logged] = EventSourcedLog(
            self.events, _ns("emergency-reviews"), Logged
        )

    # --- lookups ---------------------------------------------------------------------------
    def _get(self, aggregate_id: uuid.UUID, kind: type[A], what: str) -> A:
        try:
            found: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError as exc:
            raise NotFound(what) from exc
        if not isinstance(found, kind):
            raise NotFound(what)
        return found

    def victim_record(self, case_id: str) -> VictimRecord:
        return self._get(_ns("victim", case_id), VictimRecord, "victim record")

    def _log(self, name: str, case_id: str) -> EventSourcedLog[Logged]:
        return EventSourcedLog(self.events, _ns(name, case_id), Logged)

    def consents(self, case_id: str) -> list[Consent]:
        return [
            self._get(e.item_id, Consent, "consent") for e in self._log("consents", case_id).get()
        ]

    def consent(self, consent_id: str) -> Consent:
        try:
            return self._get(uuid.UUID(consent_id), Consent, "consent")
        except ValueError as exc:
            raise NotFound("consent") from exc

    def grants(self, case_id: str) -> list[EmergencyAccess]:
        return [
            self._get(e.item_id, EmergencyAccess, "emergency access")
            for e in self._log("grants", case_id).get()
        ]

    def notifications(self, case_id: str) -> VictimNotifications:
        try:
            return self._get(
                VictimNotifications.id_for(case_id), VictimNotifications, "notifications"
            )
        except NotFound:
            return VictimNotifications(case_id)

    def mark_told(self, case_id: str, index: int, by: str) -> None:
        notes = self.notifications(case_id)
        if not 0 <= index < len(notes.items):
            raise NotFound("notification")
        notes.mark_told(index, by, _now())
        self.save(notes)

    # --- what the policy needs --------------------------------------------------------------
    def policy_case(
        self,
        case_id: str,
        agency: str | None = None,
        user: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        now = now or _now()
        context = self.contexts.get(case_id)
        risk_band = context.risk_band
        try:
            record = self.victim_record(case_id)
            risk_band = record.risk_band or risk_band
        except NotFound:
            pass
        grant = next(
            (
                g
                for g in reversed(self.grants(case_id))
                if g.agency == agency and (user is None or g.user == user) and g.is_active(now)
            ),
            None,
        )
        # What every service knows of the case (responsibility, facilitators, outcome consent),
        # with the facts this service owns in place of the copies learnt from events.
        return {
            **context.policy_case(agency, user),
            "risk_band": risk_band,
            "consent_provisions": active_provisions(self.consents(case_id), now),
            "emergency_grant": None
            if grant is None
            else {
                "grant_id": str(grant.id),
                "agency": grant.agency,
                "user": grant.user,
                "data_classes": grant.data_classes,
                "reason_code": grant.reason_code,
                "expires_at": grant.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }

    # --- victim record ----------------------------------------------------------------------
    def register_victim(self, case_id: str, details: Mapping[str, Any], by: str) -> str:
        record_id = _ns("victim", case_id)
        try:
            self.victim_record(case_id)
            raise AlreadyExists("victim record")
        except NotFound:
            pass
        record = VictimRecord.register(
            id=record_id, case_id=case_id, registered_by=by, at=_now(), **details
        )
        band = self.contexts.get(case_id).risk_band
        if band:
            record.note_risk_band(band, _now())
        self.save(record, self.cases.trigger_event(item_id=record_id))
        return str(record_id)

    def update_victim(
        self,
        case_id: str,
        command: str,
        args: Mapping[str, Any],
        by: str,
        expected_version: int | None = None,
    ) -> None:
        record = self.victim_record(case_id)
        _check_version(record, expected_version)
        getattr(record, command)(by=by, at=_now(), **args)
        self.save(record)

    def victim_document(self, case_id: str) -> dict[str, Any]:
        r = self.victim_record(case_id)
        return {
            "case_id": r.case_id,
            "victim_id": str(r.id),
            "version": r.version,
            "name": r.name,
            "date_of_birth": r.date_of_birth,
            "preferred_contact_method": r.preferred_contact_method,
            "language": r.language,
            "interpreter_needed": r.interpreter_needed,
            "children": r.children,
            "address": r.address,
            "safe_contact_number": r.safe_contact_number,
            "refuge": r.refuge,
            "safe_contact_method": r.safe_contact_method,
            "support_notes": r.support_notes,
        }

    # --- consents ---------------------------------------------------------------------------
    def grant_consent(
        self,
        case_id: str,
        *,
        scope: str,
        provisions: Sequence[Mapping[str, Any]],
        seen_alone: bool,
        verified_by: str,
        lawful_basis: str = "consent",
        consent_id: uuid.UUID | None = None,
    ) -> str:
        record = self.victim_record(case_id)
        consent = Consent.grant(
            id=consent_id or uuid.uuid4(),
            case_id=case_id,
            grantor=record.id,
            verified_by=verified_by,
            seen_alone=seen_alone,
            scope=scope,
            provisions=provisions,
            at=_now(),
            lawful_basis=lawful_basis,
        )
        self.save(consent, self._log("consents", case_id).trigger_event(item_id=consent.id))
        return str(consent.id)

    def withdraw_consent(self, consent_id: str, by: str, reason: str | None) -> None:
        consent = self.consent(consent_id)
        consent.withdraw(by, reason, _now())
        # Every read of consent-governed data is decided here from the stored consents, so the
        # next read after this save is refused: nothing elsewhere holds a copy to purge.
        self.save(consent)

    def refresh_consent(
        self, consent_id: str, new_end: datetime, by: str, expected_version: int | None = None
    ) -> None:
        consent = self.consent(consent_id)
        _check_version(consent, expected_version)
        consent.refresh(new_end, by, _now())
        self.save(consent)

    def expire_due_consents(self, now: datetime | None = None) -> int:
        """The sweep that records expiry (policy already ignores lapsed provisions)."""
        now = now or _now()
        expired = 0
        for logged in self.cases.get():
            record = self._get(logged.item_id, VictimRecord, "victim record")
            for consent in self.consents(record.case_id):
                if consent.status == "active" and consent.status_at(now) == "expired":
                    consent.expire(now)
                    self.save(consent)
                    expired += 1
        return expired

    def consent_document(self, consent: Consent, now: datetime | None = None) -> dict[str, Any]:
        now = now or _now()
        return {
            "consent_id": str(consent.id),
            "case_id": consent.case_id,
            "scope": consent.scope,
            "status": consent.status_at(now),
            "grantor": str(consent.grantor),
            "verified_by": consent.verified_by,
            "seen_alone": consent.seen_alone,
            "provisions": consent.provisions,
            "lawful_basis": consent.lawful_basis,
            "history": consent.history,
            "version": consent.version,
        }

    def consent_summary(self, case_id: str) -> dict[str, Any]:
        self.victim_record(case_id)  # a case victim services does not hold has no summary
        return {"case_id": case_id, **summary(self.consents(case_id), _now())}

    # --- safety flags and plan ----------------------------------------------------------------
    def raise_flag(
        self, case_id: str, code: str, severity: str, by: str, expected_version: int | None = None
    ) -> None:
        record = self.victim_record(case_id)
        _check_version(record, expected_version)
        record.raise_flag(code, severity, by, _now())
        self.save(record)

    def clear_flag(
        self, case_id: str, code: str, reason: str, by: str, expected_version: int | None = None
    ) -> None:
        record = self.victim_record(case_id)
        _check_version(record, expected_version)
        record.clear_flag(code, by, reason, _now())
        self.save(record)

    def flags_document(self, case_id: str) -> dict[str, Any]:
        return {
            "case_id": case_id,
            "flags": self.victim_record(case_id).safety_flags,
            "lawful_basis": None,
        }

    def record_safety_plan(
        self,
        case_id: str,
        content: str,
        review_date: date,
        by: str,
        expected_version: int | None = None,
    ) -> None:
        record = self.victim_record(case_id)
        _check_version(record, expected_version)
        if record.safety_plan_exists:
            record.revise_safety_plan(content, review_date, by, _now())
        else:
            record.record_safety_plan(content, review_date, by, _now())
        self.save(record)

    def plan_document(self, case_id: str) -> dict[str, Any]:
        record = self.victim_record(case_id)
        return {
            "case_id": case_id,
            "exists": record.safety_plan_exists,
            "review_date": record.safety_plan_review_date,
            "content": record.safety_plan_content,
        }

    def note_risk_band(self, case_id: str, band: str, at: datetime) -> list[Any]:
        try:
            record = self.victim_record(case_id)
        except NotFound:
            return []
        if not record.note_risk_band(band, at):
            return []
        return [record]

    # --- emergency access -----------------------------------------------------------------
    def request_emergency_access(
        self,
        case_id: str,
        *,
        agency: str,
        user: str,
        role: str,
        reason_code: str | None,
        justification: str | None,
        data_classes: Sequence[str],
        duration_minutes: int = 60,
    ) -> dict[str, Any]:
        self.victim_record(case_id)  # the case must be known to victim services
        if agency != "police":
            # SPEC section 4 names emergency access in the police column only.
            raise NotPermitted(
                "only a police supervisor may use emergency access", {"agency": agency}
            )
        grant = EmergencyAccess.request(
            id=uuid.uuid4(),
            case_id=case_id,
            agency=agency,
            user=user,
            role=role,
            reason_code=reason_code,
            justification=justification,
            data_classes=data_classes,
            requested_at=_now(),
            duration_minutes=duration_minutes,
        )
        self.save(
            grant,
            self._log("grants", case_id).trigger_event(item_id=grant.id),
            self.reviews.trigger_event(item_id=grant.id),
        )
        log.info("emergency access granted case=%s agency=%s grant=%s", case_id, agency, grant.id)
        return {
            "grant_id": str(grant.id),
            "expires_at": grant.expires_at,
            "data_classes": grant.data_classes,
        }

    def review_tasks(self, pending_only: bool = True) -> list[dict[str, Any]]:
        tasks = []
        for logged in self.reviews.get():
            g = self._get(logged.item_id, EmergencyAccess, "emergency access")
            if pending_only and not g.review_pending:
                continue
            tasks.append(
                {
                    "grant_id": str(g.id),
                    "case_id": g.case_id,
                    "agency": g.agency,
                    "user": g.user,
                    "reason_code": g.reason_code,
                    "justification": g.justification,
                    "data_classes": g.data_classes,
                    "requested_at": g.requested_at,
                    "expires_at": g.expires_at,
                    "review": g.review_summary(),
                }
            )
        return tasks

    def complete_review(
        self, grant_id: str, reviewer: str, outcome: str, notes: str | None
    ) -> None:
        try:
            grant = self._get(uuid.UUID(grant_id), EmergencyAccess, "emergency access")
        except ValueError as exc:
            raise NotFound("emergency access") from exc
        grant.complete_review(reviewer, outcome, notes, _now())
        self.save(grant)

    # --- responsibility ----------------------------------------------------------------------
    def responsible_org(self, case_id: str) -> str | None:
        return self.contexts.get(case_id).responsible.get("victim_services")

    def transfer(self, case_id: str, to_org: str, by: str) -> None:
        """Hands the case to another victim-services organisation, which is responsible from
        this event on; the old one no longer sees the case."""
        context = self.contexts.get(case_id)
        from_org = context.responsible.get("victim_services")
        if from_org is None:
            raise NotFound("case")
        if from_org == to_org:
            raise NotPermitted("the case is already with that organisation", {"field": "to_org"})
        context.transfer_victim_services(from_org, to_org, by, _now())
        self.save(context)
        log.info("case transferred case=%s from=%s to=%s", case_id, from_org, to_org)

    # --- outbox translation --------------------------------------------------------------------
    def integration_events(self, domain_event: DomainEventProtocol[uuid.UUID]) -> list[Routed]:
        e: Any = domain_event
        if type(domain_event).__qualname__.startswith("Consent."):
            consent: Aggregate = self.repository.get(
                domain_event.originator_id, version=domain_event.originator_version
            )
            assert isinstance(consent, Consent)
            status = consent.status
            return [
                (
                    ConsentChanged(
                        case_id=consent.case_id,
                        consent_id=str(consent.id),
                        scope=consent.scope,
                        status=status,
                        party="victim",
                        provisions=[
                            {**p, "start": _iso(p["start"]), "end": _iso(p["end"])}
                            for p in consent.provisions
                        ],
                        at=e.timestamp,
                    ),
                    None,
                )
            ]
        if isinstance(
            domain_event, (VictimRecord.SafetyPlanRecorded, VictimRecord.SafetyPlanRevised)
        ):
            record: VictimRecord = self.repository.get(
                domain_event.originator_id, version=domain_event.originator_version
            )
            return [
                (
                    SafetyPlanChanged(
                        case_id=record.case_id,
                        exists=True,
                        review_date=record.safety_plan_review_date,
                        at=e.timestamp,
                    ),
                    None,
                )
            ]
        if isinstance(domain_event, EmergencyAccess.Granted):
            return [
                (
                    EmergencyAccessGranted(
                        case_id=e.case_id,
                        grant_id=str(domain_event.originator_id),
                        agency=e.agency,
                        user=e.user,
                        data_classes=e.data_classes,
                        reason_code=e.reason_code,
                        expires_at=e.expires_at,
                    ),
                    None,
                )
            ]
        if type(domain_event).__qualname__.startswith("VictimRecord."):
            # Every other change of the record (registered, flag raised or cleared, a note)
            # reaches the audit log by name and version only: never its content.
            record = self.repository.get(
                domain_event.originator_id, version=domain_event.originator_version
            )
            return [
                (
                    CaseChanged(
                        case_id=record.case_id,
                        service="victim-support",
                        record="victim_record",
                        change=type(domain_event).__name__,
                        version=domain_event.originator_version,
                        at=e.timestamp,
                    ),
                    None,
                )
            ]
        if isinstance(domain_event, CaseContext.VictimServicesTransferred):
            context: CaseContext = self.repository.get(
                domain_event.originator_id, version=domain_event.originator_version
            )
            return [
                (
                    VictimServicesTransferred(
                        case_id=context.case_id, from_org=e.from_org, to_org=e.to_org, at=e.at
                    ),
                    None,
                )
            ]
        return super().integration_events(domain_event)


def _check_version(aggregate: Any, expected: int | None) -> None:
    if expected is not None and aggregate.version != expected:
        raise VersionConflict(aggregate.version)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
