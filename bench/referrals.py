"""The requests the end-to-end benchmarks send, shaped like the integration tests' ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from accord_referral import examples


def referral(yes: int = 3) -> dict[str, Any]:
    """A police referral that England & Wales screens eligible for direct RJ (standard risk,
    responsibility acknowledged), with a court reference of its own."""
    return examples.referral(yes=yes, court_reference="B" + uuid.uuid4().hex[:12].upper())


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
