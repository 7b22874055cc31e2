"""Composition root of the referral service."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import ApplicationInbox
from accord_kernel.contracts import CONFERENCE_TOPIC, VICTIM_SUPPORT_TOPIC
from accord_kernel.policy import PolicyDecisionPoint
from accord_kernel.runtime import ServiceRuntime, build_api, service_cli
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI

from accord_referral.api.routes import router
from accord_referral.application import ReferralService
from accord_referral.config import load_settings
from accord_referral.domain.errors import ReferralError
from accord_referral.integration import inbox_handlers


def make_runtime(settings: ServiceSettings) -> ServiceRuntime[ReferralService]:
    pdp = PolicyDecisionPoint(settings.opa_url, settings.opa_timeout_seconds)

    def eligibility(input_data: dict[str, Any]) -> dict[str, Any]:
        result, _ = pdp.query("accord.eligibility", "decision", input_data)
        return dict(result)

    app = ReferralService(settings, eligibility)
    inbox = ApplicationInbox(app, inbox_handlers(app), refusals=(ReferralError,))
    return ServiceRuntime(
        settings, app, inbox=inbox, pdp=pdp, topics=[CONFERENCE_TOPIC, VICTIM_SUPPORT_TOPIC]
    )


def make_api(runtime: ServiceRuntime[ReferralService], with_workers: bool = False) -> FastAPI:
    return build_api(runtime, "Accord referral service (police)", [router], with_workers)


cli = service_cli("referral", load_settings, make_runtime, make_api)
