"""What goes into the audit log: ids and field names, never the values that were read."""

from __future__ import annotations

from typing import Any

from accord_kernel.contracts import AccessRecorded, Contract
from accord_kernel.envelope import IntegrationEvent


def audit_record(event: IntegrationEvent, contract: Contract) -> dict[str, Any]:
    if isinstance(contract, AccessRecorded):
        body = contract.model_dump(mode="json")
        return {"kind": "access", "event_id": event.id, "source": event.source, **body}
    # For domain traffic the log proves *that* something happened and which fields it
    # carried; the payload values stay with the agency that owns them.
    return {
        "kind": "event",
        "event_id": event.id,
        "type": event.type,
        "source": event.source,
        "case_id": event.case_id,
        "at": event.time.isoformat(),
        "topic": event.topic,
        "fields": sorted(event.data),
    }
