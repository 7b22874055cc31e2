from datetime import UTC, datetime
from pathlib import Path

from accord_audit.config import AuditSettings
from accord_audit.main import AuditInbox, make_runtime
from accord_kernel.contracts import AccessRecorded, RiskAssessed
from accord_kernel.envelope import IntegrationEvent


def event(contract: object, event_id: str) -> IntegrationEvent:
    return IntegrationEvent(
        type=contract.type,
        topic=contract.topic,  # type: ignore[attr-defined]
        case_id=contract.case_id,  # type: ignore[attr-defined]
        data=contract.model_dump(mode="json"),  # type: ignore[attr-defined]
        id=event_id,
        source="/test",
    )


def test_batches_and_redeliveries_append_once_and_index_by_case(tmp_path: Path) -> None:
    settings = AuditSettings.for_service("audit", 0, persistence="sqlite", data_dir=tmp_path)
    runtime = make_runtime(settings)
    app = runtime.app
    inbox = runtime.inbox
    assert isinstance(inbox, AuditInbox)
    now = datetime.now(UTC)
    risk = RiskAssessed(case_id="case-1", risk_band="high", at=now)
    access = AccessRecorded(
        case_id="case-1",
        record_id="r1",
        service="referral",
        user="pc-1",
        agency="police",
        role="officer",
        org="met",
        action="read",
        resource_type="referral",
        purpose="case_management",
        fields_returned=["case_id"],
        fields_withheld={"x": "no_consent"},
        lawful_basis={"case.core": "public_task"},
        decision="permit",
        at=now,
    )
    items = [(event(risk, "e1"), risk), (event(access, "e2"), access), (event(risk, "e1"), risk)]
    inbox.process_batch(items)
    inbox.process_batch(items)  # the whole batch redelivered
    inbox.process(*items[1])
    assert app.store.size() == 2
    assert [e["kind"] for e in app.case_entries("case-1")] == ["event", "access"]
    entry = app.case_entries("case-1", "event")[0]
    assert entry["fields"] == ["at", "case_id", "risk_band"]  # field names, not the band
    assert "high" not in str(entry)
