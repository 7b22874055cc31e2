"""What victim services learns from other agencies' events."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import Handler
from accord_kernel.contracts import ReferralScreened, RiskAssessed
from accord_kernel.envelope import IntegrationEvent

from accord_victim_support.application import VictimSupportService


def inbox_handlers(app: VictimSupportService) -> dict[str, Handler]:
    context = app.contexts.handlers()

    def risk(e: IntegrationEvent, c: RiskAssessed | ReferralScreened) -> list[Any]:
        # High risk opens statutory safeguarding sharing with police, so re-decide shares.
        return [*context[c.type](e, c), *app.note_risk_band(c.case_id, c.risk_band, c.at)]

    return {**context, RiskAssessed.type: risk, ReferralScreened.type: risk}
