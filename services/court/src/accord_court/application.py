"""Court use cases: the court learns its cases from the RJ provider's events, shows its view of
each court reference, and records review decisions. Methods take and return plain values."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from accord_kernel.application import AccordApplication, Routed, VersionConflict
from accord_kernel.case_context import CaseContexts
from accord_kernel.contracts import ReviewDecided
from accord_kernel.domain_rules import IdempotencyKeyReused, NotFound
from accord_kernel.settings import ServiceSettings
from eventsourcing.application import AggregateNotFoundError, EventSourcedLog, ProcessingEvent
from eventsourcing.domain import DomainEvent, DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking

from accord_court.domain import CourtCase, CourtReferences, court_reference_of

log = logging.getLogger("accord.court")

COURT_CASE_LOG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "accord/court/court-cases")
REVOCATION_REASON_MAX = 500


class CourtCaseLogged(DomainEvent):
    court_case_id: uuid.UUID


class CourtService(AccordApplication):
    service_name: ClassVar[str] = "court"

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.court_case_log: EventSourcedLog[CourtCaseLogged] = EventSourcedLog(
            self.events, COURT_CASE_LOG_ID, CourtCaseLogged
        )
        self.contexts = CaseContexts(self)

    # --- learning from the RJ provider's events (each returns the aggregates it changed) ---
    def learn_agreement(
        self,
        case_id: str,
        court_reference: str | None,
        items_status: Sequence[Mapping[str, Any]],
        at: datetime,
    ) -> list[Any]:
        """An agreement without a court reference is no business of the court."""
        if court_reference is None:
            return []
        return self._note_items(case_id, court_reference, items_status, None, at)

    def learn_item_report(
        self,
        case_id: str,
        court_reference: str | None,
        items_status: Sequence[Mapping[str, Any]],
        at: datetime,
    ) -> list[Any]:
        if court_reference is None:
            return []
        return self._note_items(case_id, court_reference, items_status, None, at)

    def learn_items_text(
        self,
        case_id: str,
        court_reference: str | None,
        items_text: Sequence[Mapping[str, Any]],
        at: datetime,
    ) -> list[Any]:
        """The item text shared with the court because every party consented to it. A share
        naming no court reference applies to every court case the RJ case is known by."""
        if court_reference is not None:
            return self._note_items(case_id, court_reference, [], items_text, at)
        changed: list[Any] = []
        for court_case in self._court_cases_of(case_id):
            court_case.note_items([], items_text, at)
            changed.append(court_case)
        return changed

    def forget_items_text(self, case_id: str, reason: str, at: datetime) -> list[Any]:
        # A revocation must take effect whatever its wording, so an empty or overlong reason is
        # replaced or shortened rather than letting validation refuse the purge.
        why = reason.strip()[:REVOCATION_REASON_MAX] or "share revoked"
        changed: list[Any] = []
        for court_case in self._court_cases_of(case_id):
            if court_case.items_text is not None:
                court_case.forget_items_text(why, at)
                changed.append(court_case)
        return changed

    def _note_items(
        self,
        case_id: str,
        court_reference: str,
        items_status: Sequence[Mapping[str, Any]],
        items_text: Sequence[Mapping[str, Any]] | None,
        at: datetime,
    ) -> list[Any]:
        court_case, changed = self._linked(case_id, court_reference, at)
        if court_case is None:
            return []
        court_case.note_items(items_status, items_text, at)
        return changed

    def _linked(
        self, case_id: str, court_reference: str, at: datetime
    ) -> tuple[CourtCase | None, list[Any]]:
        """The court case of this reference, linked to the RJ case on first sight. The share of
        item text and the agreement travel on different topics, so either may come first."""
        reference = court_reference_of(court_reference)
        court_case = self._find(reference)
        if court_case is None:
            court_case = CourtCase.link(reference, case_id, None, at)
            references = self._references(case_id)
            references.add(reference)
            logged = self.court_case_log.trigger_event(court_case_id=court_case.id)
            return court_case, [court_case, references, logged]
        if court_case.case_id != case_id:
            # One court reference belongs to one case: data of another case is never attached
            # to it. Ids only in the log, never case content.
            log.warning(
                "court reference of case %s is already linked to case %s; ignored",
                case_id,
                court_case.case_id,
            )
            return None, []
        return court_case, [court_case]

    def _court_cases_of(self, case_id: str) -> list[CourtCase]:
        found = (self._find(r) for r in self._references(case_id).references)
        return [c for c in found if c is not None and c.case_id == case_id]

    def _references(self, case_id: str) -> CourtReferences:
        try:
            held: CourtReferences = self.repository.get(CourtReferences.id_for(case_id))
        except AggregateNotFoundError:
            return CourtReferences.start(case_id)
        assert isinstance(held, CourtReferences)
        return held

    def _find(self, court_reference: str) -> CourtCase | None:
        try:
            found: Any = self.repository.get(CourtCase.id_for(court_reference))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, CourtCase) else None

    def court_case(self, court_reference: str) -> CourtCase:
        found = self._find(court_reference_of(court_reference))
        if found is None:
            raise NotFound("court case")
        return found

    # --- the court's view ------------------------------------------------------------------
    def court_view(self, court_reference: str) -> dict[str, Any]:
        """Exactly the catalogue fields of resource type `court_case`; policy decides which of
        them the reader sees (item text only with every party's outcome consent)."""
        return self._document(self.court_case(court_reference))

    def court_views(self, limit: int = 100) -> list[dict[str, Any]]:
        """Most recently linked first."""
        documents = []
        for logged in self.court_case_log.get(desc=True, limit=limit):
            found: Any = self.repository.get(logged.court_case_id)
            assert isinstance(found, CourtCase)
            documents.append(self._document(found))
        return documents

    def court_views_of_case(self, case_id: str) -> list[dict[str, Any]]:
        """The court cases an RJ case is known by (usually one), found through the case's own
        index rather than by scanning the log."""
        return [self._document(c) for c in self._court_cases_of(case_id[:64])]

    @staticmethod
    def _document(court_case: CourtCase) -> dict[str, Any]:
        return {
            "court_reference": court_case.court_reference,
            "case_id": court_case.case_id,
            "version": court_case.version,
            "decisions": court_case.decisions,
            "items_status": court_case.items_status,
            "items_text": court_case.items_text,
        }

    # --- review decisions ------------------------------------------------------------------
    def record_review_decision(
        self,
        court_reference: str,
        decision: str,
        by: str,
        notes: str,
        *,
        next_review_on: object = None,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Returns False when this Idempotency-Key was already used for this court case with
        the same request: the repeat has no second effect. The same key with another request
        raises IdempotencyKeyReused."""
        court_case = self.court_case(court_reference)
        tracking = (
            None
            if idempotency_key is None
            else f"command:review-decision:{court_case.id}:{idempotency_key}"
        )
        # The tracking position holds a fingerprint of the request the key was first used for.
        fingerprint = _fingerprint(decision, notes, str(next_review_on or ""))
        if tracking is not None and self._key_used(tracking, fingerprint):
            return False
        if expected_version is not None and court_case.version != expected_version:
            raise VersionConflict(court_case.version)
        court_case.record_review_decision(
            decision, by, notes, at or datetime.now(UTC), next_review_on
        )
        try:
            if tracking is None:
                self.save(court_case)
            else:
                # The key is recorded in the same transaction as the decision.
                processing = ProcessingEvent[uuid.UUID](Tracking(tracking, fingerprint))
                processing.collect_events(court_case)
                self._record(processing)
        except IntegrityError:
            if tracking is not None and self._key_used(tracking, fingerprint):
                return False
            # Another change to the court case was saved first: the caller runs the command
            # again on the state that won (retry_on_conflict), where a stale expected version
            # is a version conflict (412) like in every other service.
            raise
        return True

    def _key_used(self, tracking: str, fingerprint: int) -> bool:
        first = self.process_recorder.max_tracking_id(tracking)
        if first is None:
            return False
        if first != fingerprint:
            raise IdempotencyKeyReused(tracking)
        return True

    # --- outbox ----------------------------------------------------------------------------
    def integration_events(self, domain_event: DomainEventProtocol[uuid.UUID]) -> list[Routed]:
        if isinstance(domain_event, CourtCase.ReviewDecided):
            court_case: CourtCase = self.repository.get(
                domain_event.originator_id, version=domain_event.originator_version
            )
            # The decision is published; the judge's notes and name stay with the court.
            return [
                (
                    ReviewDecided(
                        case_id=court_case.case_id,
                        court_reference=court_case.court_reference,
                        decision=domain_event.decision,
                        at=domain_event.at,
                    ),
                    None,
                )
            ]
        return super().integration_events(domain_event)


def _fingerprint(*parts: str) -> int:
    """A positive 62-bit number from the request, small enough for a tracking position."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 2 or 1
