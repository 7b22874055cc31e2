"""A court's view of an RJ case, keyed by the court reference.

The court sees the compliance status of each agreement item, and the item text only where every
party consented to share the outcome with the court. Which of the two it may hold is decided
upstream by policy; this aggregate keeps what it was sent and forgets the text when told to.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, get_args

from accord_kernel.domain_rules import ArgumentChecks
from eventsourcing.domain import Aggregate, event

from accord_court.domain.errors import InvalidState, ValidationFailed

COURT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "accord/court/court-reference")
Decision = Literal["compliance_accepted", "returned_for_sentencing", "review_adjourned"]
DECISIONS: tuple[str, ...] = get_args(Decision)
# An adjournment keeps the review open; either of the others disposes of it.
FINAL_DECISIONS = frozenset({"compliance_accepted", "returned_for_sentencing"})
ITEM_STATUSES: tuple[str, ...] = ("open", "completed", "breached")
STATUS_KEYS = frozenset({"item_id", "status", "due_date", "completed_at"})
TEXT_KEYS = frozenset({"item_id", "what", "owner", "due_date", "monitoring_agency"})
ITEMS_MAX = 100
# The shape police accept for a court reference at intake; anything else could never be asked
# for through the API, so it is refused when it arrives rather than held unreachable.
COURT_REFERENCE_PATTERN = r"^[A-Za-z0-9/-]{1,64}$"
_COURT_REFERENCE = re.compile(COURT_REFERENCE_PATTERN)

# Refusals must be CourtErrors, so that the API and the inbox catch them.
checks = ArgumentChecks(ValidationFailed)


def _iso_moment(value: object, field: str) -> str:
    """Completion times arrive as ISO text from integration events, or as datetimes."""
    moment: object = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValidationFailed(f"{field} must be an ISO datetime", {"field": field}) from exc
    return checks.require_moment(moment, field).isoformat()


def _records(value: object, field: str) -> list[Mapping[str, Any]]:
    entries = checks.require_list(value, field)
    if len(entries) > ITEMS_MAX:
        raise ValidationFailed(f"{field} has at most {ITEMS_MAX} entries", {"field": field})
    records: list[Mapping[str, Any]] = []
    ids: set[object] = set()
    for index, record in enumerate(entries):
        if not isinstance(record, Mapping):
            raise ValidationFailed(
                f"{field}[{index}] must be an object",
                {"field": f"{field}[{index}]"},
            )
        if record.get("item_id") in ids:
            raise ValidationFailed(
                f"{field}[{index}].item_id repeats",
                {"field": f"{field}[{index}].item_id"},
            )
        ids.add(record.get("item_id"))
        records.append(record)
    return records


def _unexpected(record: Mapping[str, Any], allowed: frozenset[str], field: str) -> None:
    extra = sorted(set(record) - allowed)
    if extra:
        raise ValidationFailed(
            f"{field} has unexpected keys",
            {"field": field, "unexpected": extra},
        )


def _items_status(value: object) -> list[dict[str, Any]]:
    statuses: list[dict[str, Any]] = []
    for index, record in enumerate(_records(value, "items_status")):
        field = f"items_status[{index}]"
        _unexpected(record, STATUS_KEYS, field)
        status = checks.require_choice(record.get("status"), f"{field}.status", ITEM_STATUSES)
        completed_at = record.get("completed_at")
        statuses.append(
            {
                "item_id": checks.require_text(
                    record.get("item_id"),
                    f"{field}.item_id",
                    max_length=64,
                ),
                "status": status,
                "due_date": checks.require_iso_day(record.get("due_date"), f"{field}.due_date"),
                "completed_at": (
                    None
                    if completed_at is None
                    else _iso_moment(completed_at, f"{field}.completed_at")
                ),
            }
        )
    return statuses


def _items_text(value: object) -> list[dict[str, Any]]:
    texts: list[dict[str, Any]] = []
    for index, record in enumerate(_records(value, "items_text")):
        field = f"items_text[{index}]"
        _unexpected(record, TEXT_KEYS, field)
        text: dict[str, Any] = {
            "item_id": checks.require_text(
                record.get("item_id"),
                f"{field}.item_id",
                max_length=64,
            ),
            "what": checks.require_text(record.get("what"), f"{field}.what", max_length=2_000),
        }
        for key in ("owner", "monitoring_agency"):
            if record.get(key) is not None:
                text[key] = checks.require_text(record[key], f"{field}.{key}")
        if record.get("due_date") is not None:
            text["due_date"] = checks.require_iso_day(record["due_date"], f"{field}.due_date")
        texts.append(text)
    return texts


def court_reference_of(value: object) -> str:
    reference = checks.require_text(value, "court_reference", max_length=64)
    if not _COURT_REFERENCE.fullmatch(reference):
        raise ValidationFailed(
            "court_reference must be 1-64 letters, digits, '/' or '-'",
            {"field": "court_reference", "pattern": COURT_REFERENCE_PATTERN},
        )
    return reference


class CourtCase(Aggregate):
    """One court reference and the RJ case linked to it."""

    @staticmethod
    def id_for(court_reference: str) -> uuid.UUID:
        return uuid.uuid5(COURT_NAMESPACE, court_reference.strip())

    @classmethod
    def create_id(cls, court_reference: str, **_: object) -> uuid.UUID:
        return cls.id_for(court_reference)

    @classmethod
    def link(
        cls,
        court_reference: str,
        case_id: str,
        court_name: str | None,
        at: datetime,
    ) -> CourtCase:
        """`court_name` is None when the link is learnt from an RJ provider's event, which
        carries the court reference but not the name of the court."""
        return cls(
            court_reference=court_reference_of(court_reference),
            case_id=checks.require_text(case_id, "case_id", max_length=64),
            court_name=checks.optional_text(court_name, "court_name"),
            at=checks.require_moment(at, "at"),
        )

    @event("Linked")
    def __init__(
        self,
        court_reference: str,
        case_id: str,
        court_name: str | None,
        at: datetime,
    ) -> None:
        self.court_reference = court_reference
        self.case_id = case_id
        self.court_name = court_name
        self.linked_at = at
        self._items_status: list[dict[str, Any]] = []
        self._items_text: list[dict[str, Any]] | None = None
        self.items_noted_at: datetime | None = None
        self._decisions: list[dict[str, Any]] = []

    # --- reading ----------------------------------------------------------------------------
    @property
    def items_status(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._items_status)

    @property
    def items_text(self) -> list[dict[str, Any]] | None:
        """None unless every party consented to share the outcome with the court."""
        return copy.deepcopy(self._items_text)

    @property
    def decisions(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._decisions)

    @property
    def latest_decision(self) -> str | None:
        return self._decisions[-1]["decision"] if self._decisions else None

    @property
    def review_status(self) -> str:
        """`awaiting_review` until a final decision, then that decision."""
        latest = self.latest_decision
        return latest if latest in FINAL_DECISIONS else "awaiting_review"

    @property
    def any_breached(self) -> bool:
        return any(item["status"] == "breached" for item in self._items_status)

    @property
    def all_completed(self) -> bool:
        return bool(self._items_status) and all(
            item["status"] == "completed" for item in self._items_status
        )

    # --- commands ---------------------------------------------------------------------------
    def note_items(
        self,
        items_status: Sequence[Mapping[str, Any]],
        items_text: Sequence[Mapping[str, Any]] | None,
        at: datetime,
    ) -> None:
        """Replaces the compliance picture with the latest one. An empty `items_status` or a None
        `items_text` leaves what is held as it is, because status reports and shared item text
        arrive on different topics, each without the other, and in no guaranteed order."""
        self._note_items(
            items_status=_items_status(items_status),
            items_text=None if items_text is None else _items_text(items_text),
            at=checks.require_moment(at, "at"),
        )

    @event("ItemsNoted")
    def _note_items(
        self,
        items_status: list[dict[str, Any]],
        items_text: list[dict[str, Any]] | None,
        at: datetime,
    ) -> None:
        # Copied so that later changes of state can never alter the recorded event.
        if items_status:
            self._items_status = copy.deepcopy(items_status)
        if items_text is not None:
            self._items_text = copy.deepcopy(items_text)
        self.items_noted_at = at

    def forget_items_text(self, reason: str, at: datetime) -> None:
        """Outcome consent withdrawn: the court stops holding the item text from now on."""
        self._forget_items_text(
            reason=checks.require_text(reason, "reason", max_length=500),
            at=checks.require_moment(at, "at"),
        )

    @event("ItemsTextForgotten")
    def _forget_items_text(self, reason: str, at: datetime) -> None:
        self._items_text = None

    def record_review_decision(
        self,
        decision: str,
        by: str,
        notes: str,
        at: datetime,
        next_review_on: object = None,
    ) -> None:
        chosen = checks.require_choice(decision, "decision", DECISIONS)
        who = checks.require_text(by, "by")
        if not isinstance(notes, str) or len(notes) > 10_000:
            raise ValidationFailed(
                "notes must be text of at most 10000 characters", {"field": "notes"}
            )
        moment = checks.require_moment(at, "at")
        next_review = None
        if next_review_on is not None:
            # Only an adjournment has a next review; a final decision disposes of the review.
            if chosen != "review_adjourned":
                raise ValidationFailed(
                    "next_review_on is only for an adjourned review",
                    {"field": "next_review_on"},
                )
            next_review = checks.require_iso_day(next_review_on, "next_review_on")
        if self.review_status in FINAL_DECISIONS:
            raise InvalidState(
                f"the review was already decided: {self.review_status}",
                {"state": self.review_status},
            )
        self._record_review_decision(
            decision=chosen, by=who, notes=notes, at=moment, next_review_on=next_review
        )

    class ReviewDecided(Aggregate.Event):
        """Declared rather than named, so that the outbox can match on it with a typed class.

        Version 2 added `next_review_on` (the day an adjourned review resumes, ISO text).
        Events stored by version 1 have none and are upcast when read (docs/event-versioning.md):
        the stored bytes are never rewritten."""

        class_version = 2

        decision: Decision
        by: str
        notes: str
        at: datetime
        next_review_on: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # A version-1 decision said nothing of a next review.
            state["next_review_on"] = None

    @event(ReviewDecided)
    def _record_review_decision(
        self, decision: str, by: str, notes: str, at: datetime, next_review_on: str | None
    ) -> None:
        self._decisions.append(
            {
                "decision": decision,
                "by": by,
                "notes": notes,
                "at": at,
                "next_review_on": next_review_on,
            }
        )
