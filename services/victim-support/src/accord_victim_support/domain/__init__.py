"""Victim-services domain model: victim record, consents and emergency access (no I/O)."""

from accord_victim_support.domain.consent import Consent, active_provisions, summary
from accord_victim_support.domain.emergency import EmergencyAccess
from accord_victim_support.domain.errors import (
    InvalidPeriod,
    InvalidState,
    JustificationRequired,
    NotPermitted,
    NotSeenAlone,
    ReasonRequired,
    UnknownAgency,
    UnknownDataClass,
    UnknownPurpose,
    UnknownSafetyFlag,
    ValidationFailed,
    VictimSupportError,
)
from accord_victim_support.domain.victim import VictimRecord

__all__ = [
    "Consent",
    "EmergencyAccess",
    "InvalidPeriod",
    "InvalidState",
    "JustificationRequired",
    "NotPermitted",
    "NotSeenAlone",
    "ReasonRequired",
    "UnknownAgency",
    "UnknownDataClass",
    "UnknownPurpose",
    "UnknownSafetyFlag",
    "ValidationFailed",
    "VictimRecord",
    "VictimSupportError",
    "active_provisions",
    "summary",
]
