"""Domain errors of victim services.

Each error carries a stable machine `code` and a `details` dict; the API layer maps the three
families onto RFC 9457 problem documents by `http_status` (422 validation, 409 state conflict,
403 not permitted) without having to know every individual code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VictimSupportError(Exception):
    code: ClassVar[str] = "victim_support_error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class ValidationFailed(VictimSupportError):
    """A command argument is malformed or outside its controlled vocabulary."""

    code = "validation_failed"
    http_status = 422


class UnknownSafetyFlag(ValidationFailed):
    code = "unknown_safety_flag"


class UnknownAgency(ValidationFailed):
    code = "unknown_agency"


class UnknownPurpose(ValidationFailed):
    code = "unknown_purpose"


class UnknownDataClass(ValidationFailed):
    code = "unknown_data_class"


class InvalidPeriod(ValidationFailed):
    code = "invalid_period"


class NotSeenAlone(ValidationFailed):
    """Consent taken in the presence of someone else may be coerced, so it is never recorded."""

    code = "not_seen_alone"


class ReasonRequired(ValidationFailed):
    code = "reason_required"


class JustificationRequired(ValidationFailed):
    code = "justification_required"


class InvalidState(VictimSupportError):
    """The aggregate's current state does not allow the command (e.g. withdrawing twice)."""

    code = "invalid_state"
    http_status = 409


class NotPermitted(VictimSupportError):
    """The actor may never do this, whatever the state (e.g. break-glass by a non-supervisor)."""

    code = "not_permitted"
    http_status = 403
