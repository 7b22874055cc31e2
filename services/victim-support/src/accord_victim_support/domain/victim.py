"""The victim record held by victim services (IDVA / advocates).

Location fields (`address`, `safe_contact_number`, `refuge`) are the data class
`victim.location`; the safety plan's content is `safety.plan` and only its existence and
review date (`safety.plan.summary`) are shareable. This module never decides who may see what:
it only keeps the facts the policy decides on.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from accord_victim_support.domain.errors import InvalidState, UnknownSafetyFlag, ValidationFailed
from accord_victim_support.domain.vocabulary import (
    CONTACT_METHODS,
    RISK_BANDS,
    SAFETY_FLAG_CODES,
    SEVERITIES,
    checks,
    optional_phone,
)

NAME_MAX = 200
ADDRESS_MAX = 500
LANGUAGE_MAX = 35  # longest practical BCP 47 tag
NOTE_MAX = 10_000
CHILD_NEEDS_MAX = 1_000
ADULT_AGE = 18


def _children(value: object) -> list[dict[str, Any]]:
    """Children are recorded by age and needs only: names are not needed to safeguard them, so
    any other key is refused rather than silently stored."""
    children: list[dict[str, Any]] = []
    for index, child in enumerate(checks.require_list(value, "children")):
        field = f"children[{index}]"
        if not isinstance(child, Mapping):
            raise ValidationFailed(f"{field} must be an object", {"field": field})
        extra = sorted(set(child) - {"age", "needs"})
        if extra:
            raise ValidationFailed(
                f"{field} may hold only age and needs",
                {"field": field, "unexpected": extra},
            )
        age = child.get("age")
        if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age < ADULT_AGE:
            raise ValidationFailed(
                f"{field}.age must be a whole number from 0 to {ADULT_AGE - 1}",
                {"field": f"{field}.age"},
            )
        needs = child.get("needs", "")
        if not isinstance(needs, str) or len(needs) > CHILD_NEEDS_MAX:
            raise ValidationFailed(
                f"{field}.needs must be text of at most {CHILD_NEEDS_MAX} characters",
                {"field": f"{field}.needs"},
            )
        children.append({"age": age, "needs": needs.strip()})
    return children


def _flag_code(code: object) -> str:
    if not isinstance(code, str) or code not in SAFETY_FLAG_CODES:
        raise UnknownSafetyFlag(
            f"unknown safety flag code {code!r}",
            {"code": code if isinstance(code, str) else None, "allowed": list(SAFETY_FLAG_CODES)},
        )
    return code


class VictimRecord(Aggregate):
    """One victim's record for one case; the aggregate id is chosen by the caller."""

    if TYPE_CHECKING:  # made at class creation by the @event decorators below
        SafetyPlanRecorded: ClassVar[type[Aggregate.Event]]
        SafetyPlanRevised: ClassVar[type[Aggregate.Event]]

    @classmethod
    def register(
        cls,
        *,
        id: UUID,
        case_id: str,
        name: str,
        preferred_contact_method: str,
        registered_by: str,
        at: datetime,
        date_of_birth: date | None = None,
        address: str | None = None,
        safe_contact_number: str | None = None,
        refuge: bool = False,
        safe_contact_method: str | None = None,
        language: str = "en",
        interpreter_needed: bool = False,
        children: Sequence[Mapping[str, Any]] = (),
    ) -> VictimRecord:
        if not isinstance(id, UUID):
            raise ValidationFailed("id must be a UUID", {"field": "id"})
        return cls(
            id=id,
            case_id=checks.require_text(case_id, "case_id", max_length=64),
            name=checks.require_text(name, "name", max_length=NAME_MAX),
            date_of_birth=(
                None
                if date_of_birth is None
                else checks.require_day(date_of_birth, "date_of_birth").isoformat()
            ),
            address=checks.optional_text(address, "address", max_length=ADDRESS_MAX),
            safe_contact_number=optional_phone(safe_contact_number, "safe_contact_number"),
            refuge=checks.require_flag(refuge, "refuge"),
            preferred_contact_method=checks.require_choice(
                preferred_contact_method,
                "preferred_contact_method",
                CONTACT_METHODS,
            ),
            safe_contact_method=checks.optional_choice(
                safe_contact_method,
                "safe_contact_method",
                CONTACT_METHODS,
            ),
            language=checks.require_text(language, "language", max_length=LANGUAGE_MAX),
            interpreter_needed=checks.require_flag(interpreter_needed, "interpreter_needed"),
            children=_children(children),
            registered_by=checks.require_text(registered_by, "registered_by", max_length=200),
            at=checks.require_moment(at, "at"),
        )

    @event("Registered")
    def __init__(
        self,
        id: UUID,
        case_id: str,
        name: str,
        date_of_birth: str | None,
        address: str | None,
        safe_contact_number: str | None,
        refuge: bool,
        preferred_contact_method: str,
        safe_contact_method: str | None,
        language: str,
        interpreter_needed: bool,
        children: list[dict[str, Any]],
        registered_by: str,
        at: datetime,
    ) -> None:
        self.case_id = case_id
        self.name = name
        # Kept as ISO text so the aggregate state stays serialisable for snapshots.
        self._date_of_birth = date_of_birth
        self.address = address
        self.safe_contact_number = safe_contact_number
        self.refuge = refuge
        self.preferred_contact_method = preferred_contact_method
        self.safe_contact_method = safe_contact_method
        self.language = language
        self.interpreter_needed = interpreter_needed
        self._children = children
        self._support_notes: list[dict[str, Any]] = []
        self._flags: dict[str, dict[str, Any]] = {}
        self._safety_plan_content: str | None = None
        self._safety_plan_review_date: str | None = None
        self.safety_plan_revision = 0
        self.safety_plan_updated_by: str | None = None
        self.safety_plan_updated_at: datetime | None = None
        self.risk_band: str | None = None
        self.risk_band_noted_at: datetime | None = None
        self.registered_by = registered_by
        self.registered_at = at
        self.location_updated_at = at

    # --- identity and contact ---------------------------------------------------------------
    @property
    def date_of_birth(self) -> date | None:
        return None if self._date_of_birth is None else date.fromisoformat(self._date_of_birth)

    @property
    def children(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._children)

    def update_location(
        self,
        *,
        address: str | None,
        safe_contact_number: str | None,
        refuge: bool,
        by: str,
        at: datetime,
    ) -> None:
        """Replaces the whole location: a partial update could leave an old address standing
        beside a new refuge, which is exactly the stale location that gets someone hurt."""
        self._update_location(
            address=checks.optional_text(address, "address", max_length=ADDRESS_MAX),
            safe_contact_number=optional_phone(safe_contact_number, "safe_contact_number"),
            refuge=checks.require_flag(refuge, "refuge"),
            by=checks.require_text(by, "by", max_length=200),
            at=checks.require_moment(at, "at"),
        )

    @event("LocationUpdated")
    def _update_location(
        self,
        address: str | None,
        safe_contact_number: str | None,
        refuge: bool,
        by: str,
        at: datetime,
    ) -> None:
        self.address = address
        self.safe_contact_number = safe_contact_number
        self.refuge = refuge
        self.location_updated_at = at

    def update_contact(
        self,
        *,
        preferred_contact_method: str,
        safe_contact_method: str | None,
        language: str,
        interpreter_needed: bool,
        by: str,
        at: datetime,
    ) -> None:
        self._update_contact(
            preferred_contact_method=checks.require_choice(
                preferred_contact_method,
                "preferred_contact_method",
                CONTACT_METHODS,
            ),
            safe_contact_method=checks.optional_choice(
                safe_contact_method,
                "safe_contact_method",
                CONTACT_METHODS,
            ),
            language=checks.require_text(language, "language", max_length=LANGUAGE_MAX),
            interpreter_needed=checks.require_flag(interpreter_needed, "interpreter_needed"),
            by=checks.require_text(by, "by", max_length=200),
            at=checks.require_moment(at, "at"),
        )

    @event("ContactUpdated")
    def _update_contact(
        self,
        preferred_contact_method: str,
        safe_contact_method: str | None,
        language: str,
        interpreter_needed: bool,
        by: str,
        at: datetime,
    ) -> None:
        self.preferred_contact_method = preferred_contact_method
        self.safe_contact_method = safe_contact_method
        self.language = language
        self.interpreter_needed = interpreter_needed

    def update_children(
        self,
        *,
        children: Sequence[Mapping[str, Any]],
        by: str,
        at: datetime,
    ) -> None:
        self._update_children(
            children=_children(children),
            by=checks.require_text(by, "by", max_length=200),
            at=checks.require_moment(at, "at"),
        )

    @event("ChildrenUpdated")
    def _update_children(self, children: list[dict[str, Any]], by: str, at: datetime) -> None:
        self._children = children

    # --- support notes ----------------------------------------------------------------------
    @property
    def support_notes(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._support_notes)

    def add_support_note(self, *, text: str, by: str, at: datetime) -> None:
        self._add_support_note(
            text=checks.require_text(text, "text", max_length=NOTE_MAX),
            by=checks.require_text(by, "by", max_length=200),
            at=checks.require_moment(at, "at"),
        )

    @event("SupportNoteAdded")
    def _add_support_note(self, text: str, by: str, at: datetime) -> None:
        self._support_notes.append({"at": at, "by": by, "text": text})

    # --- safety flags -----------------------------------------------------------------------
    @property
    def safety_flags(self) -> list[dict[str, Any]]:
        """Flags currently raised, each {code, severity, raised_by, raised_at}, by code."""
        return [copy.deepcopy(self._flags[code]) for code in sorted(self._flags)]

    def has_flag(self, code: str) -> bool:
        return _flag_code(code) in self._flags

    def raise_flag(self, code: str, severity: str, raised_by: str, at: datetime) -> None:
        """Raising a flag that is already up records the new severity as a new event, so the
        history shows every reassessment of the danger rather than only the latest one."""
        self._raise_flag(
            code=_flag_code(code),
            severity=checks.require_choice(severity, "severity", SEVERITIES),
            raised_by=checks.require_text(raised_by, "raised_by", max_length=200),
            at=checks.require_moment(at, "at"),
        )

    @event("SafetyFlagRaised")
    def _raise_flag(self, code: str, severity: str, raised_by: str, at: datetime) -> None:
        self._flags[code] = {
            "code": code,
            "severity": severity,
            "raised_by": raised_by,
            "raised_at": at,
        }

    def clear_flag(self, code: str, cleared_by: str, reason: str, at: datetime) -> None:
        code = _flag_code(code)
        if code not in self._flags:
            raise InvalidState(
                f"safety flag {code} is not raised",
                {"code": code, "state": "not_raised"},
            )
        self._clear_flag(
            code=code,
            cleared_by=checks.require_text(cleared_by, "cleared_by", max_length=200),
            reason=checks.require_text(reason, "reason", max_length=NOTE_MAX),
            at=checks.require_moment(at, "at"),
        )

    @event("SafetyFlagCleared")
    def _clear_flag(self, code: str, cleared_by: str, reason: str, at: datetime) -> None:
        del self._flags[code]

    # --- safety plan ------------------------------------------------------------------------
    @property
    def safety_plan_exists(self) -> bool:
        return self._safety_plan_content is not None

    @property
    def safety_plan_review_date(self) -> date | None:
        if self._safety_plan_review_date is None:
            return None
        return date.fromisoformat(self._safety_plan_review_date)

    @property
    def safety_plan_content(self) -> str | None:
        """Data class `safety.plan`: for victim services, never part of the shareable summary."""
        return self._safety_plan_content

    def safety_plan_summary(self) -> dict[str, Any]:
        """The shareable facts (`safety.plan.summary`) and nothing else."""
        return {"exists": self.safety_plan_exists, "review_date": self.safety_plan_review_date}

    def record_safety_plan(self, content: str, review_date: date, by: str, at: datetime) -> None:
        if self.safety_plan_exists:
            raise InvalidState(
                "a safety plan is already recorded; revise it instead",
                {"state": "safety_plan_recorded"},
            )
        self._record_safety_plan(**self._safety_plan_args(content, review_date, by, at))

    def revise_safety_plan(self, content: str, review_date: date, by: str, at: datetime) -> None:
        if not self.safety_plan_exists:
            raise InvalidState(
                "there is no safety plan to revise",
                {"state": "no_safety_plan"},
            )
        self._revise_safety_plan(**self._safety_plan_args(content, review_date, by, at))

    @staticmethod
    def _safety_plan_args(
        content: str,
        review_date: date,
        by: str,
        at: datetime,
    ) -> dict[str, Any]:
        at = checks.require_moment(at, "at")
        review_day = checks.require_day(review_date, "review_date")
        if review_day < at.date():
            # A plan whose review is already overdue when written gives false reassurance.
            raise ValidationFailed(
                "review_date must not be before the day the plan is recorded",
                {"field": "review_date"},
            )
        return {
            "content": checks.require_text(content, "content", max_length=NOTE_MAX * 5),
            "review_date": review_day.isoformat(),
            "by": checks.require_text(by, "by", max_length=200),
            "at": at,
        }

    @event("SafetyPlanRecorded")
    def _record_safety_plan(self, content: str, review_date: str, by: str, at: datetime) -> None:
        self._apply_safety_plan(content, review_date, by, at)

    @event("SafetyPlanRevised")
    def _revise_safety_plan(self, content: str, review_date: str, by: str, at: datetime) -> None:
        self._apply_safety_plan(content, review_date, by, at)

    def _apply_safety_plan(self, content: str, review_date: str, by: str, at: datetime) -> None:
        self._safety_plan_content = content
        self._safety_plan_review_date = review_date
        self.safety_plan_revision += 1
        self.safety_plan_updated_by = by
        self.safety_plan_updated_at = at

    # --- risk -------------------------------------------------------------------------------
    @property
    def statutory_safeguarding_applies(self) -> bool:
        """High risk lets safety flags go to police without consent (lawful basis
        `safeguarding`); the policy makes that decision, this is the fact it needs."""
        return self.risk_band == "high"

    def note_risk_band(self, band: str, at: datetime) -> bool:
        """Records the case's latest known DASH band. Assessments can arrive out of order over
        the bus, so one older than the band already known is ignored (returns False) rather
        than letting a stale lower band switch statutory sharing off."""
        band = checks.require_choice(band, "band", RISK_BANDS)
        at = checks.require_moment(at, "at")
        if self.risk_band_noted_at is not None and at < self.risk_band_noted_at:
            return False
        self._note_risk_band(band=band, at=at)
        return True

    @event("RiskBandNoted")
    def _note_risk_band(self, band: str, at: datetime) -> None:
        self.risk_band = band
        self.risk_band_noted_at = at
