"""Controlled vocabularies of the RJ provider and the argument checks its commands share."""

from __future__ import annotations

from accord_kernel.domain_rules import ArgumentChecks

from accord_conference.domain.errors import ValidationFailed

AGENCIES: tuple[str, ...] = ("police", "rj_provider", "court", "victim_services")
# DASH bands produced by the referral service, lowest first: the order is the risk ranking.
RISK_BANDS: tuple[str, ...] = ("standard", "medium", "high")
ELIGIBILITIES: tuple[str, ...] = ("eligible_direct", "eligible_indirect_only")

NOTES_MAX = 20_000

# Refusals must be ConferenceErrors, so that the API and the inbox catch them.
checks = ArgumentChecks(ValidationFailed)


def band_rank(band: str) -> int:
    return RISK_BANDS.index(band)


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
