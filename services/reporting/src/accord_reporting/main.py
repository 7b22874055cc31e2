"""Composition root of the reporting service."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import typer
from accord_kernel.bus import ApplicationInbox, group_caught_up
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
log = logging.getLogger("accord.reporting")


async def rebuild(settings: ServiceSettings, poll_seconds: float = 1.0) -> int:
    """Builds the read model anew into the (empty) store of `settings` with a consumer group of
    its own, from the earliest offset of every topic, and returns once it has caught up; the
    number of case tallies it holds is returned."""
    runtime = make_runtime(settings)
    consumer = runtime.consumer()
    assert consumer is not None and settings.consumer_group is not None
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        while not await group_caught_up(settings.kafka_bootstrap, settings.consumer_group, TOPICS):
            await asyncio.sleep(poll_seconds)
        return sum(1 for _ in runtime.app.tallies())
    finally:
        stop.set()
        await task
        runtime.app.close()


@cli.command("rebuild")
def rebuild_command(
    data_dir: Path = typer.Option(..., help="an empty directory for the new SQLite store"),
    database_url: str | None = typer.Option(
        None, help="an empty PostgreSQL database instead of SQLite"
    ),
) -> None:
    """Rebuild the figures from scratch from Kafka into a new store; then point the service at
    it (ACCORD_DATA_DIR or ACCORD_DATABASE_URL) with the consumer group it prints."""
    group = "reporting-rebuild-" + uuid.uuid4().hex[:8]
    settings = load_settings(data_dir=data_dir, database_url=database_url, consumer_group=group)
    tallies = asyncio.run(rebuild(settings))
    typer.echo(f"rebuilt {tallies} case tallies; ACCORD_CONSUMER_GROUP={group}")
