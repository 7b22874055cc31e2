"""Victim-services use cases: victim record, consents, safety flags and plans, emergency
access, transfers between victim-services organisations. Methods take and return plain values.

Data that consent governs (location, safety flags, safety plan) never leaves this service: other
agencies read it here, at read time, with their own token, and the policy decides each read
(SPEC section 2, "sensitive data is read at its source"). So a withdrawal takes effect on the
very next read, whatever Kafka is doing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar, TypeVar

from accord_kernel.access_log import AccessRecord
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
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from accord_victim_support.domain import Consent, EmergencyAccess, NotPermitted, VictimRecord
from accord_victim_support.domain.consent import active_provisions, summary
from accord_victim_support.domain.invitation import (
    Invitation,
    VictimAccount,
    bucket_of,
    new_code,
    normalise,
    username_for,
)
from accord_victim_support.notifications import VictimNotifications
from accord_victim_support.progress import NEXT_STEPS, CaseProgress

log = logging.getLogger("accord.victim_support")

A = TypeVar("A", bound=Aggregate)


class Logged(DomainEvent):
    item_id: uuid.UUID


def _ns(*parts: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "accord/victim-support/" + "/".join(parts))


def _now() -> datetime:
    return datetime.now(UTC)


class InvitationNotUsable(Exception):
    """A code that is wrong, expired, used or revoked: one answer for all four, so that nothing
    is learnt by guessing."""


ACCESS_LOG_LIMIT = 500


class VictimSupportService(AccordApplication):
    service_name: ClassVar[str] = "victim-support"

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.contexts = CaseContexts(self)
        self.cases: EventSourcedLog[Logged] = EventSourcedLog(self.events, _ns("cases"), Logged)
        self.reviews: EventSourcedLog[Logged] = EventSourcedLog(
            self.events, _ns("emergency-reviews"), Logged
        )
        # The invitations' clock: tests move it past the 72 hours instead of sleeping.
        self.clock: Callable[[], datetime] = _now
        # Break-glass grants that may still be running, for the metric; a grant that has
        # expired never runs again, so each is looked at until then and then forgotten.
        self._grants_seen = 0
        self._grants_running: set[uuid.UUID] = set()

    def running_break_glass_grants(self) -> int:
        """How many break-glass grants are in force now (the operator's metric)."""
        topic = get_topic(EmergencyAccess.Granted)
        while True:
            granted = self.recorder.select_notifications(
                start=self._grants_seen,
                limit=500,
                topics=[topic],
                inclusive_of_start=False,
            )
            if not granted:
                break
            self._grants_running.update(uuid.UUID(str(n.originator_id)) for n in granted)
            self._grants_seen = granted[-1].id
        now = _now()
        for grant_id in list(self._grants_running):
            if not self._get(grant_id, EmergencyAccess, "emergency access").is_active(now):
                self._grants_running.discard(grant_id)
        return len(self._grants_running)

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
            "victim_accounts": self.victim_accounts(case_id),
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

    # --- victim view: invitations and accounts ---------------------------------------------
    def invitation(self, invitation_id: str) -> Invitation:
        try:
            return self._get(uuid.UUID(invitation_id), Invitation, "invitation")
        except ValueError as exc:
            raise NotFound("invitation") from exc

    def invitations(self, case_id: str) -> list[Invitation]:
        return [
            self._get(e.item_id, Invitation, "invitation")
            for e in self._log("invitations", case_id).get()
        ]

    def victim_accounts(self, case_id: str) -> list[str]:
        """The accounts that may see this case's victim view now (linked, not revoked)."""
        return [a for a in (i.active_account for i in self.invitations(case_id)) if a]

    def invite(self, case_id: str, by: str) -> dict[str, Any]:
        """A new one-time code for the victim of the case. The code is returned once, here,
        and kept nowhere: the invitation holds a salted hash of it."""
        self.victim_record(case_id)  # only a victim victim services holds can be invited
        code = new_code()
        normalised = normalise(code)
        assert normalised is not None
        invitation = Invitation.issue(
            id=uuid.uuid4(), case_id=case_id, code=code, created_by=by, at=self.clock()
        )
        self.save(
            invitation,
            self._log("invitations", case_id).trigger_event(item_id=invitation.id),
            self._log("invitation-bucket", str(bucket_of(normalised))).trigger_event(
                item_id=invitation.id
            ),
        )
        return {
            "invitation_id": str(invitation.id),
            "code": code,
            "expires_at": invitation.expires_at,
        }

    def invitation_document(self, invitation: Invitation) -> dict[str, Any]:
        return {
            "invitation_id": str(invitation.id),
            "case_id": invitation.case_id,
            "status": invitation.status_at(self.clock()),
            "created_at": invitation.created_at,
            "expires_at": invitation.expires_at,
            "redeemed_at": invitation.redeemed_at,
            "account_linked": invitation.account is not None,
            "revoked_at": invitation.revoked_at,
        }

    def revoke_invitation(self, invitation_id: str, by: str) -> None:
        invitation = self.invitation(invitation_id)
        invitation.revoke(by, self.clock())
        # The account's link is this invitation: from this save on, policy_case no longer
        # names the account, so its next read is refused.
        self.save(invitation)

    def redeem(self, code: str) -> dict[str, Any]:
        normalised = normalise(code)
        if normalised is None:
            raise InvitationNotUsable()
        now = self.clock()
        for logged in self._log("invitation-bucket", str(bucket_of(normalised))).get():
            invitation = self._get(logged.item_id, Invitation, "invitation")
            if not invitation.matches(normalised):
                continue
            if invitation.status_at(now) != "pending":
                raise InvitationNotUsable()
            username = username_for()
            invitation.redeem(username, now)
            self.save(invitation)
            return {
                "invitation_id": str(invitation.id),
                "username": username,
                "org": self.responsible_org(invitation.case_id) or "",
            }
        raise InvitationNotUsable()

    def link_account(self, invitation_id: str, sub: str) -> None:
        invitation = self.invitation(invitation_id)
        now = self.clock()
        invitation.link(sub, now)
        try:
            self.repository.get(VictimAccount.id_for(sub))
            raise AlreadyExists("victim account")
        except AggregateNotFoundError:
            pass
        account = VictimAccount(
            sub=sub, invitation_id=invitation.id, case_id=invitation.case_id, at=now
        )
        self.save(invitation, account)

    def victim_account(self, sub: str) -> VictimAccount:
        """The account's own case, only while its invitation is not revoked; for any other
        sub there is nothing (404)."""
        account = self._get(VictimAccount.id_for(sub), VictimAccount, "victim account")
        invitation = self._get(account.invitation_id, Invitation, "invitation")
        if invitation.active_account != sub:
            raise NotFound("victim account")
        return account

    def choose_preferences(self, sub: str, tell_me_about_agreement: bool) -> None:
        account = self.victim_account(sub)
        if account.tell_me_about_agreement != tell_me_about_agreement:
            account.choose(tell_me_about_agreement, self.clock())
            self.save(account)

    def progress(self, case_id: str) -> CaseProgress:
        try:
            return self._get(CaseProgress.id_for(case_id), CaseProgress, "progress")
        except NotFound:
            return CaseProgress(case_id)

    def note_progress(
        self,
        case_id: str,
        at: datetime,
        stage: Any = None,
        items: list[dict[str, Any]] | None = None,
    ) -> list[Any]:
        """One load of the case's progress for both facts an event may carry: two copies of
        the aggregate in one save would collide on the same version."""
        progress = self.progress(case_id)
        moved = stage is not None and progress.move(stage, at)
        noted = items is not None and progress.note_items(items)
        return [progress] if moved or noted else []

    def victim_view_document(self, account: VictimAccount) -> dict[str, Any]:
        context = self.contexts.get(account.case_id)
        progress = self.progress(account.case_id)
        return {
            "stage": progress.stage,
            "stage_changed_at": progress.stage_at,
            "next_step": NEXT_STEPS[progress.stage],
            "supporting_org": context.responsible.get("victim_services"),
            "jurisdiction": context.jurisdiction,
            "tell_me_about_agreement": account.tell_me_about_agreement,
        }

    def victim_consent_documents(self, case_id: str) -> list[dict[str, Any]]:
        """The victim's consents as they see them: what, with whom, until when. Who verified
        them and the lawful basis are the advocate's business."""
        now = _now()
        documents = []
        for consent in self.consents(case_id):
            status = consent.status_at(now)
            ends = [p["end"] for p in consent.provisions]
            documents.append(
                {
                    "consent_id": str(consent.id),
                    "scope": consent.scope,
                    "status": status,
                    "with_whom": [
                        {
                            "type": p["type"],
                            "agency": p["agency"],
                            "purposes": list(p["purposes"]),
                            "data_classes": list(p["data_classes"]),
                            "from": p["start"],
                            "until": p["end"],
                        }
                        for p in consent.provisions
                    ],
                    "until": max(ends) if ends else None,
                    "granted_at": consent.history[0]["at"] if consent.history else None,
                    "can_withdraw": status == "active",
                }
            )
        return documents

    def withdraw_by_victim(self, case_id: str, consent_id: str, reason: str | None) -> None:
        """Exactly the advocate's withdrawal (the same event, so the same propagation: the RJ
        case stops, every share ends at the next read), and the advocate is told."""
        consent = self.consent(consent_id)
        if consent.case_id != case_id:
            raise NotFound("consent")
        now = _now()
        consent.withdraw("victim", reason, now)
        notes = self.notifications(case_id)
        notes.add(
            "victim_withdrew_consent",
            {"consent_id": str(consent.id), "scope": consent.scope},
            f"victim-view:{uuid.uuid4()}",
            now,
        )
        self.save(consent, notes)

    # --- who looked: the victim's access log ---------------------------------------------
    def record_access(self, records: Iterable[dict[str, Any]]) -> None:
        """Every access record, as the base does, and for reads of a case's data by staff an
        entry in that case's index, so that the victim can be shown who looked. Concurrent
        reads of one case race for the index's next position: the loser tries again, the
        record itself is never dropped."""
        records = list(records)
        for attempt in range(12):
            aggregates = [
                AccessRecord(
                    record_id=uuid.uuid4(), service=self.service_name, at=datetime.now(UTC), **r
                )
                for r in records
            ]
            indexed: dict[str, list[uuid.UUID]] = {}
            for a in aggregates:
                if a.decision == "permit" and a.subject.get("agency") != "victim":
                    indexed.setdefault(a.case_id, []).append(a.id)
            triggers = [
                self._log("access", case).trigger_event(item_id=record_id)
                for case, ids in indexed.items()
                for record_id in ids[:1]
            ]
            # One index entry per case per request: a list read of a case is one look.
            if not aggregates:
                return
            try:
                self.save(*aggregates, *triggers)
                return
            except IntegrityError:
                if attempt == 11:
                    raise

    def access_log(self, case_id: str) -> list[dict[str, Any]]:
        entries = []
        for logged in list(self._log("access", case_id).get())[-ACCESS_LOG_LIMIT:]:
            try:
                record = self._get(logged.item_id, AccessRecord, "access record")
            except NotFound:
                continue
            entries.append(
                {
                    "at": record.at,
                    "agency": record.subject.get("agency", ""),
                    "org": record.subject.get("org", ""),
                    "role": record.subject.get("role", ""),
                    "purpose": record.purpose,
                    "what": record.resource_type,
                    "break_glass": record.break_glass,
                }
            )
        entries.reverse()
        return entries

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
        if isinstance(domain_event, EmergencyAccess.ReviewCompleted):
            # Reporting measures review times; the review's content (reviewer, outcome, notes)
            # stays here. `status` names the grant the review closes.
            reviewed: Any = self.repository.get(
                domain_event.originator_id, version=domain_event.originator_version
            )
            return [
                (
                    CaseChanged(
                        case_id=reviewed.case_id,
                        service="victim-support",
                        record="emergency_access",
                        change="ReviewCompleted",
                        version=domain_event.originator_version,
                        status=str(domain_event.originator_id),
                        at=e.timestamp,
                    ),
                    None,
                )
            ]
        name = type(domain_event).__qualname__
        if name.startswith(("Invitation.", "VictimAccount.")):
            # The victim view's lifecycle reaches the audit log by name and version: never
            # the code, its hash, the username or the account.
            holder: Any = self.repository.get(
                domain_event.originator_id, version=domain_event.originator_version
            )
            return [
                (
                    CaseChanged(
                        case_id=holder.case_id,
                        service="victim-support",
                        record="victim_invitation"
                        if name.startswith("Invitation.")
                        else "victim_account",
                        change=type(domain_event).__name__,
                        version=domain_event.originator_version,
                        at=e.timestamp,
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
