"""What the RJ provider learns from police and victim-services events. Withdrawal of the
victim's participate consent and a risk band over the direct limit act on the case here,
through events, without anyone at the RJ provider pressing a button."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import Handler
from accord_kernel.case_context import CaseContext
from accord_kernel.contracts import (
    ConsentChanged,
    IncidentReported,
    ReferralScreened,
    ReferralSubmitted,
    ReferralWithdrawn,
    RiskAssessed,
    SafetyPlanChanged,
)
from accord_kernel.domain_rules import NotFound
from accord_kernel.envelope import IntegrationEvent

from accord_conference.application import ConferenceService
from accord_conference.intake import Intake


def inbox_handlers(app: ConferenceService) -> dict[str, Handler]:
    context = app.contexts.handlers()

    def intake_of(case_id: str) -> Intake | None:
        try:
            return app.intake(case_id)
        except NotFound:
            return None

    def rj_of(case_id: str) -> Any:
        try:
            return app.rj_case(case_id)
        except NotFound:
            return None

    def submitted(e: IntegrationEvent, c: ReferralSubmitted) -> list[Any]:
        return [
            *context[ReferralSubmitted.type](e, c),
            *app.receive_referral(
                c.case_id, c.jurisdiction, c.submitted_at, c.referring_org, c.court_reference
            ),
        ]

    def screened(e: IntegrationEvent, c: ReferralScreened) -> list[Any]:
        changed = list(context[ReferralScreened.type](e, c))
        intake = intake_of(c.case_id)
        if intake is not None:
            intake.note_screening(c.outcome, c.risk_band)
            changed.append(intake)
        return changed

    def risk(e: IntegrationEvent, c: RiskAssessed) -> list[Any]:
        changed = list(context[RiskAssessed.type](e, c))
        intake = intake_of(c.case_id)
        if intake is not None:
            intake.note_risk_band(c.risk_band)
            changed.append(intake)
        rj = rj_of(c.case_id)
        if rj is not None and not rj.is_terminal:
            rj.note_risk_band(c.risk_band, app.direct_limit(rj.jurisdiction), c.at)
            changed.append(rj)
        return changed

    def incident(_: IntegrationEvent, c: IncidentReported) -> list[Any]:
        changed: list[Any] = []
        intake = intake_of(c.case_id)
        if intake is not None:
            intake.note_reassessment_required()
            changed.append(intake)
        rj = rj_of(c.case_id)
        if rj is not None and not rj.is_terminal:
            rj.note_reassessment_required(c.at)
            changed.append(rj)
        return changed

    def withdrawn(_: IntegrationEvent, c: ReferralWithdrawn) -> list[Any]:
        changed: list[Any] = []
        intake = intake_of(c.case_id)
        if intake is not None:
            intake.decide("withdrawn", "police", c.reason)
            changed.append(intake)
        return changed

    def consent(e: IntegrationEvent, c: ConsentChanged) -> list[Any]:
        changed = list(context[ConsentChanged.type](e, c))
        rj = rj_of(c.case_id)
        if rj is None:
            return changed
        if c.scope == "participate" and c.party == "victim" and not rj.is_terminal:
            rj.note_participate_consent(c.status == "active", c.at)
            changed.append(rj)
        if c.scope == "outcome":
            ctx = next(x for x in changed if isinstance(x, CaseContext))
            return [*changed, *app.reconsider_court_share(c.case_id, ctx)]
        return changed

    def safety_plan(e: IntegrationEvent, c: SafetyPlanChanged) -> list[Any]:
        changed = list(context[SafetyPlanChanged.type](e, c))
        rj = rj_of(c.case_id)
        if rj is not None and not rj.is_terminal:
            rj.note_safety_plan(c.exists, c.at, c.review_date)
            changed.append(rj)
        return changed

    return {
        **context,
        ReferralSubmitted.type: submitted,
        ReferralScreened.type: screened,
        RiskAssessed.type: risk,
        IncidentReported.type: incident,
        ReferralWithdrawn.type: withdrawn,
        ConsentChanged.type: consent,
        SafetyPlanChanged.type: safety_plan,
    }
