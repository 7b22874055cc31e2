"""What the referral service learns from other agencies' events."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import Handler
from accord_kernel.contracts import ReferralAccepted, ReferralDeclined
from accord_kernel.envelope import IntegrationEvent

from accord_referral.application import ReferralService


def inbox_handlers(app: ReferralService) -> dict[str, Handler]:
    def accepted(_: IntegrationEvent, c: ReferralAccepted) -> list[Any]:
        return list(app.record_acceptance(c.case_id, c.provider_org, c.at))

    def declined(_: IntegrationEvent, c: ReferralDeclined) -> list[Any]:
        return list(app.record_decline(c.case_id, c.provider_org, c.reason, c.at))

    return {
        **app.contexts.handlers(),
        ReferralAccepted.type: accepted,
        ReferralDeclined.type: declined,
    }
