"""Reporting use cases: keep each case's countable facts as the events arrive, and answer the
figures of a scope. Methods take and return plain values; the API decides who may ask."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from accord_kernel.application import AccordApplication
from accord_kernel.settings import ServiceSettings
from eventsourcing.application import AggregateNotFoundError, EventSourcedLog
from eventsourcing.domain import DomainEvent

from accord_reporting.domain import CaseTally, Scope, Table, figures, tally_id

TALLY_LOG_ID = uuid.uuid5(uuid.NAMESPACE_URL, "accord/reporting/case-tallies")


class TallyLogged(DomainEvent):
    tally_id: uuid.UUID


class ReportingService(AccordApplication):
    service_name: ClassVar[str] = "reporting"

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.tally_log: EventSourcedLog[TallyLogged] = EventSourcedLog(
            self.events, TALLY_LOG_ID, TallyLogged
        )

    def tally(self, case_id: str) -> tuple[CaseTally, list[Any]]:
        """The case's tally, opened (and logged, so figures can list every tally) on the
        first event of the case; the second value is what must be saved besides it."""
        try:
            found: Any = self.repository.get(tally_id(case_id))
            return found, []
        except AggregateNotFoundError:
            opened = CaseTally(case_id=case_id)
            return opened, [self.tally_log.trigger_event(tally_id=opened.id)]

    def change(self, case_id: str, what: Callable[[CaseTally], None]) -> list[Any]:
        tally, logged = self.tally(case_id)
        what(tally)
        return [tally, *logged]

    def tallies(self) -> Iterator[CaseTally]:
        for logged in self.tally_log.get():
            found: Any = self.repository.get(logged.tally_id)
            yield found

    def figures(self, scope: Scope, today: date | None = None) -> list[Table]:
        return figures(self.tallies(), scope, today or datetime.now(UTC).date())

    def organisations_of(self, agency: str, directory: Mapping[str, Any]) -> list[str]:
        return sorted(k for k, v in directory.items() if getattr(v, "agency", None) == agency)
