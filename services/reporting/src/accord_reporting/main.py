"""Composition root of the reporting service."""

from __future__ import annotations

from accord_kernel.bus import ApplicationInbox
from accord_kernel.contracts import (
    CONFERENCE_TOPIC,
    COURT_TOPIC,
    REFERRAL_TOPIC,
    VICTIM_SUPPORT_TOPIC,
)
from accord_kernel.runtime import ServiceRuntime, build_api, service_cli
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI

from accord_reporting.api.routes import router
from accord_reporting.application import ReportingService
from accord_reporting.config import load_settings
from accord_reporting.integration import inbox_handlers

# The broadcast topics only: the policy-routed share topics carry content, never needed to count.
TOPICS = [REFERRAL_TOPIC, VICTIM_SUPPORT_TOPIC, CONFERENCE_TOPIC, COURT_TOPIC]


def make_runtime(settings: ServiceSettings) -> ServiceRuntime[ReportingService]:
    app = ReportingService(settings)
    return ServiceRuntime(
        settings, app, inbox=ApplicationInbox(app, inbox_handlers(app)), topics=TOPICS
    )


def make_api(runtime: ServiceRuntime[ReportingService], with_workers: bool = False) -> FastAPI:
    return build_api(
        runtime, "Accord reporting service (managers and commissioners)", [router], with_workers
    )


cli = service_cli("reporting", load_settings, make_runtime, make_api)
