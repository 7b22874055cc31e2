"""RJ provider domain model: facilitators and RJ cases (no I/O)."""

from accord_conference.domain.errors import (
    ConferenceError,
    EndorsementInvalid,
    GateRefused,
    InvalidState,
    ItemAlreadyReported,
    UnknownItem,
    UnknownStopReason,
    ValidationFailed,
)
from accord_conference.domain.facilitator import Facilitator
from accord_conference.domain.rj_case import (
    MODALITIES,
    PARTICIPANTS,
    STATUSES,
    STOP_REASONS,
    TERMINAL,
    RJCase,
)

__all__ = [
    "MODALITIES",
    "PARTICIPANTS",
    "STATUSES",
    "STOP_REASONS",
    "TERMINAL",
    "ConferenceError",
    "EndorsementInvalid",
    "Facilitator",
    "GateRefused",
    "InvalidState",
    "ItemAlreadyReported",
    "RJCase",
    "UnknownItem",
    "UnknownStopReason",
    "ValidationFailed",
]
