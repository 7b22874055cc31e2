"""Composition root of the conference (RJ provider) service."""

from __future__ import annotations

from accord_kernel.bus import ApplicationInbox
from accord_kernel.contracts import REFERRAL_TOPIC, VICTIM_SUPPORT_TOPIC, share_topic
from accord_kernel.runtime import ServiceRuntime, build_api, service_cli
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI

from accord_conference.api.intake import router as intake_router
from accord_conference.application import ConferenceService
from accord_conference.config import load_settings
from accord_conference.integration import inbox_handlers


def make_runtime(settings: ServiceSettings) -> ServiceRuntime:
    app = ConferenceService(settings)
    inbox = ApplicationInbox(app, inbox_handlers(app))
    return ServiceRuntime(settings, app, inbox=inbox, topics=[
        REFERRAL_TOPIC, VICTIM_SUPPORT_TOPIC, share_topic("rj_provider")])


def make_api(runtime: ServiceRuntime, with_workers: bool = False) -> FastAPI:
    return build_api(runtime, "Accord conference service (RJ providers)", [intake_router],
                     with_workers)


cli = service_cli("conference", load_settings, make_runtime, make_api)
