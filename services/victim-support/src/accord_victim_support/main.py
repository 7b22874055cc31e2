"""Composition root of the victim-support service."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from accord_kernel.bus import ApplicationInbox
from accord_kernel.contracts import CONFERENCE_TOPIC, COURT_TOPIC, REFERRAL_TOPIC
from accord_kernel.runtime import ServiceRuntime, build_api, service_cli
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI

from accord_victim_support.api.routes import router
from accord_victim_support.api.victim_view import router as victim_view_router
from accord_victim_support.application import VictimSupportService
from accord_victim_support.config import load_settings
from accord_victim_support.domain import VictimSupportError
from accord_victim_support.integration import inbox_handlers

log = logging.getLogger("accord.victim_support")


class VictimSupportRuntime(ServiceRuntime[VictimSupportService]):
    """Adds the sweep that records consent expiry (policy already ignores lapsed provisions)."""

    async def run_workers(
        self, stop: asyncio.Event, relay: bool = True, consumer: bool = True
    ) -> None:
        tasks = [asyncio.create_task(super().run_workers(stop, relay, consumer))]
        if consumer:
            tasks.append(asyncio.create_task(self._sweep(stop)))
        await asyncio.gather(*tasks)

    async def _sweep(self, stop: asyncio.Event, interval: float = 5.0) -> None:
        app = self.app
        assert isinstance(app, VictimSupportService)
        while not stop.is_set():
            try:
                await asyncio.to_thread(app.expire_due_consents)
            except Exception as exc:  # the sweep must outlive a database outage
                log.warning("sweep failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def make_runtime(settings: ServiceSettings) -> ServiceRuntime[VictimSupportService]:
    app = VictimSupportService(settings)
    inbox = ApplicationInbox(app, inbox_handlers(app), refusals=(VictimSupportError,))
    runtime = VictimSupportRuntime(
        settings, app, inbox=inbox, topics=[REFERRAL_TOPIC, CONFERENCE_TOPIC, COURT_TOPIC]
    )
    runtime.metrics.gauge(
        "accord_break_glass_active_grants",
        "Break-glass (emergency access) grants in force now",
        app.running_break_glass_grants,
    )

    return runtime


def make_api(runtime: ServiceRuntime[VictimSupportService], with_workers: bool = False) -> FastAPI:
    return build_api(
        runtime,
        "Accord victim-support service (victim services)",
        [router, victim_view_router],
        with_workers,
    )


cli = service_cli("victim-support", load_settings, make_runtime, make_api)
