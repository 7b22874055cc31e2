"""What the court holds of an outcome agreement's text: shared only while every party
consents to share the outcome with the court (decided by policy), revoked when one stops."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class OutcomeShare(Aggregate):
    if TYPE_CHECKING:  # made at class creation by the @event decorators below
        Shared: ClassVar[type[Aggregate.Event]]
        Revoked: ClassVar[type[Aggregate.Event]]

    @event("Opened")
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.shared = False

    @staticmethod
    def id_for(case_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"accord/conference/outcome-share/{case_id}")

    @classmethod
    def create_id(cls, case_id: str) -> UUID:
        return cls.id_for(case_id)

    @event("Shared")
    def share(
        self,
        court_reference: str,
        items: list[dict[str, Any]],
        decision_id: str | None,
        at: datetime,
    ) -> None:
        self.shared = True

    @event("Revoked")
    def revoke(self, reason: str, at: datetime) -> None:
        self.shared = False
