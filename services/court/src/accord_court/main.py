"""Composition root of the court service."""

from __future__ import annotations

from accord_kernel.bus import ApplicationInbox
from accord_kernel.contracts import (
    CONFERENCE_TOPIC,
    REFERRAL_TOPIC,
    VICTIM_SUPPORT_TOPIC,
    share_topic,
)
from accord_kernel.runtime import ServiceRuntime, build_api, service_cli
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI

from accord_court.api.routes import router
from accord_court.application import CourtService
from accord_court.config import load_settings
from accord_court.domain import CourtError
from accord_court.integration import inbox_handlers


def make_runtime(settings: ServiceSettings) -> ServiceRuntime[CourtService]:
    app = CourtService(settings)
    inbox = ApplicationInbox(app, inbox_handlers(app), refusals=(CourtError,))
    # The referral topic tells the court which court a case belongs to (SPEC section 4a).
    return ServiceRuntime(
        settings,
        app,
        inbox=inbox,
        topics=[REFERRAL_TOPIC, CONFERENCE_TOPIC, VICTIM_SUPPORT_TOPIC, share_topic("court")],
    )


def make_api(runtime: ServiceRuntime[CourtService], with_workers: bool = False) -> FastAPI:
    return build_api(runtime, "Accord court service (courts)", [router], with_workers)


cli = service_cli("court", load_settings, make_runtime, make_api)
