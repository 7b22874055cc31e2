"""Domain errors of victim services.

Each error carries a stable machine `code` and a `details` dict; the API layer maps the three
families onto RFC 9457 problem documents by `http_status` (422 validation, 409 state conflict,
403 not permitted) without having to know every individual code.
"""

from __future__ import annotations

from accord_kernel import domain_rules as rules


class VictimSupportError(rules.DomainError):
    """Everything the victim-services domain refuses: one class for its API and inbox to catch."""

    code = "victim_support_error"


# The kernel's class comes first so that its code and HTTP status win over the base's.
class ValidationFailed(rules.ValidationFailed, VictimSupportError):
    """A command argument is malformed or outside its controlled vocabulary."""


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


class InvalidState(rules.InvalidState, VictimSupportError):
    """The aggregate's current state does not allow the command (e.g. withdrawing twice)."""


class NotPermitted(rules.NotPermitted, VictimSupportError):
    """The actor may never do this, whatever the state (e.g. break-glass by a non-supervisor)."""
