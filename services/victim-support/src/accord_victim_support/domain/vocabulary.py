"""Controlled vocabularies of victim services and the checks every command shares.

The values mirror SPEC section 4 and the OPA policy data: a code accepted here must be one the
policy understands, otherwise a consent could be recorded that no decision ever honours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from accord_victim_support.domain.errors import (
    UnknownAgency,
    UnknownDataClass,
    UnknownPurpose,
    ValidationFailed,
)

AGENCIES: tuple[str, ...] = ("police", "rj_provider", "court", "victim_services")
PURPOSES: tuple[str, ...] = (
    "case_management", "safeguarding", "compliance_review", "offender_communication",
    "emergency", "audit",
)
DATA_CLASSES: tuple[str, ...] = (
    "case.core", "party.identity", "victim.location", "offence.details", "risk.assessment",
    "risk.band", "safety.flags", "safety.plan", "safety.plan.summary", "support.notes",
    "consent.summary", "conference.notes", "agreement.items", "compliance.status",
)
SAFETY_FLAG_CODES: tuple[str, ...] = (
    "strangulation_history", "threats_to_kill", "stalking", "weapon_access",
    "children_at_risk", "protective_order_in_force", "address_confidential",
)
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
# The DASH bands produced by the referral service.
RISK_BANDS: tuple[str, ...] = ("standard", "medium", "high")
CONTACT_METHODS: tuple[str, ...] = (
    "phone", "sms", "email", "letter", "in_person", "via_advocate",
)

# Same textual form as the `now` the policy enforcement point sends, so the policy can compare
# provision periods with `now` either lexically or after parsing.
POLICY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{2,39}$")


def policy_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(POLICY_TIME_FORMAT)


def require_moment(value: object, field: str) -> datetime:
    """Naive datetimes cannot be ordered against aware ones, and a consent period that silently
    shifts by a timezone offset could leak data after expiry, so only aware datetimes pass."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(
            f"{field} must be a timezone-aware datetime", {"field": field},
        )
    return value


def require_day(value: object, field: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationFailed(f"{field} must be a calendar date", {"field": field})
    return value


def require_text(value: object, field: str, *, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{field} must be non-empty text", {"field": field})
    if len(value) > max_length:
        raise ValidationFailed(
            f"{field} must be at most {max_length} characters",
            {"field": field, "max_length": max_length},
        )
    return value.strip()


def optional_text(value: object, field: str, *, max_length: int) -> str | None:
    if value is None:
        return None
    return require_text(value, field, max_length=max_length)


def require_flag(value: object, field: str) -> bool:
    # bool is checked strictly so that truthy strings such as "false" are not taken as True.
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false", {"field": field})
    return value


def require_choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationFailed(
            f"{field} must be one of {', '.join(choices)}",
            {"field": field, "value": value if isinstance(value, str) else None,
             "allowed": list(choices)},
        )
    return value


def optional_phone(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _PHONE.match(value.strip()):
        raise ValidationFailed(f"{field} must be a telephone number", {"field": field})
    return value.strip()


def require_agency(value: object) -> str:
    if not isinstance(value, str) or value not in AGENCIES:
        raise UnknownAgency(
            f"unknown agency {value!r}",
            {"agency": value if isinstance(value, str) else None, "allowed": list(AGENCIES)},
        )
    return value


def _as_code_list(value: object, field: str) -> list[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationFailed(f"{field} must be a list of codes", {"field": field})
    return list(value)


def require_purposes(value: object) -> list[str]:
    codes = _as_code_list(value, "purposes")
    unknown = [c for c in codes if not isinstance(c, str) or c not in PURPOSES]
    if unknown:
        raise UnknownPurpose(
            "unknown purpose", {"purposes": [str(c) for c in unknown], "allowed": list(PURPOSES)},
        )
    if not codes:
        raise ValidationFailed("at least one purpose is required", {"field": "purposes"})
    return sorted({str(c) for c in codes})


def require_data_classes(value: object, *, allow_empty: bool) -> list[str]:
    codes = _as_code_list(value, "data_classes")
    unknown = [c for c in codes if not isinstance(c, str) or c not in DATA_CLASSES]
    if unknown:
        raise UnknownDataClass(
            "unknown data class",
            {"data_classes": [str(c) for c in unknown], "allowed": list(DATA_CLASSES)},
        )
    if not codes and not allow_empty:
        raise ValidationFailed("at least one data class is required", {"field": "data_classes"})
    return sorted({str(c) for c in codes})
