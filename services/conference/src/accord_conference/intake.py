"""The RJ provider's intake: referrals it has learnt of from police events, before a case opens.

Kept apart from the RJ case aggregate because it is fed only by other agencies' events."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class Intake(Aggregate):
    if TYPE_CHECKING:  # made at class creation by the @event decorators below
        Decided: ClassVar[type[Aggregate.Event]]

    @event("Received")
    def __init__(
        self,
        case_id: UUID,
        jurisdiction: str,
        submitted_at: datetime,
        referring_org: str,
        court_reference: str | None,
    ) -> None:
        self.case_id = str(case_id)
        self.jurisdiction = jurisdiction
        self.submitted_at = submitted_at
        self.referring_org = referring_org
        self.court_reference = court_reference
        self.status = "received"
        self.eligibility: str | None = None
        self.risk_band: str | None = None
        self.reassessment_required = False

    @staticmethod
    def id_for(case_id: str) -> UUID:
        # The RJ case aggregate takes the case id itself; the intake entry is derived from it.
        return uuid5(NAMESPACE_URL, f"accord/conference/intake/{case_id}")

    @classmethod
    def create_id(cls, case_id: UUID, **_: object) -> UUID:
        return cls.id_for(str(case_id))

    @event("ScreeningNoted")
    def note_screening(self, outcome: str, risk_band: str) -> None:
        self.eligibility = outcome
        self.risk_band = risk_band
        if self.status == "received":
            self.status = outcome

    @event("RiskBandNoted")
    def note_risk_band(self, risk_band: str) -> None:
        self.risk_band = risk_band
        self.reassessment_required = False

    @event("ReassessmentRequired")
    def note_reassessment_required(self) -> None:
        self.reassessment_required = True

    @event("Decided")
    def decide(self, status: str, provider_org: str, reason: str | None = None) -> None:
        self.status = status
        self.provider_org = provider_org
        self.decline_reason = reason
