"""A stored event that cannot become a valid integration event (here an access record whose
case id is longer than any contract allows) goes to the dead-letter topic by ids only, and the
relay goes on publishing the events after it: one bad entry never stops an outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from accord_kernel.bus import UNTRANSLATABLE_TYPE, OutboxRelay
from accord_kernel.contracts import DEAD_LETTER_TOPIC
from accord_kernel.settings import ServiceSettings
from accord_victim_support.application import VictimSupportService


def record(case_id: str) -> dict[str, object]:
    return {
        "case_id": case_id,
        "subject": {"user": "u", "agency": "police", "role": "officer", "org": "north-police"},
        "action": "read",
        "resource_type": "victim_record",
        "purpose": "case_management",
        "fields_returned": [],
        "fields_withheld": {},
        "lawful_basis": {},
        "decision": "deny",
        "decision_id": None,
        "break_glass": False,
        "justification_ref": None,
    }


def test_an_untranslatable_entry_is_dead_lettered_and_the_rest_published(tmp_path: Path) -> None:
    settings = ServiceSettings.for_service(
        "victim-support", 0, persistence="memory", data_dir=tmp_path
    )
    app = VictimSupportService(settings)
    app.record_access([record("x" * 200)])
    app.record_access([record("c-2")])
    relay = OutboxRelay(app, "127.0.0.1:1")
    batch = relay.pending(after=0)
    events = [event for _, events in batch for event in events]
    assert [e.type for e in events] == [UNTRANSLATABLE_TYPE, "accord.audit.access_recorded.v1"]
    poison = events[0]
    assert poison.topic == DEAD_LETTER_TOPIC
    assert "x" * 65 not in str(poison.data)  # ids and the error's name, never the content
    assert poison.data["error"] == "ValidationError"
    assert events[1].case_id == "c-2"
    assert datetime.now(UTC) >= events[1].time
