"""The error shape and argument checks every service's domain model shares.

Standard library only: domain models import this module, and they must stay free of frameworks
and I/O. Each service subclasses the errors under its own base class, so that `except
ReferralError` (and the like) in its API and inbox keeps catching everything its domain refuses,
while the API layer can still map any of them onto an RFC 9457 problem document by `code` and
`http_status` alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar, Literal, TypeVar, get_args

# Why a case record is read (SPEC section 4): the policy decides each read for one of these, and
# a consent names the ones it permits.
Purpose = Literal[
    "case_management",
    "safeguarding",
    "compliance_review",
    "offender_communication",
    "emergency",
    "audit",
]
PURPOSES: tuple[str, ...] = get_args(Purpose)

# The bound most names, references and short codes are held to unless a command says otherwise.
TEXT_MAX = 200

# A vocabulary's own string type (str, or a Literal of its codes): a choice checked against a
# tuple of them is returned as that type.
Choice = TypeVar("Choice", bound=str)


class DomainError(Exception):
    """A command refused by a domain model, with a stable machine `code` and `details`.

    The one hierarchy of refusals: every service's errors derive from it, and one handler
    (`accord_kernel.problems`) answers each with its `http_status`, the same for one kind in
    every service. `title`, where a class sets one, is the problem's title and the message its
    detail; otherwise the message is the title."""

    code: ClassVar[str] = "domain_error"
    http_status: ClassVar[int] = 400
    title: ClassVar[str | None] = None

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Copied so that a caller reusing its dict cannot alter an error already raised.
        self.details: dict[str, Any] = dict(details or {})


class ValidationFailed(DomainError):
    """A command argument is malformed or outside its controlled vocabulary."""

    code = "validation_failed"
    http_status = 422


class InvalidState(DomainError):
    """The aggregate's current state does not allow the command; `details` names the state."""

    code = "invalid_state"
    http_status = 409


class NotPermitted(DomainError):
    """The actor may never do this, whatever the state."""

    code = "not_permitted"
    http_status = 403


class NotFound(DomainError):
    """No such record, or one that belongs to another organisation: the answer is the same
    (SPEC 4a), so `what` names the record for logs and never reaches the client."""

    code = "not_found"
    http_status = 404

    def __init__(self, what: str = "record") -> None:
        super().__init__(f"no such {what}")
        self.what = what


class VersionConflict(DomainError):
    """The caller's expected version (If-Match or expected_version) is not the record's
    current one: 412 in every service, with the current version."""

    code = "version_conflict"
    http_status = 412
    title = "The record has changed"

    def __init__(self, current: int) -> None:
        super().__init__(
            "Re-read it and retry with its current version.", {"current_version": current}
        )
        self.current = current


class AlreadyExists(DomainError):
    """A create command for something that exists."""

    code = "already_exists"
    http_status = 409

    def __init__(self, what: str) -> None:
        super().__init__(f"The {what} already exists")
        self.what = what


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was first used for a different request."""

    code = "idempotency_key_reused"
    http_status = 422
    title = "Idempotency-Key already used"

    def __init__(self, key: str = "") -> None:
        super().__init__(
            "This Idempotency-Key was used for a different request; use a new key for a new "
            "request."
        )
        self.key = key


class ArgumentChecks:
    """The checks commands run on their arguments before any event is triggered.

    Bound to one service's `ValidationFailed` subclass, because a refusal must be caught by that
    service's own `except <Service>Error`; the same check raising a foreign class would escape
    its API and inbox as an unhandled exception.
    """

    __slots__ = ("_refusal",)

    def __init__(self, refusal: type[ValidationFailed]) -> None:
        if not (isinstance(refusal, type) and issubclass(refusal, ValidationFailed)):
            raise TypeError("argument checks refuse with a ValidationFailed subclass")
        self._refusal = refusal

    def require_text(self, value: object, field: str, *, max_length: int = TEXT_MAX) -> str:
        """Non-blank text of at most `max_length` characters, returned without the padding."""
        if not isinstance(value, str) or not value.strip():
            raise self._refusal(f"{field} must be non-empty text", {"field": field})
        if len(value) > max_length:
            raise self._refusal(
                f"{field} must be at most {max_length} characters",
                {"field": field, "max_length": max_length},
            )
        return value.strip()

    def optional_text(
        self,
        value: object,
        field: str,
        *,
        max_length: int = TEXT_MAX,
    ) -> str | None:
        """None stays None; anything else must be text as `require_text` demands, so that an
        empty string is never stored as if it were an answer."""
        if value is None:
            return None
        return self.require_text(value, field, max_length=max_length)

    def require_choice(self, value: object, field: str, choices: tuple[Choice, ...]) -> Choice:
        # A tuple, not any sequence: `in` on a string would accept any of its substrings.
        if isinstance(value, str):
            for choice in choices:
                if value == choice:
                    return choice
        raise self._refusal(
            f"{field} must be one of {', '.join(choices)}",
            {
                "field": field,
                "value": value if isinstance(value, str) else None,
                "allowed": list(choices),
            },
        )

    def optional_choice(
        self,
        value: object,
        field: str,
        choices: tuple[Choice, ...],
    ) -> Choice | None:
        if value is None:
            return None
        return self.require_choice(value, field, choices)

    def require_flag(self, value: object, field: str) -> bool:
        # Checked strictly so that a truthy string such as "false" is never taken as True.
        if not isinstance(value, bool):
            raise self._refusal(f"{field} must be true or false", {"field": field})
        return value

    def require_moment(self, value: object, field: str) -> datetime:
        """Naive datetimes cannot be ordered against aware ones, and a period that silently
        shifts by a timezone offset could let data out after it ends, so only aware ones pass."""
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise self._refusal(f"{field} must be a timezone-aware datetime", {"field": field})
        return value

    def require_day(self, value: object, field: str) -> date:
        # A datetime is a date subclass; accepting one would silently drop its time and zone.
        if not isinstance(value, date) or isinstance(value, datetime):
            raise self._refusal(f"{field} must be a calendar date", {"field": field})
        return value

    def require_iso_day(self, value: object, field: str) -> str:
        """Dates inside event payloads travel as ISO text: the default transcoder has no `date`.
        Accepts a `date` or ISO text and returns the canonical ISO form."""
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise self._refusal(f"{field} must be an ISO calendar date", {"field": field})

    def require_list(self, value: object, field: str) -> Sequence[object]:
        # A bare string is a sequence too; taken item by item it would invent one-letter entries.
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise self._refusal(f"{field} must be a list", {"field": field})
        return value

    def require_record(
        self,
        value: object,
        field: str,
        keys: frozenset[str],
    ) -> Mapping[str, Any]:
        """An object with exactly `keys`: an unknown key is refused rather than silently
        dropped, because it usually means the caller put data in the wrong place."""
        if not isinstance(value, Mapping):
            raise self._refusal(f"{field} must be an object", {"field": field})
        missing = sorted(keys - set(value))
        extra = sorted(set(value) - keys)
        if missing or extra:
            raise self._refusal(
                f"{field} must have exactly {', '.join(sorted(keys))}",
                {"field": field, "missing": missing, "unexpected": extra},
            )
        return value
