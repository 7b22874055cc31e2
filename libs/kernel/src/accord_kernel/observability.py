"""What the engineer on call sees of a service: JSON logs, Prometheus metrics, traces.

- Logs: every record (Accord's and the libraries') is one JSON object with the service,
  level, logger, message and the current trace and span ids (structlog formatting the
  standard library's records, so no call site changes). Log lines carry ids and codes only.
- Metrics: one Prometheus registry per service, served at /metrics: HTTP requests, errors
  and latency per route (prometheus-fastapi-instrumentator), outbox lag, consumer lag,
  policy decisions by result and OPA latency, and the gauges a service adds for itself
  (active break-glass grants, audit tree size and checkpoint age).
- Traces: OpenTelemetry. HTTP requests are server spans (FastAPI instrumentation, which
  also continues a caller's `traceparent`); each stored domain event remembers the span it
  was recorded in; the relay publishes it with that trace's `traceparent` in a Kafka header;
  the consumer continues the trace. One referral is one trace across every service.
  Spans are exported over OTLP/HTTP when an endpoint is configured.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_fastapi_instrumentator import Instrumentator

TRACER_NAME = "accord"
_PROPAGATOR = TraceContextTextMapPropagator()


# ---- logs -----------------------------------------------------------------------------


def _trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event["trace_id"] = format(span.trace_id, "032x")
        event["span_id"] = format(span.span_id, "016x")
    return event


def configure_logging(service: str, log_format: str = "json") -> None:
    """Root logging for a service process: JSON lines on stderr (or plain text for a person
    reading a terminal, `ACCORD_LOG_FORMAT=console`)."""

    def _service(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    shared: list[Any] = [
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _service,
        _trace_ids,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    # Python's warnings, too, become log records rather than bare lines on stderr.
    logging.captureWarnings(True)


# ---- traces ---------------------------------------------------------------------------

_provider_lock = threading.Lock()


def configure_tracing(
    service: str, otlp_endpoint: str | None, exporter: SpanExporter | None = None
) -> None:
    """Installs the process's tracer provider once. Several services in one interpreter (the
    in-process test platform) share it; each span names its service in `accord.service`."""
    with _provider_lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            if exporter is not None:
                current.add_span_processor(BatchSpanProcessor(exporter))
            return
        provider = TracerProvider(resource=Resource.create({"service.name": f"accord-{service}"}))
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")
                )
            )
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_traceparent() -> str | None:
    """The W3C traceparent of the span in progress, if any (what a stored event remembers)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent: str | None) -> otel_context.Context | None:
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


def traceparent_header(headers: list[tuple[str, bytes]] | None) -> str | None:
    for name, value in headers or []:
        if name.lower() == "traceparent":
            try:
                return value.decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


@contextmanager
def span(
    name: str,
    service: str,
    parent: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    **attributes: str | int,
) -> Iterator[Span]:
    """A span continuing the trace `parent` (a traceparent), or the current one."""
    with tracer().start_as_current_span(
        name,
        context=context_from(parent),
        kind=kind,
        attributes={"accord.service": service, **attributes},
    ) as current:
        yield current


# ---- metrics --------------------------------------------------------------------------


def serve_metrics(app: FastAPI, registry: CollectorRegistry, unmeasured: list[str]) -> None:
    """Requests, errors and latency per route template (never per URL: a path holds case
    ids, and ids in labels would leak them and grow without bound), served at /metrics."""
    Instrumentator(
        registry=registry,
        should_group_status_codes=False,
        excluded_handlers=["/metrics", *unmeasured],
    ).instrument(app, metric_namespace="accord").expose(
        app, endpoint="/metrics", include_in_schema=False
    )


class ServiceMetrics:
    """The service's Prometheus registry and the metrics the kernel itself records.

    A registry per service, not the process-wide default: the in-process test platform runs
    every service in one interpreter, and each must serve only its own figures."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.policy_decisions = Counter(
            "accord_policy_decisions",
            "Policy decisions asked of OPA, by result (permit, deny, unavailable)",
            ["result"],
            registry=self.registry,
        )
        self.policy_latency = Histogram(
            "accord_policy_decision_seconds",
            "Time to get a decision from OPA",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "accord_consumer_lag_messages",
            "Messages on the service's subscribed topics not yet applied, per topic",
            ["topic"],
            registry=self.registry,
        )
        self.events_published = Counter(
            "accord_events_published",
            "Integration events published by the outbox relay",
            registry=self.registry,
        )
        self.events_consumed = Counter(
            "accord_events_consumed",
            "Integration events applied by the inbox, by result (applied, dead_lettered)",
            ["result"],
            registry=self.registry,
        )

    def decision(self, result: str, seconds: float) -> None:
        self.policy_decisions.labels(result=result).inc()
        self.policy_latency.observe(seconds)

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge whose value is read at scrape time (state the service already holds)."""
        Gauge(name, documentation, registry=self.registry).set_function(read)
