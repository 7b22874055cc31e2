from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from accord_victim_support.domain import (
    InvalidState,
    UnknownSafetyFlag,
    ValidationFailed,
    VictimRecord,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ADVOCATE = "idva-7"


def registered(**overrides: Any) -> VictimRecord:
    arguments: dict[str, Any] = {
        "id": uuid4(),
        "case_id": "case-1",
        "name": "Alex Doe",
        "preferred_contact_method": "phone",
        "registered_by": ADVOCATE,
        "at": T0,
        "date_of_birth": date(1990, 5, 17),
        "address": "1 Quiet Lane",
        "safe_contact_number": "+44 7700 900123",
        "refuge": False,
        "safe_contact_method": "sms",
        "language": "pl",
        "interpreter_needed": True,
        "children": [{"age": 4, "needs": "speech therapy"}, {"age": 9}],
    }
    arguments.update(overrides)
    return VictimRecord.register(**arguments)


def event_names(record: VictimRecord) -> list[str]:
    return [type(e).__name__ for e in record.collect_events()]


def test_registration_keeps_identity_location_contact_and_children() -> None:
    record = registered()
    assert record.case_id == "case-1"
    assert record.name == "Alex Doe"
    assert record.date_of_birth == date(1990, 5, 17)
    assert (record.address, record.safe_contact_number, record.refuge) == (
        "1 Quiet Lane",
        "+44 7700 900123",
        False,
    )
    assert (record.preferred_contact_method, record.safe_contact_method) == ("phone", "sms")
    assert (record.language, record.interpreter_needed) == ("pl", True)
    assert record.children == [{"age": 4, "needs": "speech therapy"}, {"age": 9, "needs": ""}]
    assert record.safety_flags == []
    assert record.support_notes == []
    assert record.risk_band is None
    assert event_names(record) == ["Registered"]


def test_registration_needs_only_name_contact_method_and_who_registered() -> None:
    record = VictimRecord.register(
        id=uuid4(),
        case_id="case-2",
        name="B",
        preferred_contact_method="via_advocate",
        registered_by=ADVOCATE,
        at=T0,
    )
    assert record.date_of_birth is None
    assert record.address is None
    assert record.refuge is False
    assert record.children == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "name"),
        ({"case_id": ""}, "case_id"),
        ({"preferred_contact_method": "carrier_pigeon"}, "preferred_contact_method"),
        ({"safe_contact_method": "fax"}, "safe_contact_method"),
        ({"safe_contact_number": "call me"}, "safe_contact_number"),
        ({"refuge": "no"}, "refuge"),
        ({"interpreter_needed": 1}, "interpreter_needed"),
        ({"date_of_birth": datetime(1990, 5, 17, tzinfo=UTC)}, "date_of_birth"),
        ({"at": datetime(2025, 3, 3, 9, 0)}, "at"),
    ],
)
def test_registration_rejects_malformed_values(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        registered(**overrides)
    assert caught.value.code == "validation_failed"
    assert caught.value.details["field"] == field


def test_registration_requires_a_uuid_id() -> None:
    with pytest.raises(ValidationFailed):
        registered(id="case-1-victim")


@pytest.mark.parametrize(
    "children",
    [
        [{"age": 4, "name": "Sam"}],
        [{"age": 18}],
        [{"age": -1}],
        [{"age": True}],
        [{"needs": "none"}],
        ["Sam, 4"],
        "Sam",
    ],
)
def test_children_are_recorded_by_age_and_needs_only(children: object) -> None:
    with pytest.raises(ValidationFailed):
        registered(children=children)


def test_location_update_replaces_the_whole_location() -> None:
    record = registered()
    record.update_location(
        address=None,
        safe_contact_number="07700 900456",
        refuge=True,
        by=ADVOCATE,
        at=T0 + timedelta(days=1),
    )
    assert record.address is None
    assert record.safe_contact_number == "07700 900456"
    assert record.refuge is True
    assert record.location_updated_at == T0 + timedelta(days=1)
    assert event_names(record)[-1] == "LocationUpdated"


def test_location_update_rejects_a_bad_number_and_records_nothing() -> None:
    record = registered()
    record.collect_events()
    with pytest.raises(ValidationFailed):
        record.update_location(
            address="2 Road",
            safe_contact_number="x",
            refuge=False,
            by=ADVOCATE,
            at=T0,
        )
    assert record.address == "1 Quiet Lane"
    assert record.collect_events() == []


def test_contact_update() -> None:
    record = registered()
    record.update_contact(
        preferred_contact_method="email",
        safe_contact_method=None,
        language="en",
        interpreter_needed=False,
        by=ADVOCATE,
        at=T0,
    )
    assert (record.preferred_contact_method, record.safe_contact_method) == ("email", None)
    assert (record.language, record.interpreter_needed) == ("en", False)
    assert event_names(record)[-1] == "ContactUpdated"


def test_children_update() -> None:
    record = registered()
    record.update_children(children=[{"age": 10, "needs": "school support"}], by=ADVOCATE, at=T0)
    assert record.children == [{"age": 10, "needs": "school support"}]
    with pytest.raises(ValidationFailed):
        record.update_children(children=[{"age": 10, "name": "Sam"}], by=ADVOCATE, at=T0)


def test_support_notes_are_appended_with_author_and_time() -> None:
    record = registered()
    record.add_support_note(text="Discussed options", by=ADVOCATE, at=T0)
    record.add_support_note(text="Referred to counselling", by="idva-8", at=T0 + timedelta(1))
    assert record.support_notes == [
        {"at": T0, "by": ADVOCATE, "text": "Discussed options"},
        {"at": T0 + timedelta(1), "by": "idva-8", "text": "Referred to counselling"},
    ]
    with pytest.raises(ValidationFailed):
        record.add_support_note(text=" ", by=ADVOCATE, at=T0)


def test_reading_collections_cannot_change_the_record_outside_an_event() -> None:
    record = registered()
    record.add_support_note(text="note", by=ADVOCATE, at=T0)
    record.raise_flag("stalking", "high", ADVOCATE, T0)
    record.support_notes.clear()
    record.children.clear()
    record.safety_flags[0]["severity"] = "low"
    assert len(record.support_notes) == 1
    assert len(record.children) == 2
    assert record.safety_flags[0]["severity"] == "high"


def test_raising_a_flag() -> None:
    record = registered()
    record.raise_flag("strangulation_history", "high", ADVOCATE, T0)
    assert record.has_flag("strangulation_history")
    assert record.safety_flags == [
        {
            "code": "strangulation_history",
            "severity": "high",
            "raised_by": ADVOCATE,
            "raised_at": T0,
        }
    ]
    assert event_names(record)[-1] == "SafetyFlagRaised"


def test_raising_an_unknown_flag_names_the_code() -> None:
    record = registered()
    with pytest.raises(UnknownSafetyFlag) as caught:
        record.raise_flag("bad_vibes", "high", ADVOCATE, T0)
    assert caught.value.code == "unknown_safety_flag"
    assert caught.value.details["code"] == "bad_vibes"
    assert "bad_vibes" in str(caught.value)
    assert isinstance(caught.value, ValidationFailed)


def test_raising_with_an_unknown_severity_is_rejected() -> None:
    record = registered()
    with pytest.raises(ValidationFailed) as caught:
        record.raise_flag("stalking", "severe", ADVOCATE, T0)
    assert caught.value.details["field"] == "severity"


def test_raising_an_already_raised_flag_records_the_new_severity_as_a_new_event() -> None:
    record = registered()
    record.collect_events()
    record.raise_flag("stalking", "medium", ADVOCATE, T0)
    record.raise_flag("stalking", "high", "idva-8", T0 + timedelta(hours=2))
    assert event_names(record) == ["SafetyFlagRaised", "SafetyFlagRaised"]
    assert record.safety_flags == [
        {
            "code": "stalking",
            "severity": "high",
            "raised_by": "idva-8",
            "raised_at": T0 + timedelta(hours=2),
        }
    ]


def test_clearing_a_flag() -> None:
    record = registered()
    record.raise_flag("weapon_access", "high", ADVOCATE, T0)
    record.raise_flag("stalking", "low", ADVOCATE, T0)
    record.clear_flag("weapon_access", ADVOCATE, "firearm surrendered", T0 + timedelta(days=3))
    assert not record.has_flag("weapon_access")
    assert [f["code"] for f in record.safety_flags] == ["stalking"]
    assert event_names(record)[-1] == "SafetyFlagCleared"


def test_clearing_a_flag_that_is_not_raised_is_an_invalid_state() -> None:
    record = registered()
    with pytest.raises(InvalidState) as caught:
        record.clear_flag("threats_to_kill", ADVOCATE, "no longer relevant", T0)
    assert caught.value.code == "invalid_state"
    assert caught.value.details == {"code": "threats_to_kill", "state": "not_raised"}


def test_clearing_needs_a_known_code_and_a_reason() -> None:
    record = registered()
    record.raise_flag("children_at_risk", "medium", ADVOCATE, T0)
    with pytest.raises(UnknownSafetyFlag):
        record.clear_flag("other", ADVOCATE, "reason", T0)
    with pytest.raises(ValidationFailed):
        record.clear_flag("children_at_risk", ADVOCATE, "", T0)
    assert record.has_flag("children_at_risk")


def test_safety_plan_summary_shares_existence_and_review_date_but_not_content() -> None:
    record = registered()
    assert record.safety_plan_summary() == {"exists": False, "review_date": None}
    record.record_safety_plan(
        "Code word: blue. Bag at neighbour's.", date(2025, 4, 1), ADVOCATE, T0
    )
    assert record.safety_plan_exists
    assert record.safety_plan_review_date == date(2025, 4, 1)
    assert record.safety_plan_content == "Code word: blue. Bag at neighbour's."
    assert record.safety_plan_summary() == {"exists": True, "review_date": date(2025, 4, 1)}
    assert event_names(record)[-1] == "SafetyPlanRecorded"


def test_a_safety_plan_is_recorded_once_and_then_revised() -> None:
    record = registered()
    with pytest.raises(InvalidState) as caught:
        record.revise_safety_plan("plan", date(2025, 4, 1), ADVOCATE, T0)
    assert caught.value.details["state"] == "no_safety_plan"
    record.record_safety_plan("plan v1", date(2025, 4, 1), ADVOCATE, T0)
    with pytest.raises(InvalidState):
        record.record_safety_plan("plan v2", date(2025, 4, 1), ADVOCATE, T0)
    record.revise_safety_plan("plan v2", date(2025, 5, 1), "idva-8", T0 + timedelta(days=20))
    assert record.safety_plan_content == "plan v2"
    assert record.safety_plan_review_date == date(2025, 5, 1)
    assert record.safety_plan_revision == 2
    assert record.safety_plan_updated_by == "idva-8"
    assert event_names(record)[-1] == "SafetyPlanRevised"


@pytest.mark.parametrize(
    ("content", "review_date"),
    [
        ("plan", date(2025, 3, 2)),
        ("plan", datetime(2025, 4, 1, tzinfo=UTC)),
        ("", date(2025, 4, 1)),
    ],
)
def test_safety_plan_rejects_bad_input(content: str, review_date: date) -> None:
    record = registered()
    with pytest.raises(ValidationFailed):
        record.record_safety_plan(content, review_date, ADVOCATE, T0)
    assert not record.safety_plan_exists


def test_high_risk_band_enables_statutory_safeguarding_sharing() -> None:
    record = registered()
    assert not record.statutory_safeguarding_applies
    assert record.note_risk_band("high", T0)
    assert record.risk_band == "high"
    assert record.statutory_safeguarding_applies
    assert record.note_risk_band("medium", T0 + timedelta(days=1))
    assert not record.statutory_safeguarding_applies


def test_an_older_risk_band_arriving_late_does_not_replace_the_latest() -> None:
    record = registered()
    record.note_risk_band("high", T0 + timedelta(days=2))
    record.collect_events()
    assert record.note_risk_band("standard", T0 + timedelta(days=1)) is False
    assert record.risk_band == "high"
    assert record.collect_events() == []


def test_unknown_risk_band_is_rejected() -> None:
    record = registered()
    with pytest.raises(ValidationFailed) as caught:
        record.note_risk_band("very_high", T0)
    assert caught.value.details["allowed"] == ["standard", "medium", "high"]
