"""The requests the end-to-end benchmarks send, shaped like the integration tests' ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from accord_referral.domain.dash import QUESTION_CODES


def referral(yes: int = 3) -> dict[str, Any]:
    """A police referral that England & Wales screens eligible for direct RJ (standard risk,
    responsibility acknowledged), with a court reference of its own."""
    return {
        "jurisdiction": "england-wales",
        "initiated_by": "victim",
        "incident": {
            "date": "2026-10-01",
            "summary": "Assault at home address",
            "offence_type": "assault_occasioning_abh",
        },
        "victim": {"name": "Alex Victim", "date_of_birth": "1990-01-01"},
        "offender": {"name": "Sam Offender", "date_of_birth": "1988-05-05"},
        "offender_acknowledged": True,
        "guilty_plea": True,
        "court_reference": "B" + uuid.uuid4().hex[:12].upper(),
        "court_org": "north-court",
        "victim_services_org": "north-advocacy",
        "risk_assessment": {
            "answers": {code: position < yes for position, code in enumerate(QUESTION_CODES)},
            "professional_judgement_high": False,
        },
    }


def victim() -> dict[str, Any]:
    return {
        "name": "Alex Victim",
        "address": "1 Safe Street",
        "safe_contact_number": "+44 7700 900123",
        "preferred_contact_method": "phone",
    }


def consent(
    scope: str, agency: str, purposes: list[str], data_classes: list[str]
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "scope": scope,
        "seen_alone": True,
        "provisions": [
            {
                "agency": agency,
                "purposes": purposes,
                "data_classes": data_classes,
                "start": (now - timedelta(minutes=1)).isoformat(),
                "end": (now + timedelta(days=90)).isoformat(),
            }
        ],
    }
