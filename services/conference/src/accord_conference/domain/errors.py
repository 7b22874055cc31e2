"""Domain errors of the RJ provider.

Each error carries a stable machine `code` and a `details` dict. The API layer maps them onto
RFC 9457 problem documents by `http_status` (422 validation, 409 state conflict) without having
to know every individual code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ConferenceError(Exception):
    code: ClassVar[str] = "conference_error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class ValidationFailed(ConferenceError):
    """A command argument is malformed or outside its controlled vocabulary."""

    code = "validation_failed"
    http_status = 422


class UnknownStopReason(ValidationFailed):
    code = "unknown_stop_reason"


class UnknownItem(ValidationFailed):
    """The agreement has no item with the given id."""

    code = "unknown_item"


class InvalidState(ConferenceError):
    """The case's current stage does not allow the command; `details["state"]` names it."""

    code = "invalid_state"
    http_status = 409


class EndorsementInvalid(ConferenceError):
    """The facilitator holds no valid family-violence endorsement (or accreditation) today."""

    code = "endorsement_invalid"
    http_status = 409


class GateRefused(ConferenceError):
    """Scheduling refused; `details["failed"]` lists every failed gate condition."""

    code = "gate_refused"
    http_status = 409


class ItemAlreadyReported(ConferenceError):
    """An agreement item is completed or breached once; a second report would rewrite history."""

    code = "item_already_reported"
    http_status = 409
