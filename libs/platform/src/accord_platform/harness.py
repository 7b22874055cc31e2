"""All five services in one test process, on real Kafka, OPA and PostgreSQL.

Each service gets its own PostgreSQL schema and consumer group, its HTTP API is called through
httpx's ASGI transport, and its outbox relay and inbox consumer run as tasks on the test's
event loop, so tests can stop and restart them to inject faults."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from accord_kernel.bus import InboxConsumer, OutboxRelay
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.runtime import ServiceRuntime
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI

# (service name, its app) -> an httpx response hook for that service's client
ResponseHookFactory = Callable[[str, FastAPI], Callable[[httpx.Response], Awaitable[None]]]

SERVICE_MODULES = {
    "referral": "accord_referral.main",
    "victim-support": "accord_victim_support.main",
    "conference": "accord_conference.main",
    "court": "accord_court.main",
    "audit": "accord_audit.main",
    "reporting": "accord_reporting.main",
}


@dataclass
class RunningService:
    name: str
    runtime: ServiceRuntime[Any]
    api: FastAPI
    client: httpx.AsyncClient
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    relay_task: asyncio.Task[None] | None = None
    consumer_task: asyncio.Task[None] | None = None
    relay_stop: asyncio.Event = field(default_factory=asyncio.Event)
    consumer_stop: asyncio.Event = field(default_factory=asyncio.Event)
    consumer: InboxConsumer | None = None
    relay: OutboxRelay | None = None

    def start_relay(self) -> None:
        self.relay_stop = asyncio.Event()
        self.relay = self.runtime.relay()
        self.relay_task = asyncio.create_task(self.relay.run(self.relay_stop))

    def start_consumer(self) -> None:
        self.consumer = self.runtime.consumer()
        if self.consumer is None:
            return
        self.consumer_stop = asyncio.Event()
        self.consumer_task = asyncio.create_task(self.consumer.run(self.consumer_stop))

    async def stop_relay(self, crash: bool = False) -> None:
        await _stop(self.relay_task, self.relay_stop, crash)
        self.relay_task = None

    async def stop_consumer(self, crash: bool = False) -> None:
        await _stop(self.consumer_task, self.consumer_stop, crash)
        self.consumer_task = None


# How long a relay or consumer may take to notice its stop before it is cancelled: a test's
# teardown must end even when a worker is stuck on a server the test itself cut off.
log = logging.getLogger("accord.harness")
STOP_GRACE_SECONDS = 30.0


async def _stop(task: asyncio.Task[None] | None, stop: asyncio.Event, crash: bool) -> None:
    if task is None:
        return
    if crash:
        # Like a SIGKILL: no graceful path, whatever was in flight is abandoned.
        task.cancel()
    else:
        stop.set()
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
        if not done:
            task.cancel()
    # A worker whose cleanup does not end after cancellation is left behind, as a killed
    # process's would be, and said so: the test goes on and its own checks judge the effect.
    done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
    if not done:
        log.warning("a worker did not stop within %.0f s of its cancellation", STOP_GRACE_SECONDS)
        return
    with contextlib.suppress(asyncio.CancelledError):
        await task


class InProcessPlatform:
    def __init__(
        self,
        *,
        kafka_bootstrap: str,
        opa_url: str,
        database_url: str,
        work_dir: Path,
        services: tuple[str, ...] = tuple(SERVICE_MODULES),
        extra: dict[str, Any] | None = None,
        response_hook: ResponseHookFactory | None = None,
    ) -> None:
        """`response_hook(name, api)` gives an httpx response hook for each service's client
        (the tests check every answer against the service's OpenAPI document with one)."""
        self.response_hook = response_hook
        self.key_dir = work_dir / "dev-keys"
        _, jwks = ensure_dev_keys(self.key_dir)
        run_id = uuid.uuid4().hex[:8]
        self.settings = {
            name: ServiceSettings.for_service(
                name,
                0,
                persistence="postgres",
                database_url=database_url,
                kafka_bootstrap=kafka_bootstrap,
                opa_url=opa_url,
                jwks_path=jwks,
                data_dir=work_dir / name,
                consumer_group=f"{name}-{run_id}",
                **(extra or {}),
            )
            for name in services
        }
        self.services: dict[str, RunningService] = {}

    def make(self, name: str) -> RunningService:
        import importlib

        module = importlib.import_module(SERVICE_MODULES[name])
        runtime: ServiceRuntime[Any] = module.make_runtime(self.settings[name])
        api: FastAPI = module.make_api(runtime, False)
        hooks = [self.response_hook(name, api)] if self.response_hook else []
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api),
            base_url=f"http://{name}",
            event_hooks={"response": hooks},
        )
        return RunningService(name, runtime, api, client)

    async def start(self) -> InProcessPlatform:
        for name in self.settings:
            service = self.make(name)
            service.start_relay()
            service.start_consumer()
            self.services[name] = service
        return self

    async def restart(self, name: str) -> RunningService:
        """A new process for the service: new application object on the same store."""
        old = self.services[name]
        await old.stop_relay(crash=True)
        await old.stop_consumer(crash=True)
        await old.client.aclose()
        old.runtime.app.close()
        service = self.make(name)
        service.start_relay()
        service.start_consumer()
        self.services[name] = service
        return service

    async def close(self) -> None:
        for service in self.services.values():
            await service.stop_relay()
            await service.stop_consumer()
            await service.client.aclose()
            service.runtime.app.close()

    def client(self, name: str) -> httpx.AsyncClient:
        return self.services[name].client

    def token(
        self,
        agency: str,
        role: str,
        user: str | None = None,
        org: str | None = None,
        ttl: int = 3600,
    ) -> dict[str, str]:
        return {
            "Authorization": "Bearer "
            + mint(self.key_dir, agency=agency, role=role, user=user, org=org, ttl_seconds=ttl)
        }


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 30.0, interval: float = 0.1
) -> Any:
    """Polls until `check` returns a truthy value. The timeout is a bound on waiting for
    asynchronous delivery, not a performance assertion."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s; last value: {last!r}")


def _platform_fixture() -> Any:
    import pytest
    import pytest_asyncio

    @pytest.fixture(scope="session")
    def platform_response_hook() -> ResponseHookFactory | None:
        return None

    @pytest_asyncio.fixture(scope="session", loop_scope="session")
    async def platform(
        infrastructure: Any, tmp_path_factory: Any, platform_response_hook: Any
    ) -> Any:
        """All five services on the session's real Kafka, OPA and PostgreSQL; a test suite
        overriding `platform_response_hook` checks every answer with it."""
        database = "accord_" + uuid.uuid4().hex[:8]
        infrastructure.postgres.create_database(database)
        running = InProcessPlatform(
            kafka_bootstrap=infrastructure.kafka_bootstrap,
            opa_url=infrastructure.opa_url,
            database_url=infrastructure.postgres.url(database),
            work_dir=tmp_path_factory.mktemp("platform"),
            response_hook=platform_response_hook,
        )
        await running.start()
        try:
            yield running
        finally:
            await running.close()

    return platform_response_hook, platform


platform_response_hook, platform = _platform_fixture()
