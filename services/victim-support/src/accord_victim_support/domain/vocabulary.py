"""Controlled vocabularies of victim services and the checks every command shares.

The values mirror SPEC section 4 and the OPA policy data: a code accepted here must be one the
policy understands, otherwise a consent could be recorded that no decision ever honours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, get_args

from accord_kernel.domain_rules import PURPOSES, ArgumentChecks, Purpose

from accord_victim_support.domain.errors import (
    UnknownAgency,
    UnknownDataClass,
    UnknownPurpose,
    ValidationFailed,
)

Agency = Literal["police", "rj_provider", "court", "victim_services"]
AGENCIES: tuple[str, ...] = get_args(Agency)
PurposeName = Purpose
DataClass = Literal[
    "case.core",
    "party.identity",
    "victim.location",
    "offence.details",
    "risk.assessment",
    "risk.band",
    "safety.flags",
    "safety.plan",
    "safety.plan.summary",
    "support.notes",
    "consent.summary",
    "conference.notes",
    "agreement.items",
    "compliance.status",
]
DATA_CLASSES: tuple[str, ...] = get_args(DataClass)
FlagCode = Literal[
    "strangulation_history",
    "threats_to_kill",
    "stalking",
    "weapon_access",
    "children_at_risk",
    "protective_order_in_force",
    "address_confidential",
]
SAFETY_FLAG_CODES: tuple[str, ...] = get_args(FlagCode)
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
# The DASH bands produced by the referral service.
RISK_BANDS: tuple[str, ...] = ("standard", "medium", "high")
ContactMethod = Literal["phone", "sms", "email", "letter", "in_person", "via_advocate"]
CONTACT_METHODS: tuple[str, ...] = get_args(ContactMethod)

# Same textual form as the `now` the policy enforcement point sends, so the policy can compare
# provision periods with `now` either lexically or after parsing.
POLICY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{2,39}$")

# Refusals must be VictimSupportErrors, so that the API and the inbox catch them.
checks = ArgumentChecks(ValidationFailed)


def policy_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(POLICY_TIME_FORMAT)


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
            "unknown purpose",
            {"purposes": [str(c) for c in unknown], "allowed": list(PURPOSES)},
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
