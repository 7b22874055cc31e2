"""Court domain model: court references, compliance pictures and review decisions (no I/O)."""

from accord_court.domain.court_case import DECISIONS, FINAL_DECISIONS, CourtCase
from accord_court.domain.errors import CourtError, InvalidState, ValidationFailed

__all__ = [
    "DECISIONS",
    "FINAL_DECISIONS",
    "CourtCase",
    "CourtError",
    "InvalidState",
    "ValidationFailed",
]
