"""Domain errors of the court service.

Each error carries a stable machine `code` and a `details` dict; the API layer maps them onto
RFC 9457 problem documents by `http_status` (422 validation, 409 state conflict).

Each family class lists the kernel's class first, so that its `code` and `http_status`
win over the service base's, while `except <base>` still catches it.
"""

from __future__ import annotations

from accord_kernel import domain_rules as rules


class CourtError(rules.DomainError):
    """Everything this service's domain refuses; its API and inbox catch this one class."""

    code = "court_error"


class ValidationFailed(rules.ValidationFailed, CourtError):
    """A command argument is malformed or outside its controlled vocabulary."""


class InvalidState(rules.InvalidState, CourtError):
    """The court case's current state does not allow the command; `details["state"]` names it."""
