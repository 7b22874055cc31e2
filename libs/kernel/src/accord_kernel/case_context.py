"""What a service knows about a case's consents, risk and emergency grants, learnt from
events: the policy needs it for every decision, and a service never asks another's database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from accord_kernel.application import AccordApplication
from accord_kernel.contracts import (
    AgreementMade,
    ConsentChanged,
    EmergencyAccessGranted,
    FacilitatorsAssigned,
    ReferralAccepted,
    ReferralScreened,
    ReferralSubmitted,
    RiskAssessed,
    SafetyPlanChanged,
    VictimServicesTransferred,
)
from accord_kernel.envelope import IntegrationEvent


class CaseContext(Aggregate):
    if TYPE_CHECKING:  # made at class creation by the @event decorators below
        VictimServicesTransferred: ClassVar[type[Aggregate.Event]]

    @event("Started")
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.risk_band: str | None = None
        self.consents: dict[str, dict[str, Any]] = {}
        self.agreement_outcome_consent = False
        self.emergency_grants: list[dict[str, Any]] = []
        self.safety_plan_exists = False
        self.safety_plan_review_date: Any = None
        # agency -> the organisation responsible for this case (SPEC section 4a)
        self.responsible: dict[str, str] = {}
        self.jurisdiction: str | None = None
        self.assigned_facilitators: list[str] = []

    @staticmethod
    def id_for(case_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"accord/case-context/{case_id}")

    @classmethod
    def create_id(cls, case_id: str) -> UUID:
        return cls.id_for(case_id)

    @event("ReferralNoted")
    def note_referral(self, jurisdiction: str, organisations: dict[str, str]) -> None:
        self.jurisdiction = jurisdiction
        # What later events said (an acceptance, a transfer) stays: they are newer facts.
        self.responsible = {**organisations, **self.responsible}

    @event("ResponsibilityNoted")
    def note_responsible(self, agency: str, org: str) -> None:
        self.responsible = {**self.responsible, agency: org}

    @event("FacilitatorsNoted")
    def note_facilitators(self, facilitator_ids: list[str]) -> None:
        self.assigned_facilitators = list(facilitator_ids)

    @event("VictimServicesTransferred")
    def transfer_victim_services(self, from_org: str, to_org: str, by: str, at: datetime) -> None:
        """Victim services' own decision (the owner of this fact), published to the others."""
        self.responsible = {**self.responsible, "victim_services": to_org}

    @event("RiskBandNoted")
    def note_risk_band(self, risk_band: str) -> None:
        self.risk_band = risk_band

    @event("ConsentNoted")
    def note_consent(
        self, consent_id: str, scope: str, status: str, party: str, provisions: list[dict[str, Any]]
    ) -> None:
        self.consents[consent_id] = {
            "scope": scope,
            "status": status,
            "party": party,
            "provisions": provisions,
        }

    @event("AgreementConsentNoted")
    def note_agreement_consent(self, all_parties: bool) -> None:
        self.agreement_outcome_consent = all_parties

    @event("EmergencyGrantNoted")
    def note_emergency_grant(self, grant: dict[str, Any]) -> None:
        self.emergency_grants.append(grant)

    @event("SafetyPlanNoted")
    def note_safety_plan(self, exists: bool, review_date: Any) -> None:
        self.safety_plan_exists = exists
        self.safety_plan_review_date = review_date

    def participate_active(self) -> bool:
        return any(
            c["scope"] == "participate" and c["status"] == "active" and c["party"] == "victim"
            for c in self.consents.values()
        )

    def outcome_consent_all_parties(self) -> bool:
        # Any party's outcome consent that is no longer active takes the court's view back
        # to statuses only, whatever was agreed at the conference.
        outcome = [c for c in self.consents.values() if c["scope"] == "outcome"]
        return self.agreement_outcome_consent and all(c["status"] == "active" for c in outcome)

    def policy_case(self, agency: str | None = None, user: str | None = None) -> dict[str, Any]:
        provisions = [
            {**p, "consent_id": cid, "scope": c["scope"], "status": c["status"]}
            for cid, c in self.consents.items()
            for p in c["provisions"]
        ]
        grant = next(
            (
                g
                for g in reversed(self.emergency_grants)
                if g["agency"] == agency and (user is None or g["user"] == user)
            ),
            None,
        )
        return {
            "risk_band": self.risk_band,
            "consent_provisions": provisions,
            "outcome_consent_all_parties": self.outcome_consent_all_parties(),
            "emergency_grant": grant,
            "responsible": dict(self.responsible),
            "jurisdiction": self.jurisdiction,
            "assigned_facilitators": list(getattr(self, "assigned_facilitators", [])),
        }


class CaseContexts:
    """Loads or starts the context of a case and offers the inbox handlers that keep it."""

    def __init__(self, app: AccordApplication) -> None:
        self.app = app

    def get(self, case_id: str) -> CaseContext:
        from eventsourcing.application import AggregateNotFoundError

        try:
            ctx: Any = self.app.repository.get(CaseContext.id_for(case_id))
        except AggregateNotFoundError:
            return CaseContext(case_id)
        assert isinstance(ctx, CaseContext)
        return ctx

    def policy_case(
        self, case_id: str, agency: str | None = None, user: str | None = None
    ) -> dict[str, Any]:
        return self.get(case_id).policy_case(agency, user)

    def on_submitted(self, e: IntegrationEvent, c: ReferralSubmitted) -> list[Any]:
        ctx = self.get(c.case_id)
        organisations = dict(c.organisations) or {"police": c.referring_org}
        if ctx.jurisdiction == c.jurisdiction and all(
            ctx.responsible.get(k) is not None for k in organisations
        ):
            return []  # a redelivery: nothing new
        ctx.note_referral(c.jurisdiction, organisations)
        return [ctx]

    def on_accepted(self, e: IntegrationEvent, c: ReferralAccepted) -> list[Any]:
        ctx = self.get(c.case_id)
        ctx.note_responsible("rj_provider", c.provider_org)
        return [ctx]

    def on_facilitators(self, e: IntegrationEvent, c: FacilitatorsAssigned) -> list[Any]:
        ctx = self.get(c.case_id)
        ctx.note_facilitators(list(c.facilitator_ids))
        return [ctx]

    def on_transferred(self, e: IntegrationEvent, c: VictimServicesTransferred) -> list[Any]:
        ctx = self.get(c.case_id)
        ctx.note_responsible("victim_services", c.to_org)
        return [ctx]

    def on_risk(self, e: IntegrationEvent, c: RiskAssessed | ReferralScreened) -> list[Any]:
        ctx = self.get(c.case_id)
        ctx.note_risk_band(c.risk_band)
        return [ctx]

    def on_consent(self, e: IntegrationEvent, c: ConsentChanged) -> list[Any]:
        ctx = self.get(c.case_id)
        ctx.note_consent(c.consent_id, c.scope, c.status, c.party, c.provisions)
        return [ctx]

    def on_agreement(self, e: IntegrationEvent, c: AgreementMade) -> list[Any]:
        ctx = self.get(c.case_id)
        ctx.note_agreement_consent(c.outcome_consent_all_parties)
        return [ctx]

    def on_emergency(self, e: IntegrationEvent, c: EmergencyAccessGranted) -> list[Any]:
        ctx = self.get(c.case_id)
        ctx.note_emergency_grant(
            {
                "grant_id": c.grant_id,
                "agency": c.agency,
                "user": c.user,
                "data_classes": c.data_classes,
                "reason_code": c.reason_code,
                "expires_at": c.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        return [ctx]

    def on_safety_plan(self, e: IntegrationEvent, c: SafetyPlanChanged) -> list[Any]:
        ctx = self.get(c.case_id)
        ctx.note_safety_plan(c.exists, c.review_date)
        return [ctx]

    def handlers(self) -> dict[str, Any]:
        return {
            SafetyPlanChanged.type: self.on_safety_plan,
            RiskAssessed.type: self.on_risk,
            ReferralScreened.type: self.on_risk,
            ConsentChanged.type: self.on_consent,
            AgreementMade.type: self.on_agreement,
            EmergencyAccessGranted.type: self.on_emergency,
            ReferralSubmitted.type: self.on_submitted,
            ReferralAccepted.type: self.on_accepted,
            VictimServicesTransferred.type: self.on_transferred,
            FacilitatorsAssigned.type: self.on_facilitators,
        }
