"""Court domain model: court references, compliance pictures and review decisions (no I/O)."""

from accord_court.domain.court_case import (
    COURT_REFERENCE_PATTERN,
    DECISIONS,
    FINAL_DECISIONS,
    CourtCase,
    court_reference_of,
)
from accord_court.domain.court_references import CourtReferences
from accord_court.domain.errors import CourtError, InvalidState, ValidationFailed

__all__ = [
    "COURT_REFERENCE_PATTERN",
    "DECISIONS",
    "FINAL_DECISIONS",
    "CourtCase",
    "CourtError",
    "CourtReferences",
    "InvalidState",
    "ValidationFailed",
    "court_reference_of",
]
