"""Access records: every policy-enforced read becomes an event in the reading service's own
store, so the outbox relay delivers it to the audit service with the same no-loss guarantee
as any other event (a read that cannot be recorded is not served)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class AccessRecord(Aggregate):
    if TYPE_CHECKING:  # made at class creation by @event("Recorded"); named for the type checker
        Recorded: ClassVar[type[Aggregate.Created]]

    @event("Recorded")
    def __init__(
        self,
        *,
        record_id: UUID,
        case_id: str,
        service: str,
        subject: dict[str, str],
        action: str,
        resource_type: str,
        purpose: str,
        fields_returned: list[str],
        fields_withheld: dict[str, str],
        lawful_basis: dict[str, str],
        decision: str,
        decision_id: str | None,
        break_glass: bool,
        justification_ref: str | None,
        at: datetime,
    ) -> None:
        self.record_id = record_id
        self.case_id = case_id
        self.service = service
        self.subject = subject
        self.action = action
        self.resource_type = resource_type
        self.purpose = purpose
        self.fields_returned = fields_returned
        self.fields_withheld = fields_withheld
        self.lawful_basis = lawful_basis
        self.decision = decision
        self.decision_id = decision_id
        self.break_glass = break_glass
        self.justification_ref = justification_ref
        self.at = at

    @classmethod
    def create_id(cls, *, record_id: UUID, **_: Any) -> UUID:
        return record_id
