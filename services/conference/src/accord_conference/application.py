"""RJ provider use cases: intake of referrals, RJ cases, facilitators, agreements."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from accord_kernel.application import AccordApplication, Routed
from accord_kernel.case_context import CaseContexts
from accord_kernel.contracts import ReferralAccepted, ReferralDeclined
from accord_kernel.settings import ServiceSettings
from eventsourcing.application import AggregateNotFoundError, EventSourcedLog
from eventsourcing.domain import DomainEvent, DomainEventProtocol

from accord_conference.intake import Intake

INTAKE_LOG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "accord/conference/intake")


class IntakeLogged(DomainEvent):
    case_id: uuid.UUID


class NotFound(Exception):
    pass


class ConferenceService(AccordApplication):
    service_name: ClassVar[str] = "conference"

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.intake_log: EventSourcedLog[IntakeLogged] = EventSourcedLog(
            self.events, INTAKE_LOG_ID, IntakeLogged)
        self.contexts = CaseContexts(self)

    # --- intake (fed by police events) ---------------------------------------------------
    def intake(self, case_id: str) -> Intake:
        try:
            found = self.repository.get(uuid.UUID(case_id))
        except (AggregateNotFoundError, ValueError) as exc:
            raise NotFound(case_id) from exc
        assert isinstance(found, Intake)
        return found

    def receive_referral(self, case_id: str, jurisdiction: str, submitted_at: Any,
                         referring_org: str, court_reference: str | None) -> list[Any]:
        try:
            self.intake(case_id)
            return []  # already known: a replay of the same referral changes nothing
        except NotFound:
            pass
        intake = Intake(case_id=uuid.UUID(case_id), jurisdiction=jurisdiction,
                        submitted_at=submitted_at, referring_org=referring_org,
                        court_reference=court_reference)
        return [intake, self.intake_log.trigger_event(case_id=uuid.UUID(case_id))]

    def intake_document(self, intake: Intake) -> dict[str, Any]:
        return {"case_id": intake.case_id, "status": intake.status,
                "jurisdiction": intake.jurisdiction, "eligibility": intake.eligibility,
                "received_at": intake.created_on, "risk_band": intake.risk_band,
                "reassessment_required": intake.reassessment_required}

    def intake_list(self, limit: int = 100, status: str | None = None) -> list[dict[str, Any]]:
        docs = []
        for logged in self.intake_log.get(desc=True):
            doc = self.intake_document(self.intake(str(logged.case_id)))
            if status is None or doc["status"] == status:
                docs.append(doc)
            if len(docs) >= limit:
                break
        return docs

    def integration_events(self, domain_event: DomainEventProtocol[uuid.UUID]) -> list[Routed]:
        e: Any = domain_event
        case_id = str(domain_event.originator_id)
        if isinstance(domain_event, Intake.Decided) and e.status == "accepted":
            return [(ReferralAccepted(case_id=case_id, provider_org=e.provider_org,
                                      at=e.timestamp), None)]
        if isinstance(domain_event, Intake.Decided) and e.status == "declined":
            return [(ReferralDeclined(case_id=case_id, provider_org=e.provider_org,
                                      reason=e.reason or "", at=e.timestamp), None)]
        return super().integration_events(domain_event)
