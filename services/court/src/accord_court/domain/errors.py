"""Domain errors of the court service.

Each error carries a stable machine `code` and a `details` dict; the API layer maps them onto
RFC 9457 problem documents by `http_status` (422 validation, 409 state conflict).
"""

from __future__ import annotations

from typing import Any, ClassVar


class CourtError(Exception):
    code: ClassVar[str] = "court_error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class ValidationFailed(CourtError):
    """A command argument is malformed or outside its controlled vocabulary."""

    code = "validation_failed"
    http_status = 422


class InvalidState(CourtError):
    """The court case's current state does not allow the command; `details["state"]` names it."""

    code = "invalid_state"
    http_status = 409
