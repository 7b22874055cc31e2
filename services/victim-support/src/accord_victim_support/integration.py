"""What victim services learns from other agencies' events."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import Handler
from accord_kernel.contracts import (
    CaseStopped,
    ItemReported,
    ReferralScreened,
    ReviewDecided,
    RiskAssessed,
)
from accord_kernel.envelope import IntegrationEvent

from accord_victim_support.application import VictimSupportService


def inbox_handlers(app: VictimSupportService) -> dict[str, Handler]:
    context = app.contexts.handlers()

    def risk(e: IntegrationEvent, c: RiskAssessed | ReferralScreened) -> list[Any]:
        # The victim record keeps the band: high risk opens statutory safeguarding reads.
        return [*context[c.type](e, c), *app.note_risk_band(c.case_id, c.risk_band, c.at)]

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
        return [notes]

    def case_stopped(e: IntegrationEvent, c: CaseStopped) -> list[Any]:
        notes = app.notifications(c.case_id)
        notes.add("case_stopped", {"reason": c.reason}, e.id, c.at)
        return [notes]

    def review_decided(e: IntegrationEvent, c: ReviewDecided) -> list[Any]:
        notes = app.notifications(c.case_id)
        notes.add("court_review", {"decision": c.decision}, e.id, c.at)
        return [notes]

    return {
        **context,
        RiskAssessed.type: risk,
        ReferralScreened.type: risk,
        ItemReported.type: item_reported,
        CaseStopped.type: case_stopped,
        ReviewDecided.type: review_decided,
    }
