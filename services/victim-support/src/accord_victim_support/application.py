"""Victim-services use cases: victim record, consents, safety flags and plans, emergency
access, and policy-routed sharing. Methods take and return plain values."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from accord_kernel.application import AccordApplication, AlreadyExists, Routed, VersionConflict
from accord_kernel.case_context import CaseContexts
from accord_kernel.contracts import (
    ConsentChanged,
    EmergencyAccessGranted,
    SafetyFlagsShared,
    SafetyPlanChanged,
    ShareRevoked,
)
from accord_kernel.policy import Decision, PolicyUnavailable
from accord_kernel.settings import ServiceSettings
from eventsourcing.application import AggregateNotFoundError, EventSourcedLog
from eventsourcing.domain import DomainEvent, DomainEventProtocol

from accord_victim_support.domain import Consent, EmergencyAccess, NotPermitted, VictimRecord
from accord_victim_support.domain.consent import active_provisions, summary
from accord_victim_support.notifications import VictimNotifications
from accord_victim_support.sharing import ShareLedger

log = logging.getLogger("accord.victim_support")

# Which purpose each recipient's copy serves; police hold flags for safeguarding.
SHARE_ROUTES = {"police": "safeguarding", "rj_provider": "case_management",
                "court": "compliance_review"}
# (recipient, purpose, resource type, document, policy case) -> decision
SharePolicy = Callable[[str, str, str, dict[str, Any], dict[str, Any]], Decision]


class Logged(DomainEvent):
    item_id: uuid.UUID


class NotFound(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _ns(*parts: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "accord/victim-support/" + "/".join(parts))


def _now() -> datetime:
    return datetime.now(UTC)


class VictimSupportService(AccordApplication):
    service_name: ClassVar[str] = "victim-support"

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.contexts = CaseContexts(self)
        self.share_policy: SharePolicy | None = None
        # Cases whose share decision could not be made (policy engine down); None means "not
        # known since start-up", so the first reconciliation looks at every case.
        self.reshare_pending: set[str] | None = None
        self.cases: EventSourcedLog[Logged] = EventSourcedLog(self.events, _ns("cases"), Logged)
        self.reviews: EventSourcedLog[Logged] = EventSourcedLog(
            self.events, _ns("emergency-reviews"), Logged)

    # --- lookups ---------------------------------------------------------------------------
    def _get(self, aggregate_id: uuid.UUID, kind: type[Any], what: str) -> Any:
        try:
            found = self.repository.get(aggregate_id)
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
        return [self._get(e.item_id, Consent, "consent")
                for e in self._log("consents", case_id).get()]

    def consent(self, consent_id: str) -> Consent:
        try:
            return self._get(uuid.UUID(consent_id), Consent, "consent")
        except ValueError as exc:
            raise NotFound("consent") from exc

    def grants(self, case_id: str) -> list[EmergencyAccess]:
        return [self._get(e.item_id, EmergencyAccess, "emergency access")
                for e in self._log("grants", case_id).get()]

    def ledger(self, case_id: str) -> ShareLedger:
        try:
            return self._get(ShareLedger.id_for(case_id), ShareLedger, "share ledger")
        except NotFound:
            return ShareLedger(case_id)

    def notifications(self, case_id: str) -> VictimNotifications:
        try:
            return self._get(VictimNotifications.id_for(case_id), VictimNotifications,
                             "notifications")
        except NotFound:
            return VictimNotifications(case_id)

    def mark_told(self, case_id: str, index: int, by: str) -> None:
        notes = self.notifications(case_id)
        if not 0 <= index < len(notes.items):
            raise NotFound("notification")
        notes.mark_told(index, by, _now())
        self.save(notes)

    # --- what the policy needs --------------------------------------------------------------
    def policy_case(self, case_id: str, agency: str | None = None,
                    user: str | None = None, now: datetime | None = None) -> dict[str, Any]:
        now = now or _now()
        context = self.contexts.get(case_id)
        risk_band = context.risk_band
        try:
            record = self.victim_record(case_id)
            risk_band = record.risk_band or risk_band
        except NotFound:
            pass
        grant = next((g for g in reversed(self.grants(case_id))
                      if g.agency == agency and (user is None or g.user == user)
                      and g.is_active(now)), None)
        return {
            "risk_band": risk_band,
            "consent_provisions": active_provisions(self.consents(case_id), now),
            "outcome_consent_all_parties": context.outcome_consent_all_parties(),
            "emergency_grant": None if grant is None else {
                "grant_id": str(grant.id), "agency": grant.agency, "user": grant.user,
                "data_classes": grant.data_classes, "reason_code": grant.reason_code,
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
        record = VictimRecord.register(id=record_id, case_id=case_id, registered_by=by,
                                       at=_now(), **details)
        band = self.contexts.get(case_id).risk_band
        if band:
            record.note_risk_band(band, _now())
        self.save(record, self.cases.trigger_event(item_id=record_id))
        return str(record_id)

    def update_victim(self, case_id: str, command: str, args: Mapping[str, Any], by: str,
                      expected_version: int | None = None) -> None:
        record = self.victim_record(case_id)
        _check_version(record, expected_version)
        getattr(record, command)(by=by, at=_now(), **args)
        self.save(record)

    def victim_document(self, case_id: str) -> dict[str, Any]:
        r = self.victim_record(case_id)
        return {
            "case_id": r.case_id, "victim_id": str(r.id), "version": r.version,
            "name": r.name, "date_of_birth": r.date_of_birth,
            "preferred_contact_method": r.preferred_contact_method, "language": r.language,
            "interpreter_needed": r.interpreter_needed, "children": r.children,
            "address": r.address, "safe_contact_number": r.safe_contact_number,
            "refuge": r.refuge, "safe_contact_method": r.safe_contact_method,
            "support_notes": r.support_notes,
        }

    # --- consents ---------------------------------------------------------------------------
    def grant_consent(self, case_id: str, *, scope: str, provisions: Sequence[Mapping[str, Any]],
                      seen_alone: bool, verified_by: str, lawful_basis: str = "consent",
                      consent_id: uuid.UUID | None = None) -> str:
        record = self.victim_record(case_id)
        consent = Consent.grant(id=consent_id or uuid.uuid4(), case_id=case_id,
                                grantor=record.id, verified_by=verified_by,
                                seen_alone=seen_alone, scope=scope, provisions=provisions,
                                at=_now(), lawful_basis=lawful_basis)
        ledger = self._reshare(case_id, extra_consents=[consent])
        self.save(consent, self._log("consents", case_id).trigger_event(item_id=consent.id),
                  ledger)
        return str(consent.id)

    def withdraw_consent(self, consent_id: str, by: str, reason: str | None) -> None:
        consent = self.consent(consent_id)
        consent.withdraw(by, reason, _now())
        # Withdrawal never waits for the policy engine: if it cannot answer, everything
        # shared under this case is revoked (deny by default).
        ledger = self._reshare(consent.case_id, replaced={consent.id: consent})
        self.save(consent, ledger)

    def refresh_consent(self, consent_id: str, new_end: datetime, by: str) -> None:
        consent = self.consent(consent_id)
        consent.refresh(new_end, by, _now())
        self.save(consent, self._reshare(consent.case_id, replaced={consent.id: consent}))

    def expire_due_consents(self, now: datetime | None = None) -> int:
        """The sweep that records expiry (policy already ignores lapsed provisions)."""
        now = now or _now()
        expired = 0
        for logged in self.cases.get():
            record = self._get(logged.item_id, VictimRecord, "victim record")
            for consent in self.consents(record.case_id):
                if consent.status == "active" and consent.status_at(now) == "expired":
                    consent.expire(now)
                    self.save(consent, self._reshare(record.case_id,
                                                     replaced={consent.id: consent}))
                    expired += 1
        return expired

    def consent_document(self, consent: Consent, now: datetime | None = None) -> dict[str, Any]:
        now = now or _now()
        return {
            "consent_id": str(consent.id), "case_id": consent.case_id, "scope": consent.scope,
            "status": consent.status_at(now), "grantor": str(consent.grantor),
            "verified_by": consent.verified_by, "seen_alone": consent.seen_alone,
            "provisions": consent.provisions, "lawful_basis": consent.lawful_basis,
            "history": consent.history, "version": consent.version,
        }

    def consent_summary(self, case_id: str) -> dict[str, Any]:
        return {"case_id": case_id, **summary(self.consents(case_id), _now())}

    # --- safety flags and plan ----------------------------------------------------------------
    def raise_flag(self, case_id: str, code: str, severity: str, by: str) -> None:
        record = self.victim_record(case_id)
        record.raise_flag(code, severity, by, _now())
        self.save(record, self._reshare(case_id, record=record))

    def clear_flag(self, case_id: str, code: str, reason: str, by: str) -> None:
        record = self.victim_record(case_id)
        record.clear_flag(code, by, reason, _now())
        self.save(record, self._reshare(case_id, record=record))

    def flags_document(self, case_id: str) -> dict[str, Any]:
        return {"case_id": case_id, "flags": self.victim_record(case_id).safety_flags,
                "lawful_basis": None}

    def record_safety_plan(self, case_id: str, content: str, review_date: date, by: str) -> None:
        record = self.victim_record(case_id)
        if record.safety_plan_exists:
            record.revise_safety_plan(content, review_date, by, _now())
        else:
            record.record_safety_plan(content, review_date, by, _now())
        self.save(record)

    def plan_document(self, case_id: str) -> dict[str, Any]:
        record = self.victim_record(case_id)
        return {"case_id": case_id, "exists": record.safety_plan_exists,
                "review_date": record.safety_plan_review_date,
                "content": record.safety_plan_content}

    def note_risk_band(self, case_id: str, band: str, at: datetime) -> list[Any]:
        try:
            record = self.victim_record(case_id)
        except NotFound:
            return []
        if not record.note_risk_band(band, at):
            return []
        return [record, self._reshare(case_id, record=record)]

    # --- emergency access -----------------------------------------------------------------
    def request_emergency_access(self, case_id: str, *, agency: str, user: str, role: str,
                                 reason_code: str | None, justification: str | None,
                                 data_classes: Sequence[str],
                                 duration_minutes: int = 60) -> dict[str, Any]:
        self.victim_record(case_id)  # the case must be known to victim services
        if agency != "police":
            # SPEC section 4 names emergency access in the police column only.
            raise NotPermitted("only a police supervisor may use emergency access",
                               {"agency": agency})
        grant = EmergencyAccess.request(
            id=uuid.uuid4(), case_id=case_id, agency=agency, user=user, role=role,
            reason_code=reason_code, justification=justification, data_classes=data_classes,
            requested_at=_now(), duration_minutes=duration_minutes)
        self.save(grant, self._log("grants", case_id).trigger_event(item_id=grant.id),
                  self.reviews.trigger_event(item_id=grant.id))
        log.info("emergency access granted case=%s agency=%s grant=%s", case_id, agency,
                 grant.id)
        return {"grant_id": str(grant.id), "expires_at": grant.expires_at,
                "data_classes": grant.data_classes}

    def review_tasks(self, pending_only: bool = True) -> list[dict[str, Any]]:
        tasks = []
        for logged in self.reviews.get():
            g = self._get(logged.item_id, EmergencyAccess, "emergency access")
            if pending_only and not g.review_pending:
                continue
            tasks.append({"grant_id": str(g.id), "case_id": g.case_id, "agency": g.agency,
                          "user": g.user, "reason_code": g.reason_code,
                          "justification": g.justification, "data_classes": g.data_classes,
                          "requested_at": g.requested_at, "expires_at": g.expires_at,
                          "review": g.review_summary()})
        return tasks

    def complete_review(self, grant_id: str, reviewer: str, outcome: str,
                        notes: str | None) -> None:
        try:
            grant = self._get(uuid.UUID(grant_id), EmergencyAccess, "emergency access")
        except ValueError as exc:
            raise NotFound("emergency access") from exc
        grant.complete_review(reviewer, outcome, notes, _now())
        self.save(grant)

    # --- policy-routed sharing ----------------------------------------------------------------
    def _reshare(self, case_id: str, *, record: VictimRecord | None = None,
                 extra_consents: Sequence[Consent] = (),
                 replaced: Mapping[uuid.UUID, Consent] | None = None) -> ShareLedger:
        """Decides, per recipient agency, whether it may hold the current safety flags, and
        records a share or a revocation where that differs from what it holds now."""
        now = _now()
        ledger = self.ledger(case_id)
        try:
            record = record or self.victim_record(case_id)
        except NotFound:
            return ledger
        consents = [(replaced or {}).get(c.id, c) for c in self.consents(case_id)]
        consents += list(extra_consents)
        case = self.policy_case(case_id, now=now)
        case["consent_provisions"] = active_provisions(consents, now)
        case["emergency_grant"] = None
        flags = record.safety_flags
        doc = {"case_id": case_id, "flags": flags, "lawful_basis": None}
        for recipient, purpose in SHARE_ROUTES.items():
            held = ledger.holds(recipient)
            try:
                if self.share_policy is None:
                    raise PolicyUnavailable("no share policy configured")
                decision = self.share_policy(recipient, purpose, "safety_flags", doc, case)
                allowed = "flags" in decision.allowed_fields and bool(flags)
            except PolicyUnavailable:
                log.warning("share decision unavailable case=%s recipient=%s: revoking",
                            case_id, recipient)
                decision, allowed = None, False
                if self.reshare_pending is not None:
                    self.reshare_pending.add(case_id)
            if allowed and decision is not None:
                basis = decision.lawful_basis.get("safety.flags", "consent")
                if held is None or held["flags"] != flags or held["lawful_basis"] != basis:
                    ledger.share_flags(recipient, flags, basis, decision.decision_id, now)
            elif held is not None:
                reason = "flags_cleared" if not flags else "consent_no_longer_permits"
                ledger.revoke(recipient, ["safety.flags"], reason, now)
        return ledger

    def reconcile_shares(self) -> int:
        """Re-decides shares that could not be decided when their data or consent changed
        (the policy engine was down): every case after a start, then only those."""
        if self.reshare_pending is None:
            cases = [self._get(e.item_id, VictimRecord, "victim record").case_id
                     for e in self.cases.get()]
            self.reshare_pending = set()
        else:
            cases, self.reshare_pending = sorted(self.reshare_pending), set()
        changed = 0
        for case_id in cases:
            pending = self._reshare(case_id).collect_events()
            if pending:
                self.save(*pending)
                changed += 1
        return changed

    # --- outbox translation --------------------------------------------------------------------
    def integration_events(self, domain_event: DomainEventProtocol[uuid.UUID]) -> list[Routed]:
        e: Any = domain_event
        if type(domain_event).__qualname__.startswith("Consent."):
            consent = self.repository.get(domain_event.originator_id,
                                          version=domain_event.originator_version)
            assert isinstance(consent, Consent)
            status = consent.status
            return [(ConsentChanged(
                case_id=consent.case_id, consent_id=str(consent.id), scope=consent.scope,
                status=status, party="victim",
                provisions=[{**p, "start": _iso(p["start"]), "end": _iso(p["end"])}
                            for p in consent.provisions],
                at=e.timestamp), None)]
        if isinstance(domain_event, (VictimRecord.SafetyPlanRecorded,
                                     VictimRecord.SafetyPlanRevised)):
            record = self.repository.get(domain_event.originator_id,
                                         version=domain_event.originator_version)
            return [(SafetyPlanChanged(case_id=record.case_id, exists=True,
                                       review_date=record.safety_plan_review_date,
                                       at=e.timestamp), None)]
        if isinstance(domain_event, EmergencyAccess.Granted):
            return [(EmergencyAccessGranted(
                case_id=e.case_id, grant_id=str(domain_event.originator_id), agency=e.agency,
                user=e.user, data_classes=e.data_classes, reason_code=e.reason_code,
                expires_at=e.expires_at), None)]
        if isinstance(domain_event, ShareLedger.FlagsShared):
            ledger_case = self._ledger_case(domain_event)
            return [(SafetyFlagsShared(
                case_id=ledger_case, share_id=str(uuid.uuid5(domain_event.originator_id,
                                            str(domain_event.originator_version))),
                recipient=e.recipient, flags=e.flags, lawful_basis=e.lawful_basis, at=e.at),
                e.recipient)]
        if isinstance(domain_event, ShareLedger.Revoked):
            return [(ShareRevoked(case_id=self._ledger_case(domain_event),
                                  recipient=e.recipient, data_classes=e.data_classes,
                                  reason=e.reason, at=e.at), e.recipient)]
        return super().integration_events(domain_event)

    def _ledger_case(self, domain_event: DomainEventProtocol[uuid.UUID]) -> str:
        ledger = self.repository.get(domain_event.originator_id,
                                     version=domain_event.originator_version)
        return str(ledger.case_id)





def _check_version(aggregate: Any, expected: int | None) -> None:
    if expected is not None and aggregate.version != expected:
        raise VersionConflict(aggregate.version)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

