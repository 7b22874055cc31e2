import uuid
from datetime import UTC, datetime

import pytest
from accord_kernel.application import AccordApplication
from accord_kernel.bus import ApplicationInbox
from accord_kernel.case_context import CaseContexts
from accord_kernel.contracts import CONTRACTS, ConsentChanged, RiskAssessed
from accord_kernel.envelope import IntegrationEvent, MalformedMessage, decode, encode
from accord_kernel.settings import ServiceSettings


def make_app(tmp_path, kind: str = "memory") -> AccordApplication:
    return AccordApplication(ServiceSettings(service="test", persistence=kind, data_dir=tmp_path))


def test_cloudevent_round_trip_keeps_id_subject_and_key() -> None:
    event = IntegrationEvent(
        type=RiskAssessed.type,
        topic="t",
        case_id="case-1",
        data={"case_id": "case-1", "risk_band": "high", "at": "2026-11-23T10:00:00Z"},
        id="evt-1",
        source="/accord/referral",
    )
    message = encode(event)
    assert message.key == b"case-1"
    back = decode("t", message.key, message.value)
    assert (back.id, back.case_id, back.type, back.data) == (
        event.id,
        "case-1",
        event.type,
        event.data,
    )
    assert back.traceparent and back.traceparent.startswith("00-")


@pytest.mark.parametrize("value", [None, b"", b"{", b"[]", b'{"specversion": "1.0"}'])
def test_garbage_is_malformed(value) -> None:
    with pytest.raises(MalformedMessage):
        decode("t", None, value)


def test_deterministic_ids_make_republished_events_duplicates() -> None:
    oid = uuid.uuid4()
    assert IntegrationEvent.deterministic_id("/s", oid, 3, 0) == IntegrationEvent.deterministic_id(
        "/s", oid, 3, 0
    )
    assert IntegrationEvent.deterministic_id("/s", oid, 3, 0) != IntegrationEvent.deterministic_id(
        "/s", oid, 4, 0
    )


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_redelivered_event_has_no_second_effect(tmp_path, kind) -> None:
    app = make_app(tmp_path, kind)
    contexts = CaseContexts(app)
    inbox = ApplicationInbox(app, contexts.handlers())
    contract = ConsentChanged(
        case_id="c1",
        consent_id="k1",
        scope="share",
        status="active",
        provisions=[],
        at=datetime.now(UTC),
    )
    event = IntegrationEvent(
        type=contract.type,
        topic="t",
        case_id="c1",
        data=contract.model_dump(mode="json"),
        id="same-id",
        source="/x",
    )
    inbox.process(event, contract)
    version = contexts.get("c1").version
    inbox.process(event, contract)
    inbox.process(event, contract)
    assert contexts.get("c1").version == version
    assert app.already_processed("same-id")
    assert not app.already_processed("other-id")


def test_outbox_position_is_durable_across_restart(tmp_path) -> None:
    app = make_app(tmp_path, "sqlite")
    assert app.outbox_position() == 0
    app.advance_outbox(7)
    app.close()
    again = make_app(tmp_path, "sqlite")
    assert again.outbox_position() == 7


def test_every_contract_field_has_a_known_data_class() -> None:
    import json
    from pathlib import Path

    catalogue = json.loads(
        (Path(__file__).parents[3] / "policies/accord/catalogue/data.json").read_text()
    )
    for type_, contract in CONTRACTS.items():
        for field, data_class in contract.field_classes().items():
            assert data_class in catalogue["classes"], f"{type_}.{field} has no data class"
        if not type_.startswith("accord.share."):
            from accord_kernel.contracts import BROADCAST_CLASSES

            leaked = {
                f: c for f, c in contract.field_classes().items() if c not in BROADCAST_CLASSES
            }
            assert not leaked, f"broadcast event {type_} carries restricted classes {leaked}"


def test_dates_survive_the_event_store(tmp_path) -> None:
    from datetime import date

    from accord_kernel.case_context import CaseContext

    app = make_app(tmp_path, "sqlite")
    ctx = CaseContext("c-dates")
    ctx.note_emergency_grant({"due": date(2026, 12, 1)})
    app.save(ctx)
    again = make_app(tmp_path, "sqlite")
    assert again.repository.get(ctx.id).emergency_grants[0]["due"] == date(2026, 12, 1)
