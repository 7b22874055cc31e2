"""The share ledger: what victim services has sent to which agency, and what it revoked.

Shares are decided by policy when the data or the consent changes, and recorded as events,
so the outbox relay publishes exactly what was decided (one redacted copy per recipient) and
the decision can be replayed without asking OPA again."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class ShareLedger(Aggregate):
    @event("Opened")
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        # recipient -> {"data_classes", "lawful_basis", "decision_id", "at", "flags"}
        self.current: dict[str, dict[str, Any]] = {}

    @staticmethod
    def id_for(case_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"accord/victim-support/share-ledger/{case_id}")

    @classmethod
    def create_id(cls, case_id: str) -> UUID:
        return cls.id_for(case_id)

    def holds(self, recipient: str) -> dict[str, Any] | None:
        return self.current.get(recipient)

    @event("FlagsShared")
    def share_flags(self, recipient: str, flags: list[dict[str, Any]], lawful_basis: str,
                    decision_id: str | None, at: datetime) -> None:
        self.current[recipient] = {"data_classes": ["safety.flags"], "flags": flags,
                                   "lawful_basis": lawful_basis, "decision_id": decision_id,
                                   "at": at}

    @event("Revoked")
    def revoke(self, recipient: str, data_classes: list[str], reason: str,
               at: datetime) -> None:
        self.current.pop(recipient, None)

    def who_has_what(self) -> list[dict[str, Any]]:
        return [{"agency": r, "data_classes": s["data_classes"],
                 "lawful_basis": s["lawful_basis"], "since": s["at"],
                 "decision_id": s["decision_id"]} for r, s in sorted(self.current.items())]
