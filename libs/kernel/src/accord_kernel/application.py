"""Base for every service's eventsourcing Application: tracking-capable recorder (for the
inbox and the outbox position), access records, and the domain -> integration translation."""

from __future__ import annotations

import logging
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, ClassVar, ParamSpec, TypeVar

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    OperationalError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    Transcoding,
)

from accord_kernel.access_log import AccessRecord
from accord_kernel.contracts import AccessRecorded, Contract
from accord_kernel.domain_rules import AlreadyExists, VersionConflict
from accord_kernel.observability import current_traceparent
from accord_kernel.postgres import AccordProcessRecorder, NotificationListener, is_postgres
from accord_kernel.settings import ServiceSettings

log = logging.getLogger("accord.application")
__all__ = ["AccordApplication", "AlreadyExists", "Routed", "VersionConflict", "retry_on_conflict"]

P = ParamSpec("P")
T = TypeVar("T")
CONFLICT_ATTEMPTS = 12
Routed = tuple[Contract, str | None]  # (contract, recipient agency for policy-routed shares)


class DateAsISO(Transcoding):
    """Calendar dates (dates of birth, due dates) in events, as ISO text."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


_RECORDER_ATTEMPTS = 10
# Under a name no event field can have (fields are identifiers without a leading underscore).
_TRACE_KEY = "_traceparent"


class TracingMapper(Mapper[uuid.UUID]):
    """Stores with each domain event the W3C traceparent of the span it was recorded in, so
    the outbox relay, later and in another task, publishes it in the same trace."""

    def to_stored_event(self, domain_event: DomainEventProtocol[uuid.UUID]) -> StoredEvent:
        traceparent = current_traceparent()
        if traceparent is None:
            return super().to_stored_event(domain_event)
        # The library stores vars(event); a copy of the event with the trace added keeps the
        # event itself unchanged (events are frozen and compared by their fields).
        traced = object.__new__(type(domain_event))
        object.__setattr__(traced, "__dict__", {**vars(domain_event), _TRACE_KEY: traceparent})
        return super().to_stored_event(traced)

    def to_traced_domain_event(
        self, stored_event: StoredEvent
    ) -> tuple[DomainEventProtocol[uuid.UUID], str | None]:
        domain_event = super().to_domain_event(stored_event)
        # Removed before anything applies the event: decorated events pass their whole
        # state to the aggregate's method as arguments.
        traceparent = vars(domain_event).pop(_TRACE_KEY, None)
        return domain_event, traceparent if isinstance(traceparent, str) else None

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[uuid.UUID]:
        return self.to_traced_domain_event(stored_event)[0]


class AccordApplication(Application[uuid.UUID]):
    service_name: ClassVar[str] = "accord"

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        env = settings.eventsourcing_env()
        if is_postgres(env):
            _ensure_schema(env)
        super().__init__(env=env)

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=TracingMapper
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_recorder(self) -> ProcessRecorder:
        # A process recorder stores tracking records in the same transaction as events:
        # that is what makes the inbox effect exactly-once and the outbox position durable.
        # Two processes (or replicas) of one service starting together on a fresh store both
        # create the tables: the slower one finds the other's migration record already there
        # (IntegrityError) or, on SQLite, the file locked while the other switches it to WAL
        # (raised by the sqlite3 driver itself, while the pool opens the connection).
        # The tables exist a moment later, so building the recorder again succeeds.
        for attempt in range(_RECORDER_ATTEMPTS):
            try:
                return self.factory.process_recorder()
            except (IntegrityError, OperationalError, sqlite3.OperationalError):
                if attempt == _RECORDER_ATTEMPTS - 1:
                    raise
                # Jittered, so racers that collided once do not collide again in step.
                time.sleep(random.uniform(0.05, min(1.0, 0.1 * 2**attempt)))
        raise AssertionError("unreachable")

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    # --- inbox ---------------------------------------------------------------------------
    def already_processed(self, event_id: str) -> bool:
        return self.process_recorder.has_tracking_id(f"inbox:{event_id}", 1)

    def save_processed(self, event_id: str, *objs: Any) -> bool:
        """Saves the effect of an integration event together with its tracking record.
        Returns False (and saves nothing) when the event was already processed."""
        processing = ProcessingEvent[uuid.UUID](Tracking(f"inbox:{event_id}", 1))
        processing.collect_events(*objs)
        try:
            self._record(processing)
        except IntegrityError:
            if self.already_processed(event_id):
                return False
            raise  # an aggregate changed under us: the caller runs the handler again
        return True

    # --- outbox --------------------------------------------------------------------------
    OUTBOX_POSITION = "outbox:kafka"

    def notification_listener(self) -> NotificationListener | None:
        """What tells the relay that new events were committed; None where the store cannot
        tell (SQLite, memory), so the relay polls."""
        if isinstance(self.recorder, AccordProcessRecorder):
            return NotificationListener(self.recorder)
        return None

    def outbox_position(self) -> int:
        return self.process_recorder.max_tracking_id(self.OUTBOX_POSITION) or 0

    def advance_outbox(self, notification_id: int) -> None:
        self.process_recorder.insert_events(
            [], tracking=Tracking(self.OUTBOX_POSITION, notification_id)
        )

    def integration_events(self, domain_event: DomainEventProtocol[uuid.UUID]) -> list[Routed]:
        """Translates one stored domain event into the integration events it publishes.
        Services extend this; the base publishes access records."""
        if isinstance(domain_event, AccessRecord.Recorded):
            e: Any = domain_event
            return [
                (
                    AccessRecorded(
                        case_id=e.case_id,
                        record_id=str(e.record_id),
                        service=e.service,
                        user=e.subject["user"],
                        agency=e.subject["agency"],
                        role=e.subject["role"],
                        org=e.subject["org"],
                        action=e.action,
                        resource_type=e.resource_type,
                        purpose=e.purpose,
                        fields_returned=e.fields_returned,
                        fields_withheld=e.fields_withheld,
                        lawful_basis=e.lawful_basis,
                        decision=e.decision,
                        decision_id=e.decision_id,
                        break_glass=e.break_glass,
                        justification_ref=e.justification_ref,
                        at=e.at,
                    ),
                    None,
                )
            ]
        return []

    # --- access records ------------------------------------------------------------------
    def record_access(self, records: Iterable[dict[str, Any]]) -> None:
        aggregates = [
            AccessRecord(
                record_id=uuid.uuid4(), service=self.service_name, at=datetime.now(UTC), **r
            )
            for r in records
        ]
        if aggregates:
            self.save(*aggregates)


def _ensure_schema(env: dict[str, str]) -> None:
    """eventsourcing creates its tables but not the schema that keeps one service's tables
    apart from another's, so the service creates its own schema first."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        autocommit=True,
    ) as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(env["POSTGRES_SCHEMA"]))
        )


def retry_on_conflict(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs a use case again when another writer saved the same aggregate first: each attempt
    reloads the aggregates, so the command is re-decided on the state that won. A short random
    pause spreads out writers that keep colliding on a shared index."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            return fn(*args, **kwargs)
        except IntegrityError:
            if attempt == CONFLICT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise AssertionError("unreachable")
