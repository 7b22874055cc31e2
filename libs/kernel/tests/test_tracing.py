"""Stored events keep the trace they were recorded in, and still replay (issue 19, item 4)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from accord_kernel.application import AccordApplication, TracingMapper
from accord_kernel.observability import configure_tracing, tracer
from accord_kernel.settings import ServiceSettings
from eventsourcing.domain import Aggregate, event
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


class Visit(Aggregate):
    @event("Booked")
    def __init__(self, place: str) -> None:
        self.place = place
        self.notes: list[str] = []

    @event("Noted")
    def note(self, text: str) -> None:
        self.notes.append(text)


@pytest.fixture(params=["memory", "sqlite"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> AccordApplication:
    return AccordApplication(
        ServiceSettings(service="tracing-test", persistence=request.param, data_dir=tmp_path)
    )


def test_an_event_recorded_in_a_span_is_published_in_that_trace(app: AccordApplication) -> None:
    configure_tracing("tracing-test", None, InMemorySpanExporter())
    with tracer().start_as_current_span("request") as span:
        visit = Visit("the office")
        visit.note("seen alone")
        app.save(visit)
        trace_id = format(span.get_span_context().trace_id, "032x")
    untraced = Visit("elsewhere")
    app.save(untraced)

    # The aggregate replays as if no trace had been stored with its events.
    again = app.repository.get(visit.id)
    assert isinstance(again, Visit)
    assert (again.place, again.notes) == ("the office", ["seen alone"])

    mapper = app.mapper
    assert isinstance(mapper, TracingMapper)
    traces = {}
    for n in app.recorder.select_notifications(start=1, limit=10):
        domain_event, traceparent = mapper.to_traced_domain_event(n)
        assert "_traceparent" not in vars(domain_event)
        traces[(uuid.UUID(str(n.originator_id)), n.originator_version)] = traceparent
    assert traces[(visit.id, 1)] is not None and trace_id in traces[(visit.id, 1)]
    assert traces[(visit.id, 2)] is not None and trace_id in traces[(visit.id, 2)]
    assert traces[(untraced.id, 1)] is None
