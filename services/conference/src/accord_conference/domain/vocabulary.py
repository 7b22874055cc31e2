"""Controlled vocabularies of the RJ provider and the argument checks its commands share."""

from __future__ import annotations

from datetime import date, datetime

from accord_conference.domain.errors import ValidationFailed

AGENCIES: tuple[str, ...] = ("police", "rj_provider", "court", "victim_services")
# DASH bands produced by the referral service, lowest first: the order is the risk ranking.
RISK_BANDS: tuple[str, ...] = ("standard", "medium", "high")
ELIGIBILITIES: tuple[str, ...] = ("eligible_direct", "eligible_indirect_only")

TEXT_MAX = 200
NOTES_MAX = 20_000


def band_rank(band: str) -> int:
    return RISK_BANDS.index(band)


def require_moment(value: object, field: str) -> datetime:
    """Naive datetimes cannot be ordered against aware ones, so only aware datetimes pass."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(f"{field} must be a timezone-aware datetime", {"field": field})
    return value


def require_day(value: object, field: str) -> date:
    # A datetime is a date subclass; accepting one would silently drop its time and zone.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationFailed(f"{field} must be a calendar date", {"field": field})
    return value


def require_iso_day(value: object, field: str) -> str:
    """Dates inside event payloads travel as ISO text: the default transcoder has no `date`."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValidationFailed(f"{field} must be an ISO calendar date", {"field": field})


def require_text(value: object, field: str, *, max_length: int = TEXT_MAX) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{field} must be non-empty text", {"field": field})
    if len(value) > max_length:
        raise ValidationFailed(
            f"{field} must be at most {max_length} characters",
            {"field": field, "max_length": max_length},
        )
    return value.strip()


def optional_text(value: object, field: str, *, max_length: int = TEXT_MAX) -> str | None:
    if value is None:
        return None
    return require_text(value, field, max_length=max_length)


def free_text(value: object, field: str, *, max_length: int = NOTES_MAX) -> str:
    """Notes may legitimately be empty, unlike names and codes."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", {"field": field})
    if len(value) > max_length:
        raise ValidationFailed(
            f"{field} must be at most {max_length} characters",
            {"field": field, "max_length": max_length},
        )
    return value


def require_flag(value: object, field: str) -> bool:
    # Checked strictly so that a truthy string such as "false" is never taken as True.
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


def optional_choice(value: object, field: str, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    return require_choice(value, field, choices)
