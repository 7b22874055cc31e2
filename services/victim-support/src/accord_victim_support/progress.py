"""How far the RJ process has got, in the terms the victim view uses, learnt from the police's
and the RJ provider's events (victim services never asks their databases)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

Stage = Literal[
    "referred",
    "being_prepared",
    "conference_arranged",
    "agreement_monitored",
    "stopped",
    "closed",
]
# What the victim can expect next, in plain words (the portal may translate by stage).
NEXT_STEPS: dict[str, str] = {
    "referred": "Your support service will talk to you about restorative justice and what you"
    " want. Nothing happens unless you choose it.",
    "being_prepared": "A facilitator is getting everyone ready. They will meet you on your own"
    " first. You can stop at any time.",
    "conference_arranged": "A meeting has been arranged. Your support service will tell you"
    " when and where, and can come with you.",
    "agreement_monitored": "An agreement was made. Its progress is being checked.",
    "stopped": "The restorative justice process has stopped. Your support service is still here"
    " for you.",
    "closed": "The process has finished. Your support service is still here for you.",
}


class CaseProgress(Aggregate):
    @staticmethod
    def id_for(case_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"accord/victim-support/progress/{case_id}")

    @classmethod
    def create_id(cls, case_id: str) -> UUID:
        return cls.id_for(case_id)

    @event("Started")
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.stage: str = "referred"
        self.stage_at: datetime | None = None
        self.items: list[dict[str, Any]] = []

    def move(self, stage: Stage, at: datetime) -> bool:
        """Notes a new stage unless the case has already ended: once stopped or closed, a late
        or redelivered event of an earlier step must not make the process look alive again."""
        if stage == self.stage or self.stage in ("stopped", "closed"):
            return False
        self._move(stage=stage, at=at)
        return True

    @event("StageNoted")
    def _move(self, stage: str, at: datetime) -> None:
        self.stage = stage
        self.stage_at = at

    def note_items(self, items: list[dict[str, Any]]) -> bool:
        shown = [
            {
                "item_id": str(i.get("item_id", "")),
                "status": str(i.get("status", "open")),
                "due_date": i.get("due_date"),
            }
            for i in items
        ]
        if shown == self.items:
            return False
        self._items(items=shown)
        return True

    @event("ItemsNoted")
    def _items(self, items: list[dict[str, Any]]) -> None:
        self.items = items
