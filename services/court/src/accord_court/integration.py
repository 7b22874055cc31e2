"""What the court learns from the RJ provider's and victim services' events: which case a court
reference belongs to, the compliance status of each agreement item, the item text while every
party consents to share it with the court, and the consents the policy needs to decide reads."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import Handler
from accord_kernel.contracts import (
    ITEMS,
    AgreementItemsShared,
    AgreementMade,
    ItemReported,
    ShareRevoked,
)
from accord_kernel.envelope import IntegrationEvent

from accord_court.application import CourtService

COURT = "court"


def inbox_handlers(app: CourtService) -> dict[str, Handler]:
    context = app.contexts.handlers()

    def agreement_made(e: IntegrationEvent, c: AgreementMade) -> list[Any]:
        changed = list(context[AgreementMade.type](e, c))
        return [*changed, *app.learn_agreement(c.case_id, c.court_reference, c.items_status, c.at)]

    def item_reported(_: IntegrationEvent, c: ItemReported) -> list[Any]:
        return app.learn_item_report(c.case_id, c.court_reference, c.items_status, c.at)

    def items_shared(_: IntegrationEvent, c: AgreementItemsShared) -> list[Any]:
        # A share addressed to another agency is never held, whatever topic carried it.
        if c.recipient != COURT:
            return []
        return app.learn_items_text(c.case_id, c.court_reference, c.items_text, c.at)

    def share_revoked(_: IntegrationEvent, c: ShareRevoked) -> list[Any]:
        if c.recipient != COURT or ITEMS not in c.data_classes:
            return []
        return app.forget_items_text(c.case_id, c.reason, c.at)

    return {
        **context,
        AgreementMade.type: agreement_made,
        ItemReported.type: item_reported,
        AgreementItemsShared.type: items_shared,
        ShareRevoked.type: share_revoked,
    }
