"""Composition root shared by the services: wires settings, the event-sourced application,
policy enforcement, identity, the outbox relay and the inbox into a FastAPI app and a CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Literal, TypeVar

import typer
import uvicorn
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import Field

from accord_kernel.application import AccordApplication
from accord_kernel.bus import ApplicationInbox, Inbox, InboxConsumer, OutboxRelay
from accord_kernel.deployment import DeploymentHeaderMiddleware, SyntheticDataGuard
from accord_kernel.identity import Subject, TokenVerifier
from accord_kernel.input_bounds import InputBoundsMiddleware
from accord_kernel.observability import (
    ServiceMetrics,
    configure_logging,
    configure_tracing,
    serve_metrics,
)
from accord_kernel.openapi import complete
from accord_kernel.organisations import load_directory
from accord_kernel.policy import PolicyDecisionPoint, PolicyEnforcementPoint, PolicyUnavailable
from accord_kernel.problem_types import problem_pages
from accord_kernel.problems import (
    Problem,
    forbidden,
    install_problem_handlers,
    policy_unavailable,
    problem_response,
    unauthorized,
)
from accord_kernel.responses import Body
from accord_kernel.settings import ServiceSettings

log = logging.getLogger("accord.runtime")
A = TypeVar("A", bound=AccordApplication)


@dataclass
class ServiceRuntime(Generic[A]):
    """One service's parts. `app` is the service's own application, typed: an API module
    declares `Annotated[ServiceRuntime[ItsService], Depends(current_runtime)]` and calls its
    use cases as `runtime.app.<use case>`."""

    settings: ServiceSettings
    app: A
    inbox: Inbox | None = None
    topics: list[str] = field(default_factory=list)
    inbox_types: set[str] | None = None
    pdp: PolicyDecisionPoint = None  # type: ignore[assignment]
    transient_errors: tuple[type[Exception], ...] = ()

    def __post_init__(self) -> None:
        configure_tracing(self.settings.service, self.settings.otlp_endpoint)
        self.metrics = ServiceMetrics(self.settings.service)
        self.metrics.gauge(
            "accord_outbox_lag_events",
            "Stored events not yet published to Kafka by the outbox relay",
            self._outbox_lag,
        )
        if self.pdp is None:
            self.pdp = PolicyDecisionPoint(
                self.settings.opa_url, self.settings.opa_timeout_seconds, self.metrics
            )
        elif self.pdp.metrics is None:
            self.pdp.metrics = self.metrics
        self.pep = PolicyEnforcementPoint(self.pdp, self.app, self.settings.enforce_policy)
        self.directory = load_directory(self.settings.organisations_file.resolve())
        self.verifier = TokenVerifier.from_settings(self.settings)
        if self.inbox_types is None and isinstance(self.inbox, ApplicationInbox):
            self.inbox_types = self.inbox.types

    def _outbox_lag(self) -> float:
        latest = self.app.process_recorder.max_notification_id() or 0
        return float(max(0, latest - self.app.outbox_position()))

    def relay(self) -> OutboxRelay:
        return OutboxRelay(
            self.app,
            self.settings.kafka_bootstrap,
            metrics=self.metrics,
            mode=self.settings.cloudevents_mode,
            topic_prefix=self.settings.topic_prefix,
            client_options=self.settings.kafka_client_options(),
        )

    def consumer(self) -> InboxConsumer | None:
        if self.inbox is None:
            return None
        return InboxConsumer(
            self.inbox,
            self.settings.kafka_bootstrap,
            self.settings.consumer_group or self.settings.service,
            self.topics,
            self.inbox_types,
            transient=self.transient_errors,
            metrics=self.metrics,
            service=self.settings.service,
            client_options=self.settings.kafka_client_options(),
            topic_prefix=self.settings.topic_prefix,
        )

    async def run_workers(
        self, stop: asyncio.Event, relay: bool = True, consumer: bool = True
    ) -> None:
        tasks = []
        if relay:
            tasks.append(asyncio.create_task(self.relay().run(stop)))
        inbox_consumer = self.consumer() if consumer else None
        if inbox_consumer is not None:
            tasks.append(asyncio.create_task(inbox_consumer.run(stop)))
        await asyncio.gather(*tasks)


def current_runtime(request: Request) -> ServiceRuntime[Any]:
    runtime: ServiceRuntime[Any] = request.app.state.runtime
    return runtime


def bearer_subject(request: Request) -> Subject:
    """Whoever the bearer token names, of any kind."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("a bearer token is required")
    return current_runtime(request).verifier.verify(token.strip())


def current_subject(request: Request) -> Subject:
    """A staff member. A victim's token and the enrolment account's are refused here, so that
    they reach only the routes declared for them (`CurrentVictim`, `CurrentEnrolment`) and no
    staff endpoint of any service, whatever its own checks would have said."""
    subject = bearer_subject(request)
    if subject.is_victim or subject.is_enrolment:
        log.info("staff endpoint refused agency=%s role=%s", subject.agency, subject.role)
        raise forbidden("this endpoint is for staff of the agencies")
    return subject


def current_victim(request: Request) -> Subject:
    """The victim signed in to the victim view, and nobody else."""
    subject = bearer_subject(request)
    if not subject.is_victim:
        raise forbidden("this endpoint is for the victim's own account")
    return subject


def current_enrolment(request: Request) -> Subject:
    """The victim-services enrolment service account, and nobody else."""
    subject = bearer_subject(request)
    if not subject.is_enrolment:
        raise forbidden("this endpoint is for the enrolment service account")
    return subject


CurrentSubject = Annotated[Subject, Depends(current_subject)]
CurrentVictim = Annotated[Subject, Depends(current_victim)]
CurrentEnrolment = Annotated[Subject, Depends(current_enrolment)]
Runtime = Annotated[ServiceRuntime[Any], Depends(current_runtime)]


class Liveness(Body):
    status: Literal["ok"]


class Readiness(Body):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(
        description="policy engine, event store and Kafka reachable, each by name"
    )


def kafka_reachable(bootstrap: str, timeout: float = 0.5) -> bool:
    """Any bootstrap server accepts a connection. Enough for readiness: the relay and inbox
    reconnect by themselves and log the broker's state; this only tells the orchestrator
    not to send traffic to a service that could not publish what it records."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port or 9092)), timeout):
                return True
        except (OSError, ValueError):
            continue
    return False


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    def live() -> Liveness:
        return Liveness(status="ok")

    @router.get(
        "/health/ready",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready; `checks` says why"}},
    )
    def ready(runtime: Runtime) -> JSONResponse:
        checks = {
            "policy": runtime.pdp.healthy(),
            "store": True,
            "kafka": kafka_reachable(runtime.settings.kafka_bootstrap),
        }
        try:
            runtime.app.outbox_position()
        except Exception:
            checks["store"] = False
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    return router


def build_api(
    runtime: ServiceRuntime[Any], title: str, routers: list[APIRouter], with_workers: bool = False
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        workers = asyncio.create_task(runtime.run_workers(stop)) if with_workers else None
        try:
            yield
        finally:
            stop.set()
            if workers is not None:
                await workers
            runtime.app.close()

    api = FastAPI(
        title=title,
        version="1.0.0",
        lifespan=lifespan,
        description=f"Accord {runtime.settings.service} service. All case data is "
        "policy-filtered; errors are RFC 9457 problem documents.",
    )
    api.state.runtime = runtime
    api.state.problem_base_url = runtime.settings.problem_base_url

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = complete(FastAPI.openapi(api))
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    install_problem_handlers(api)
    api.add_middleware(InputBoundsMiddleware, max_body_bytes=runtime.settings.max_body_bytes)
    if runtime.settings.training:
        api.add_middleware(SyntheticDataGuard)
    # Added last, so outermost: even a refusal by the input bounds is marked.
    api.add_middleware(DeploymentHeaderMiddleware, training=runtime.settings.training)

    @api.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("concurrent update path=%s", request.url.path)
        return problem_response(
            Problem(
                409,
                "concurrent_update",
                "The record changed while this request was applied; retry it",
            ),
            request,
        )

    @api.exception_handler(OperationalError)
    @api.exception_handler(InterfaceError)
    async def _store_down(request: Request, exc: Exception) -> JSONResponse:
        # The event store is unreachable (a database restart): answer "try again", never a
        # half-done write; the outbox and inbox catch up by themselves once it is back.
        log.warning("event store unavailable path=%s: %s", request.url.path, type(exc).__name__)
        return problem_response(
            Problem(
                503,
                "store_unavailable",
                "Storage unavailable",
                "Retry shortly.",
                headers={"Retry-After": "2"},
            ),
            request,
        )

    @api.exception_handler(PolicyUnavailable)
    async def _policy_down(request: Request, exc: PolicyUnavailable) -> JSONResponse:
        log.warning("policy unavailable path=%s", request.url.path)
        return problem_response(policy_unavailable(), request)

    api.include_router(health_router())
    api.include_router(problem_pages())
    for router in routers:
        api.include_router(router)
    observe(api, runtime)
    return api


def observe(api: FastAPI, runtime: ServiceRuntime[Any]) -> None:
    """Server spans for every request and Prometheus metrics per route, served at /metrics."""
    serve_metrics(api, runtime.metrics.registry, ["/health/live", "/health/ready"])
    FastAPIInstrumentor.instrument_app(
        api,
        excluded_urls="health/live,health/ready,metrics",
        server_request_hook=lambda span, _scope: span.set_attribute(
            "accord.service", runtime.settings.service
        ),
    )


def service_cli(
    name: str,
    settings: Callable[[], ServiceSettings],
    make_runtime: Callable[[ServiceSettings], ServiceRuntime[Any]],
    make_api: Callable[[ServiceRuntime[Any], bool], FastAPI],
) -> typer.Typer:
    """`accord-<service> all|api|relay|consumer`: the same code runs as one process or three."""
    cli = typer.Typer(add_completion=False, help=f"Accord {name} service")

    @cli.command()
    def all() -> None:
        """HTTP API plus outbox relay and inbox consumer in one process."""
        s = settings()
        _configure_logging(s)
        uvicorn.run(
            make_api(make_runtime(s), True),
            host=s.host,
            port=s.port,
            log_level="warning",
            log_config=None,
        )

    @cli.command()
    def api() -> None:
        """HTTP API only."""
        s = settings()
        _configure_logging(s)
        uvicorn.run(
            make_api(make_runtime(s), False),
            host=s.host,
            port=s.port,
            log_level="warning",
            log_config=None,
        )

    @cli.command()
    def relay() -> None:
        """Outbox relay only."""
        s = settings()
        _configure_logging(s)
        _run_until_signal(make_runtime(s), relay=True, consumer=False)

    @cli.command()
    def consumer() -> None:
        """Inbox consumer only."""
        s = settings()
        _configure_logging(s)
        _run_until_signal(make_runtime(s), relay=False, consumer=True)

    return cli


def _run_until_signal(runtime: ServiceRuntime[Any], relay: bool, consumer: bool) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runtime.run_workers(stop, relay=relay, consumer=consumer)

    asyncio.run(main())


def _configure_logging(settings: ServiceSettings) -> None:
    configure_logging(settings.service, settings.log_format)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # The group coordinator logs every rebalance wait at ERROR while a broker starts; the
    # relay and inbox log their own, actionable, connection state.
    logging.getLogger("aiokafka.consumer.group_coordinator").setLevel(logging.CRITICAL)
    # With the broker away every aiokafka client logs each failed attempt (tens of lines a
    # second per service): the first of each kind is shown, the rest are counted.
    from accord_kernel.bus import quiet_kafka_client_logs

    quiet_kafka_client_logs()
