from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from accord_court.domain import CourtCase, InvalidState, ValidationFailed
from eventsourcing.application import Application

T0 = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
REFERENCE = "T20250001"
CASE_ID = str(uuid.UUID(int=7))
JUDGE = "judge-3"
STATUS: list[dict[str, Any]] = [
    {
        "item_id": "apology",
        "status": "completed",
        "due_date": "2025-04-01",
        "completed_at": "2025-03-28T12:00:00+00:00",
    },
    {"item_id": "programme", "status": "open", "due_date": date(2025, 9, 30)},
]
TEXT: list[dict[str, Any]] = [
    {
        "item_id": "apology",
        "what": "Written apology",
        "owner": "offender",
        "due_date": "2025-04-01",
        "monitoring_agency": "rj_provider",
    },
]


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def linked() -> CourtCase:
    return CourtCase.link(REFERENCE, CASE_ID, "Leeds Crown Court", T0)


def test_the_id_is_derived_from_the_court_reference() -> None:
    court_case = linked()
    assert court_case.id == CourtCase.id_for(REFERENCE)
    assert court_case.id == uuid.uuid5(
        uuid.uuid5(uuid.NAMESPACE_URL, "accord/court/court-reference"),
        REFERENCE,
    )
    assert CourtCase.id_for("T20250002") != court_case.id
    assert (court_case.court_reference, court_case.case_id, court_case.court_name) == (
        REFERENCE,
        CASE_ID,
        "Leeds Crown Court",
    )
    assert [type(e).__name__ for e in court_case.collect_events()] == ["Linked"]


def test_noting_items_keeps_the_latest_compliance_picture() -> None:
    court_case = linked()
    court_case.note_items(STATUS, None, at(1))
    assert court_case.items_status == [
        {
            "item_id": "apology",
            "status": "completed",
            "due_date": "2025-04-01",
            "completed_at": "2025-03-28T12:00:00+00:00",
        },
        {"item_id": "programme", "status": "open", "due_date": "2025-09-30", "completed_at": None},
    ]
    assert court_case.items_text is None
    assert not court_case.all_completed
    court_case.note_items(
        [STATUS[0], {**STATUS[1], "status": "breached"}],
        None,
        at(2),
    )
    assert court_case.any_breached
    assert court_case.items_noted_at == at(2)


def test_item_text_is_kept_only_when_sent_and_forgotten_on_revocation() -> None:
    court_case = linked()
    court_case.note_items(STATUS, None, at(1))
    court_case.note_items([], TEXT, at(2))
    assert court_case.items_text == TEXT
    assert len(court_case.items_status) == 2
    court_case.note_items(STATUS, None, at(3))
    assert court_case.items_text == TEXT
    court_case.forget_items_text("outcome consent withdrawn", at(4))
    assert court_case.items_text is None


@pytest.mark.parametrize(
    ("items_status", "items_text"),
    [
        ([{**STATUS[0], "status": "late"}], None),
        ([{**STATUS[0], "due_date": "soon"}], None),
        ([{**STATUS[0], "completed_at": "yesterday"}], None),
        ([{**STATUS[0], "what": "Written apology"}], None),
        ([STATUS[0], STATUS[0]], None),
        ("apology", None),
        ([], [{"item_id": "apology"}]),
        ([], [{**TEXT[0], "address": "1 Quiet Lane"}]),
    ],
)
def test_malformed_item_pictures_are_refused(items_status: Any, items_text: Any) -> None:
    court_case = linked()
    with pytest.raises(ValidationFailed) as refused:
        court_case.note_items(items_status, items_text, at(1))
    assert refused.value.code == "validation_failed"
    assert court_case.items_status == []


def test_all_completed_needs_every_item_completed() -> None:
    court_case = linked()
    court_case.note_items([STATUS[0], {**STATUS[1], "status": "completed"}], None, at(1))
    assert court_case.all_completed and not court_case.any_breached


@pytest.mark.parametrize("decision", ["compliance_accepted", "returned_for_sentencing"])
def test_a_final_review_decision_closes_the_review(decision: str) -> None:
    court_case = linked()
    court_case.record_review_decision(decision, JUDGE, "reviewed in chambers", at(5))
    assert court_case.review_status == decision
    assert court_case.decisions == [
        {
            "decision": decision,
            "by": JUDGE,
            "notes": "reviewed in chambers",
            "at": at(5),
            "next_review_on": None,
        },
    ]
    with pytest.raises(InvalidState) as refused:
        court_case.record_review_decision("review_adjourned", JUDGE, "", at(6))
    assert refused.value.code == "invalid_state"
    assert refused.value.details == {"state": decision}


def test_an_adjourned_review_stays_open() -> None:
    court_case = linked()
    court_case.record_review_decision("review_adjourned", JUDGE, "await programme", at(5))
    assert (court_case.review_status, court_case.latest_decision) == (
        "awaiting_review",
        "review_adjourned",
    )
    court_case.record_review_decision("returned_for_sentencing", JUDGE, "breach", at(9))
    assert court_case.review_status == "returned_for_sentencing"
    assert [d["decision"] for d in court_case.decisions] == [
        "review_adjourned",
        "returned_for_sentencing",
    ]


def test_unknown_decisions_are_refused() -> None:
    court_case = linked()
    with pytest.raises(ValidationFailed):
        court_case.record_review_decision("acquitted", JUDGE, "", at(5))
    assert court_case.decisions == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"court_reference": " "},
        {"case_id": ""},
        {"at": T0.replace(tzinfo=None)},
    ],
)
def test_linking_refuses_malformed_arguments(arguments: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "court_reference": REFERENCE,
        "case_id": CASE_ID,
        "court_name": "Leeds",
        "at": T0,
    }
    values.update(arguments)
    with pytest.raises(ValidationFailed):
        CourtCase.link(**values)


def test_a_court_case_round_trips_through_an_application() -> None:
    app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    court_case = linked()
    court_case.note_items(STATUS, TEXT, at(1))
    court_case.forget_items_text("outcome consent withdrawn", at(2))
    court_case.note_items(STATUS, TEXT, at(3))
    court_case.record_review_decision("review_adjourned", JUDGE, "", at(4))
    court_case.record_review_decision("compliance_accepted", JUDGE, "all kept", at(5))
    app.save(court_case)
    restored = app.repository.get(CourtCase.id_for(REFERENCE))
    assert isinstance(restored, CourtCase)
    assert restored.items_status == court_case.items_status
    assert restored.items_text == TEXT
    assert restored.decisions == court_case.decisions
    assert restored.review_status == "compliance_accepted"
    assert restored.version == court_case.version
