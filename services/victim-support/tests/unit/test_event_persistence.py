"""Each aggregate goes through a real eventsourcing Application (in-memory POPO persistence),
which proves every event attribute survives the library's default JSON transcoder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from accord_victim_support.domain import Consent, EmergencyAccess, VictimRecord
from eventsourcing.application import Application

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
END = T0 + timedelta(days=90)


@pytest.fixture
def app() -> Iterator[Application]:
    application = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def test_victim_record_round_trip(app: Application) -> None:
    record = VictimRecord.register(
        id=uuid4(),
        case_id="case-1",
        name="Alex Doe",
        preferred_contact_method="phone",
        registered_by="idva-7",
        at=T0,
        date_of_birth=date(1990, 5, 17),
        address="1 Quiet Lane",
        safe_contact_number="+44 7700 900123",
        children=[{"age": 4, "needs": "speech"}],
    )
    record.update_location(
        address=None, safe_contact_number=None, refuge=True, by="idva-7", at=T0 + timedelta(hours=1)
    )
    record.update_contact(
        preferred_contact_method="sms",
        safe_contact_method="sms",
        language="cy",
        interpreter_needed=True,
        by="idva-7",
        at=T0,
    )
    record.update_children(children=[{"age": 5, "needs": ""}], by="idva-7", at=T0)
    record.add_support_note(text="First meeting", by="idva-7", at=T0)
    record.raise_flag("stalking", "medium", "idva-7", T0)
    record.raise_flag("stalking", "high", "idva-7", T0 + timedelta(hours=1))
    record.raise_flag("weapon_access", "high", "idva-7", T0)
    record.clear_flag("weapon_access", "idva-7", "surrendered", T0 + timedelta(days=1))
    record.record_safety_plan("plan", date(2025, 4, 1), "idva-7", T0)
    record.revise_safety_plan("plan 2", date(2025, 5, 1), "idva-7", T0 + timedelta(days=2))
    record.note_risk_band("high", T0)
    app.save(record)

    copy = app.repository.get(record.id)
    assert isinstance(copy, VictimRecord)
    assert copy.version == record.version == 12
    assert copy.date_of_birth == date(1990, 5, 17)
    assert (copy.address, copy.safe_contact_number, copy.refuge) == (None, None, True)
    assert (copy.preferred_contact_method, copy.language) == ("sms", "cy")
    assert copy.children == [{"age": 5, "needs": ""}]
    assert copy.support_notes == record.support_notes
    assert copy.safety_flags == record.safety_flags
    assert copy.safety_flags[0]["raised_at"] == T0 + timedelta(hours=1)
    assert copy.safety_plan_summary() == {"exists": True, "review_date": date(2025, 5, 1)}
    assert copy.safety_plan_content == "plan 2"
    assert copy.statutory_safeguarding_applies


def test_consent_round_trip_and_granted_event_keeps_the_granted_period(
    app: Application,
) -> None:
    consent = Consent.grant(
        id=uuid4(),
        case_id="case-1",
        grantor=uuid4(),
        verified_by="idva-7",
        seen_alone=True,
        scope="share",
        at=T0,
        provisions=[
            {
                "type": "permit",
                "agency": "police",
                "purposes": ["safeguarding"],
                "data_classes": ["safety.flags"],
                "start": T0,
                "end": END,
            },
            {
                "type": "deny",
                "agency": "police",
                "purposes": ["offender_communication"],
                "data_classes": ["victim.location"],
                "start": T0,
                "end": END,
            },
        ],
    )
    new_end = END + timedelta(days=30)
    consent.refresh(new_end, "idva-7", T0 + timedelta(days=1))
    consent.withdraw("idva-7", None, T0 + timedelta(days=2))
    app.save(consent)

    copy = app.repository.get(consent.id)
    assert isinstance(copy, Consent)
    assert copy.grantor == consent.grantor
    assert copy.provisions == consent.provisions
    assert copy.status == "withdrawn"
    assert copy.history == consent.history
    assert [h["action"] for h in copy.history] == ["granted", "refreshed", "withdrawn"]

    granted_event = next(iter(app.repository.event_store.get(consent.id)))
    assert [p["end"] for p in granted_event.provisions] == [END, END]


def test_expired_consent_round_trip(app: Application) -> None:
    consent = Consent.grant(
        id=uuid4(),
        case_id="case-1",
        grantor=uuid4(),
        verified_by="idva-7",
        seen_alone=True,
        scope="participate",
        at=T0,
        provisions=[
            {
                "type": "permit",
                "agency": "rj_provider",
                "purposes": ["case_management"],
                "data_classes": [],
                "start": T0,
                "end": END,
            },
        ],
    )
    consent.expire(END)
    app.save(consent)
    copy = app.repository.get(consent.id)
    assert copy.status == "expired"
    assert copy.expired_at == END


def test_emergency_access_round_trip(app: Application) -> None:
    access = EmergencyAccess.request(
        id=uuid4(),
        case_id="case-1",
        agency="police",
        user="sgt-42",
        role="supervisor",
        reason_code="missing_person",
        justification="Victim missing since last night, phone off.",
        data_classes=["victim.location"],
        requested_at=T0,
        duration_minutes=90,
    )
    access.complete_review("privacy-officer-1", "justified", "Proportionate.", T0 + timedelta(1))
    app.save(access)
    copy = app.repository.get(access.id)
    assert isinstance(copy, EmergencyAccess)
    assert copy.expires_at == T0 + timedelta(minutes=90)
    assert copy.data_classes == ["victim.location"]
    assert copy.review_outcome == "justified"
    assert copy.is_active(T0 + timedelta(minutes=89))
    assert not copy.is_active(T0 + timedelta(minutes=90))
