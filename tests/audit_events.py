"""Integration events for tests of the audit service that must not depend on any case rules:
access records (`AccessRecorded`), which the audit consumer appends as they are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from accord_kernel.contracts import AccessRecorded
from accord_kernel.envelope import IntegrationEvent


def access_event() -> tuple[IntegrationEvent, AccessRecorded]:
    """A new access record (new ids every call) as its integration event and contract."""
    contract = AccessRecorded(
        case_id="test-" + uuid.uuid4().hex[:8],
        record_id=uuid.uuid4().hex,
        service="test",
        user="pc-1",
        agency="police",
        role="officer",
        org="met",
        action="read",
        resource_type="referral",
        purpose="case_management",
        fields_returned=["case_id"],
        fields_withheld={},
        lawful_basis={},
        decision="permit",
        at=datetime.now(UTC),
    )
    event = IntegrationEvent(
        type=contract.type,
        topic=contract.topic,
        case_id=contract.case_id,
        data=contract.model_dump(mode="json"),
        id=str(uuid.uuid4()),
        source="/accord/test",
    )
    return event, contract
