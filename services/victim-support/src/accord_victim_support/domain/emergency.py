"""Emergency (break-glass) access: another agency's supervisor obtains location data or safety
flags without consent, for a short fixed time, with a coded reason and a written justification
that a privacy officer later reviews. Notifying victim services and opening the review task
are reactions to the `Granted` event, not part of this model.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from accord_victim_support.domain.errors import (
    InvalidState,
    JustificationRequired,
    NotPermitted,
    ReasonRequired,
    ValidationFailed,
)
from accord_victim_support.domain.vocabulary import (
    checks,
    require_agency,
    require_data_classes,
)

REASON_CODES: tuple[str, ...] = (
    "imminent_risk_to_life",
    "missing_person",
    "safeguarding_child",
    "serious_crime_prevention",
)
BREAK_GLASS_CLASSES: frozenset[str] = frozenset({"victim.location", "safety.flags"})
# Victim services already hold the data; a court must never receive location data.
EXCLUDED_AGENCIES: frozenset[str] = frozenset({"victim_services", "court"})
REQUIRED_ROLE = "supervisor"
DEFAULT_DURATION_MINUTES = 60
MAX_DURATION_MINUTES = 240
MIN_JUSTIFICATION_CHARS = 20
JUSTIFICATION_MAX = 4_000
REVIEW_OUTCOMES: tuple[str, ...] = ("justified", "not_justified")


def _break_glass_classes(value: Iterable[str]) -> list[str]:
    classes = require_data_classes(value, allow_empty=False)
    beyond = [c for c in classes if c not in BREAK_GLASS_CLASSES]
    if beyond:
        raise NotPermitted(
            "break-glass reaches only victim.location and safety.flags",
            {"data_classes": beyond, "allowed": sorted(BREAK_GLASS_CLASSES)},
        )
    return classes


class EmergencyAccess(Aggregate):
    if TYPE_CHECKING:  # made at class creation by @event("Granted") on __init__ below
        Granted: ClassVar[type[Aggregate.Created]]
        ReviewCompleted: ClassVar[type[Aggregate.Event]]

    @classmethod
    def request(
        cls,
        *,
        id: UUID,
        case_id: str,
        agency: str,
        user: str,
        role: str,
        reason_code: str | None,
        justification: str | None,
        data_classes: Iterable[str],
        requested_at: datetime,
        duration_minutes: int = DEFAULT_DURATION_MINUTES,
    ) -> EmergencyAccess:
        """Checks who is asking before what they ask for, so a caller without the standing to
        break glass learns nothing from finer-grained validation errors."""
        if not isinstance(id, UUID):
            raise ValidationFailed("id must be a UUID", {"field": "id"})
        if role != REQUIRED_ROLE:
            raise NotPermitted(
                "only a supervisor may use emergency access",
                {"role": role if isinstance(role, str) else None, "required": REQUIRED_ROLE},
            )
        agency = require_agency(agency)
        if agency in EXCLUDED_AGENCIES:
            raise NotPermitted(
                f"agency {agency} may not use emergency access",
                {"agency": agency},
            )
        if not isinstance(reason_code, str) or reason_code not in REASON_CODES:
            raise ReasonRequired(
                "a reason code is required",
                {
                    "reason_code": reason_code if isinstance(reason_code, str) else None,
                    "allowed": list(REASON_CODES),
                },
            )
        if (
            not isinstance(justification, str)
            or len(justification.strip()) < MIN_JUSTIFICATION_CHARS
        ):
            raise JustificationRequired(
                f"a justification of at least {MIN_JUSTIFICATION_CHARS} characters is required",
                {"min_length": MIN_JUSTIFICATION_CHARS},
            )
        if len(justification) > JUSTIFICATION_MAX:
            raise ValidationFailed(
                f"justification must be at most {JUSTIFICATION_MAX} characters",
                {"field": "justification", "max_length": JUSTIFICATION_MAX},
            )
        if (
            isinstance(duration_minutes, bool)
            or not isinstance(duration_minutes, int)
            or not 0 < duration_minutes <= MAX_DURATION_MINUTES
        ):
            raise ValidationFailed(
                f"duration_minutes must be from 1 to {MAX_DURATION_MINUTES}",
                {"field": "duration_minutes", "max": MAX_DURATION_MINUTES},
            )
        requested_at = checks.require_moment(requested_at, "requested_at")
        return cls(
            id=id,
            case_id=checks.require_text(case_id, "case_id", max_length=64),
            agency=agency,
            user=checks.require_text(user, "user", max_length=200),
            role=role,
            reason_code=reason_code,
            justification=justification.strip(),
            data_classes=_break_glass_classes(data_classes),
            requested_at=requested_at,
            duration_minutes=duration_minutes,
            expires_at=requested_at + timedelta(minutes=duration_minutes),
        )

    @event("Granted")
    def __init__(
        self,
        id: UUID,
        case_id: str,
        agency: str,
        user: str,
        role: str,
        reason_code: str,
        justification: str,
        data_classes: list[str],
        requested_at: datetime,
        duration_minutes: int,
        expires_at: datetime,
    ) -> None:
        self.case_id = case_id
        self.agency = agency
        self.user = user
        self.role = role
        self.reason_code = reason_code
        self.justification = justification
        self.data_classes = list(data_classes)
        self.requested_at = requested_at
        self.duration_minutes = duration_minutes
        self.expires_at = expires_at
        self.reviewer: str | None = None
        self.review_outcome: str | None = None
        self.review_notes: str | None = None
        self.reviewed_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        now = checks.require_moment(now, "now")
        return self.requested_at <= now < self.expires_at

    def covers(self, data_class: str, now: datetime) -> bool:
        return self.is_active(now) and data_class in self.data_classes

    @property
    def review_pending(self) -> bool:
        return self.review_outcome is None

    def review_summary(self) -> dict[str, Any]:
        return {
            "pending": self.review_pending,
            "reviewer": self.reviewer,
            "outcome": self.review_outcome,
            "at": self.reviewed_at,
        }

    def complete_review(self, reviewer: str, outcome: str, notes: str | None, at: datetime) -> None:
        if not self.review_pending:
            raise InvalidState(
                "the review is already complete",
                {"state": f"reviewed_{self.review_outcome}"},
            )
        reviewer = checks.require_text(reviewer, "reviewer", max_length=200)
        if reviewer == self.user:
            # Nobody reviews their own emergency access.
            raise NotPermitted(
                "the user who used emergency access cannot review it",
                {"reviewer": reviewer},
            )
        self._complete_review(
            reviewer=reviewer,
            outcome=checks.require_choice(outcome, "outcome", REVIEW_OUTCOMES),
            notes=checks.optional_text(notes, "notes", max_length=JUSTIFICATION_MAX),
            at=checks.require_moment(at, "at"),
        )

    @event("ReviewCompleted")
    def _complete_review(
        self,
        reviewer: str,
        outcome: str,
        notes: str | None,
        at: datetime,
    ) -> None:
        self.reviewer = reviewer
        self.review_outcome = outcome
        self.review_notes = notes
        self.reviewed_at = at
