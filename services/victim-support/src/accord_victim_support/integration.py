"""What victim services learns from other agencies' events."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import Handler
from accord_kernel.contracts import (
    AgreementMade,
    CaseChanged,
    CaseStopped,
    ItemReported,
    ReferralAccepted,
    ReferralDeclined,
    ReferralScreened,
    ReferralWithdrawn,
    ReviewDecided,
    RiskAssessed,
)
from accord_kernel.envelope import IntegrationEvent

from accord_victim_support.application import VictimSupportService

# The RJ provider's changes that move the victim view's stage (published as CaseChanged).
CONFERENCE_STAGES = {
    "ConferenceScheduled": "conference_arranged",
    "ConferenceSuspended": "being_prepared",
    "CaseResumed": "being_prepared",
}


def inbox_handlers(app: VictimSupportService) -> dict[str, Handler]:
    context = app.contexts.handlers()

    def risk(e: IntegrationEvent, c: RiskAssessed | ReferralScreened) -> list[Any]:
        # The victim record keeps the band: high risk opens statutory safeguarding reads.
        changed = [*context[c.type](e, c), *app.note_risk_band(c.case_id, c.risk_band, c.at)]
        if isinstance(c, ReferralScreened) and c.outcome == "ineligible":
            changed += app.note_progress(c.case_id, c.at, stage="stopped")
        return changed

    def item_reported(e: IntegrationEvent, c: ItemReported) -> list[Any]:
        notes = app.notifications(c.case_id)
        kind = "case_completed" if c.item_id == "*" else f"item_{c.status}"
        notes.add(
            kind,
            {
                "item_id": c.item_id,
                "status": c.status,
                "reported_by_agency": c.reported_by_agency,
                "case_status": c.case_status,
                "returned_to": c.returned_to,
            },
            e.id,
            c.at,
        )
        stage = "closed" if c.item_id == "*" else None
        return [notes, *app.note_progress(c.case_id, c.at, stage=stage, items=c.items_status)]

    def case_stopped(e: IntegrationEvent, c: CaseStopped) -> list[Any]:
        notes = app.notifications(c.case_id)
        notes.add("case_stopped", {"reason": c.reason}, e.id, c.at)
        return [notes, *app.note_progress(c.case_id, c.at, stage="stopped")]

    def review_decided(e: IntegrationEvent, c: ReviewDecided) -> list[Any]:
        notes = app.notifications(c.case_id)
        notes.add("court_review", {"decision": c.decision}, e.id, c.at)
        return [notes]

    def accepted(e: IntegrationEvent, c: ReferralAccepted) -> list[Any]:
        return [*context[c.type](e, c), *app.note_progress(c.case_id, c.at, "being_prepared")]

    def agreement(e: IntegrationEvent, c: AgreementMade) -> list[Any]:
        return [
            *context[c.type](e, c),
            *app.note_progress(c.case_id, c.at, "agreement_monitored", c.items_status),
        ]

    def ended(e: IntegrationEvent, c: ReferralDeclined | ReferralWithdrawn) -> list[Any]:
        return app.note_progress(c.case_id, c.at, stage="stopped")

    def changed(e: IntegrationEvent, c: CaseChanged) -> list[Any]:
        stage = CONFERENCE_STAGES.get(c.change) if c.service == "conference" else None
        return [] if stage is None else app.note_progress(c.case_id, c.at, stage=stage)

    return {
        **context,
        RiskAssessed.type: risk,
        ReferralScreened.type: risk,
        ItemReported.type: item_reported,
        CaseStopped.type: case_stopped,
        ReviewDecided.type: review_decided,
        ReferralAccepted.type: accepted,
        AgreementMade.type: agreement,
        ReferralDeclined.type: ended,
        ReferralWithdrawn.type: ended,
        CaseChanged.type: changed,
    }
