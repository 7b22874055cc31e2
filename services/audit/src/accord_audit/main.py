"""Composition root of the audit service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy.exc
from accord_kernel.bus import ALL_TOPICS
from accord_kernel.contracts import DEAD_LETTER_TOPIC, Contract
from accord_kernel.envelope import IntegrationEvent
from accord_kernel.problems import Problem, problem_response
from accord_kernel.runtime import ServiceRuntime, build_api, service_cli
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from accord_audit.api.routes import router
from accord_audit.application import AuditService, index_metadata
from accord_audit.checkpoint import load_signing_key
from accord_audit.config import AuditSettings, ensure_dev_signing_key, load_settings
from accord_audit.log_store import AuditLogStore, grant_append_only

log = logging.getLogger("accord.audit")


class AuditInbox:
    """Every event on the bus becomes one log entry; the log dedupes by CloudEvent id."""

    def __init__(self, app: AuditService) -> None:
        self.app = app

    def process(self, event: IntegrationEvent, contract: Contract) -> None:
        self.app.record(event, contract)
        self.app.learn_responsibility([(event, contract)])

    def process_batch(self, items: list[tuple[IntegrationEvent, Contract]]) -> None:
        self.app.record_many(items)
        self.app.learn_responsibility(items)


class AuditRuntime(ServiceRuntime[AuditService]):
    async def run_workers(
        self, stop: asyncio.Event, relay: bool = True, consumer: bool = True
    ) -> None:
        tasks = [asyncio.create_task(super().run_workers(stop, relay, consumer))]
        if consumer:
            tasks.append(asyncio.create_task(self._checkpoints(stop)))
        await asyncio.gather(*tasks)

    async def _checkpoints(self, stop: asyncio.Event) -> None:
        app = self.app
        assert isinstance(app, AuditService)
        interval = app.audit_settings.audit_checkpoint_interval_seconds
        while not stop.is_set():
            try:
                await asyncio.to_thread(app.publish_checkpoint)
            except Exception as exc:  # keep signing after a database outage
                log.warning("checkpoint failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def open_store(settings: AuditSettings) -> AuditLogStore:
    if settings.audit_admin_url:
        admin = AuditLogStore.from_url(settings.audit_admin_url)
        admin.create_schema()
        index_metadata.create_all(admin.engine)
        if settings.audit_append_role:
            grant_append_only(admin.engine, settings.audit_append_role)
        admin.engine.dispose()
    store = AuditLogStore.from_url(settings.log_url())
    if not settings.audit_admin_url:
        _creating_schema(store)
    return store


def _creating_schema(store: AuditLogStore, attempts: int = 20) -> None:
    """Creates the log's tables. The API, relay and consumer may start at once on a new SQLite
    file: one creates while another finds the file locked or a table half-made, so the loser
    waits and tries again (the tables are then there and creation is a no-op)."""
    for attempt in range(attempts):
        try:
            store.create_schema()
            index_metadata.create_all(store.engine)
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            log.info("audit log schema busy; retrying")
            time.sleep(0.1 * (attempt + 1))


def make_runtime(settings: ServiceSettings) -> ServiceRuntime[AuditService]:
    audit_settings = (
        settings if isinstance(settings, AuditSettings) else AuditSettings(**settings.model_dump())
    )
    source = audit_settings.signing_key_source()
    if not audit_settings.audit_signing_key:
        ensure_dev_signing_key(Path(source), audit_settings.audit_origin)
    signer = load_signing_key(source)
    store = open_store(audit_settings)
    app = AuditService(audit_settings, store, signer)
    app.reindex()
    topics = [t for t in ALL_TOPICS if t != DEAD_LETTER_TOPIC]
    runtime = AuditRuntime(
        audit_settings,
        app,
        inbox=AuditInbox(app),
        topics=topics,
        inbox_types=None,
        transient_errors=(sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError),
    )
    runtime.metrics.gauge(
        "accord_audit_tree_size", "Entries in the audit log (its Merkle tree's size)", store.size
    )

    def unsigned_age() -> float:
        since = store.unsigned_since()
        return 0.0 if since is None else max(0.0, (datetime.now(UTC) - since).total_seconds())

    runtime.metrics.gauge(
        "accord_audit_checkpoint_age_seconds",
        "How long the oldest entry not yet covered by a signed checkpoint has waited "
        "(0: the newest checkpoint covers the whole log)",
        unsigned_age,
    )
    return runtime


def make_api(runtime: ServiceRuntime[AuditService], with_workers: bool = False) -> FastAPI:
    api = build_api(runtime, "Accord audit service (privacy officers)", [router], with_workers)

    @api.exception_handler(sqlalchemy.exc.OperationalError)
    @api.exception_handler(sqlalchemy.exc.InterfaceError)
    async def _log_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("audit log unavailable path=%s: %s", request.url.path, type(exc).__name__)
        return problem_response(
            Problem(
                503,
                "store_unavailable",
                "Audit log unavailable",
                "Retry shortly.",
                headers={"Retry-After": "2"},
            ),
            request,
        )

    return api


cli = service_cli("audit", load_settings, make_runtime, make_api)
