"""What the RJ provider learns from police and victim-services events."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import Handler
from accord_kernel.contracts import (
    IncidentReported,
    ReferralScreened,
    ReferralSubmitted,
    ReferralWithdrawn,
    RiskAssessed,
)
from accord_kernel.envelope import IntegrationEvent

from accord_conference.application import ConferenceService, NotFound


def inbox_handlers(app: ConferenceService) -> dict[str, Handler]:
    context = app.contexts.handlers()

    def submitted(_: IntegrationEvent, c: ReferralSubmitted) -> list[Any]:
        return app.receive_referral(c.case_id, c.jurisdiction, c.submitted_at,
                                    c.referring_org, c.court_reference)

    def screened(e: IntegrationEvent, c: ReferralScreened) -> list[Any]:
        changed = list(context[ReferralScreened.type](e, c))
        try:
            intake = app.intake(c.case_id)
        except NotFound:
            return changed  # screening before submission cannot happen on one partition
        intake.note_screening(c.outcome, c.risk_band)
        return [*changed, intake]

    def risk(e: IntegrationEvent, c: RiskAssessed) -> list[Any]:
        changed = list(context[RiskAssessed.type](e, c))
        try:
            intake = app.intake(c.case_id)
        except NotFound:
            return changed
        intake.note_risk_band(c.risk_band)
        return [*changed, intake]

    def incident(_: IntegrationEvent, c: IncidentReported) -> list[Any]:
        try:
            intake = app.intake(c.case_id)
        except NotFound:
            return []
        intake.note_reassessment_required()
        return [intake]

    def withdrawn(_: IntegrationEvent, c: ReferralWithdrawn) -> list[Any]:
        try:
            intake = app.intake(c.case_id)
        except NotFound:
            return []
        intake.decide("withdrawn", "police", c.reason)
        return [intake]

    return {**context, ReferralSubmitted.type: submitted, ReferralScreened.type: screened,
            RiskAssessed.type: risk, IncidentReported.type: incident,
            ReferralWithdrawn.type: withdrawn}
