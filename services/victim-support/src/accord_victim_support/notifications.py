"""What an advocate must tell the victim: outcome-agreement items completed or breached,
and the case's return to court, learnt from the RJ provider's and the court's events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class VictimNotifications(Aggregate):
    @event("Opened")
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.items: list[dict[str, Any]] = []

    @staticmethod
    def id_for(case_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"accord/victim-support/notifications/{case_id}")

    @classmethod
    def create_id(cls, case_id: str) -> UUID:
        return cls.id_for(case_id)

    @event("Added")
    def add(self, kind: str, summary: dict[str, Any], source_event_id: str, at: datetime) -> None:
        self.items.append(
            {
                "kind": kind,
                **summary,
                "source_event_id": source_event_id,
                "at": at,
                "told_victim": False,
            }
        )

    @event("ToldVictim")
    def mark_told(self, index: int, by: str, at: datetime) -> None:
        self.items[index]["told_victim"] = True
        self.items[index]["told_by"] = by
        self.items[index]["told_at"] = at
