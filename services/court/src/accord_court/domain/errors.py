"""Domain errors of the court service.

Each error carries a stable machine `code` and a `details` dict; the API layer maps them onto
RFC 9457 problem documents by `http_status` (422 validation, 409 state conflict).
"""

from __future__ import annotations

from accord_kernel import domain_rules as rules


class CourtError(rules.DomainError):
    """Everything the court domain refuses: one class for its API and inbox to catch."""

    code = "court_error"


# The kernel's class comes first so that its code and HTTP status win over the base's.
class ValidationFailed(rules.ValidationFailed, CourtError):
    """A command argument is malformed or outside its controlled vocabulary."""


class InvalidState(rules.InvalidState, CourtError):
    """The court case's current state does not allow the command; `details["state"]` names it."""
