"""Test support: integration events that tell one service alone (no Kafka) about a case, such
as the referral that names the case's responsible organisations (SPEC section 4a)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from accord_kernel.contracts import Contract, ReferralAccepted, ReferralSubmitted
from accord_kernel.dev_tokens import DEFAULT_ORGS
from accord_kernel.envelope import IntegrationEvent

# The organisations of the shipped directory that dev tokens belong to by default, per case
# agency, and another organisation of the same agency for each.
HOME = {agency: org for agency, org in DEFAULT_ORGS.items() if agency != "audit"}
AWAY = {
    "police": "south-police",
    "victim_services": "south-advocacy",
    "rj_provider": "south-rj",
    "court": "south-court",
}


def event_of(contract: Contract) -> IntegrationEvent:
    return IntegrationEvent(
        type=contract.type,
        topic=contract.topic,
        case_id=contract.case_id,
        data=contract.model_dump(mode="json"),
        id=str(uuid.uuid4()),
        source="/accord/tests",
    )


def submitted(
    case_id: str,
    jurisdiction: str = "england-wales",
    court_reference: str | None = "T20260001",
    organisations: dict[str, str] | None = None,
) -> ReferralSubmitted:
    orgs = dict(organisations or {k: v for k, v in HOME.items() if k != "rj_provider"})
    if court_reference is None:
        orgs.pop("court", None)
    return ReferralSubmitted(
        case_id=case_id,
        jurisdiction=jurisdiction,
        initiated_by="victim",
        submitted_at=datetime.now(UTC),
        court_reference=court_reference,
        referring_org=orgs.get("police", HOME["police"]),
        organisations=orgs,
    )


def accepted(case_id: str, provider_org: str = HOME["rj_provider"]) -> ReferralAccepted:
    return ReferralAccepted(case_id=case_id, provider_org=provider_org, at=datetime.now(UTC))


def tell(runtime: Any, *contracts: Contract) -> None:
    """Feeds contracts through a service's real inbox, as the consumer would."""
    for contract in contracts:
        runtime.inbox.process(event_of(contract), contract)
