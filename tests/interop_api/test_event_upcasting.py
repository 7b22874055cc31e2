"""Stored domain events of an older version load and behave (issue 20, item 5).

The court's review decision event gained `next_review_on` in class version 2. The fixture
holds the bytes version 1 of the court service stored for one court case (captured from the
commit named in it: linked, items noted, a review adjourned); they are written unchanged into a
real PostgreSQL event store, and the current code must read them (the eventsourcing library's
class-version upcasting, `upcast_v1_v2`), show the decision, publish it, and go on deciding
the case, while the old bytes stay as they were (docs/event-versioning.md)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from accord_court.application import CourtService
from accord_court.domain import ValidationFailed
from accord_court.domain.court_case import CourtCase
from accord_kernel.bus import OutboxRelay
from accord_kernel.contracts import ReviewDecided
from accord_kernel.settings import ServiceSettings
from eventsourcing.persistence import StoredEvent

pytestmark = pytest.mark.integration

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "court_case_v1.json").read_text())
REFERENCE = FIXTURE["court_reference"]
ADJOURNED_AT = datetime(2025, 11, 3, 10, 0, tzinfo=UTC)


@pytest.fixture
def database_url(infrastructure: Any) -> str:
    name = "accord_upcast_" + uuid.uuid4().hex[:8]
    infrastructure.postgres.create_database(name)
    return str(infrastructure.postgres.url(name))


def court(database_url: str, tmp_path: Path) -> CourtService:
    """The court service's application as a new process starts it, on the given store."""
    return CourtService(
        ServiceSettings.for_service(
            "court", 0, persistence="postgres", database_url=database_url, data_dir=tmp_path
        )
    )


def stored_v1() -> list[StoredEvent]:
    return [
        StoredEvent(
            originator_id=uuid.UUID(FIXTURE["originator_id"]),
            originator_version=e["originator_version"],
            topic=e["topic"],
            state=base64.b64decode(e["state"]),
        )
        for e in FIXTURE["events"]
    ]


def test_the_fixture_is_the_old_shape() -> None:
    """What makes it version 1: no class_version, no next_review_on."""
    [decided] = [e for e in stored_v1() if e.topic.endswith("ReviewDecided")]
    state = json.loads(decided.state)
    assert "class_version" not in state
    assert "next_review_on" not in state
    assert state["decision"] == "review_adjourned"


def test_version_1_events_load_and_behave(database_url: str, tmp_path: Path) -> None:
    app = court(database_url, tmp_path)
    app.recorder.insert_events(stored_v1())

    # load: the decision reads as version 2, with no next review
    case = app.repository.get(CourtCase.id_for(REFERENCE))
    assert case.version == 3
    assert case.decisions == [
        {
            "decision": "review_adjourned",
            "by": "judge-1",
            "notes": "await programme",
            "at": ADJOURNED_AT,
            "next_review_on": None,
        }
    ]
    # an adjournment keeps the review open
    assert case.review_status == "awaiting_review"
    assert app.court_view(REFERENCE)["decisions"][0]["next_review_on"] is None

    # publish: the outbox translates the old event into the integration event of today
    published = [e for _, events in OutboxRelay(app, "unused").pending(after=0) for e in events]
    decided = [e for e in published if e.type == ReviewDecided.type]
    assert [ReviewDecided.model_validate(e.data) for e in decided] == [
        ReviewDecided(
            case_id=FIXTURE["case_id"],
            court_reference=REFERENCE,
            decision="review_adjourned",
            at=ADJOURNED_AT,
        )
    ]

    # behave: the case goes on, with version-2 decisions after the version-1 one
    assert app.record_review_decision(
        REFERENCE,
        "review_adjourned",
        "judge-2",
        "programme under way",
        next_review_on=date(2026, 2, 2),
        at=datetime(2025, 12, 1, 10, 0, tzinfo=UTC),
    )
    with pytest.raises(ValidationFailed):
        app.record_review_decision(
            REFERENCE, "compliance_accepted", "judge-2", "", next_review_on=date(2026, 3, 1)
        )
    assert app.record_review_decision(
        REFERENCE, "compliance_accepted", "judge-2", "all kept", at=datetime(2026, 2, 2, tzinfo=UTC)
    )
    app.close()

    # a new process reads the mixed history the same way
    again = court(database_url, tmp_path)
    view = again.court_view(REFERENCE)
    assert [(d["decision"], d["next_review_on"]) for d in view["decisions"]] == [
        ("review_adjourned", None),
        ("review_adjourned", "2026-02-02"),
        ("compliance_accepted", None),
    ]
    # the stored bytes of version 1 were not rewritten; the new ones say their version
    stored = again.recorder.select_events(CourtCase.id_for(REFERENCE))
    assert stored[2].state == stored_v1()[2].state
    newer = json.loads(stored[3].state)
    assert newer["class_version"] == 2
    assert newer["next_review_on"] == "2026-02-02"
    again.close()
