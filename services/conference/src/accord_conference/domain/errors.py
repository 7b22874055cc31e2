"""Domain errors of the RJ provider.

Each error carries a stable machine `code` and a `details` dict. The API layer maps them onto
RFC 9457 problem documents by `http_status` (422 validation, 409 state conflict) without having
to know every individual code.
"""

from __future__ import annotations

from accord_kernel import domain_rules as rules


class ConferenceError(rules.DomainError):
    """Everything the RJ provider's domain refuses: one class for its API and inbox to catch."""

    code = "conference_error"


# The kernel's class comes first so that its code and HTTP status win over the base's.
class ValidationFailed(rules.ValidationFailed, ConferenceError):
    """A command argument is malformed or outside its controlled vocabulary."""


class UnknownStopReason(ValidationFailed):
    code = "unknown_stop_reason"


class UnknownItem(ValidationFailed):
    """The agreement has no item with the given id."""

    code = "unknown_item"


class InvalidState(rules.InvalidState, ConferenceError):
    """The case's current stage does not allow the command; `details["state"]` names it."""


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
