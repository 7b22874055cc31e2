"""Every event and the aggregate state survive the default transcoder (serialised, not kept
as Python objects), so nothing in the domain needs a custom transcoding."""

from __future__ import annotations

from datetime import date
from typing import Any

from accord_conference.domain import Facilitator, RJCase
from eventsourcing.application import Application

from .conftest import CONFERENCE_AT, COORDINATOR, FACILITATOR, TODAY, at, prepared

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
ITEMS: list[dict[str, Any]] = [
    {
        "item_id": "apology",
        "what": "Written apology",
        "owner": "offender",
        "due_date": "2025-04-01",
        "monitoring_agency": "rj_provider",
    },
    {
        "item_id": "contact",
        "what": "No contact except via provider",
        "owner": "offender",
        "due_date": date(2025, 9, 30),
        "monitoring_agency": "victim_services",
    },
]


def full_history() -> RJCase:
    case = prepared(court_reference="T20250001")
    case.assign_facilitator("user-co", True, TODAY, COORDINATOR, role="co")
    case.note_reassessment_required(at(8))
    case.note_risk_band("standard", "medium", at(9))
    case.note_safety_plan(True, at(10), review_date=date(2025, 6, 1))
    case.schedule_conference("direct", CONFERENCE_AT, TODAY, True, COORDINATOR)
    case.record_conference_held(CONFERENCE_AT, "private notes", FACILITATOR)
    case.draft_agreement(ITEMS, FACILITATOR, at(300))
    case.record_agreement_consent("victim", True, True, at(301))
    case.record_agreement_consent("offender", True, True, at(302))
    case.withdraw_outcome_sharing("victim", at(303))
    case.complete_item("apology", "letter received", "rj_provider", at(400))
    case.breach_item("contact", "contact reported by victim", "victim_services", at(401))
    return case


def state(case: RJCase) -> dict[str, Any]:
    return {
        "status": case.status,
        "facilitators": (case.facilitator_id, case.co_facilitator_id),
        "preparations": case.preparations,
        "consents": case.agreement_consents,
        "items": case.agreement_items,
        "items_status": case.items_status(),
        "returned_to": case.returned_to,
        "shared": case.outcome_shared_with_court,
        "notes": case.conference_notes,
        "review": case.safety_plan_review_date,
        "version": case.version,
    }


def test_an_rj_case_round_trips_through_an_application() -> None:
    app = Application(env=POPO)
    case = full_history()
    app.save(case)
    restored = app.repository.get(case.id)
    assert isinstance(restored, RJCase)
    assert state(restored) == state(case)
    assert restored.status == "returned"


def test_automatic_stop_and_suspension_round_trip() -> None:
    app = Application(env=POPO)
    suspended = prepared()
    suspended.schedule_conference("direct", CONFERENCE_AT, TODAY, True, COORDINATOR)
    suspended.note_risk_band("high", "medium", at(100))
    stopped = prepared()
    stopped.note_participate_consent(False, at(100))
    app.save(suspended, stopped)
    again = app.repository.get(suspended.id)
    assert (again.status, again.suspension_reason) == ("suspended", "risk_escalated")
    again = app.repository.get(stopped.id)
    assert (again.status, again.stop_reason, again.stopped_at) == (
        "stopped",
        "victim_withdrew",
        at(100),
    )


def test_snapshots_of_both_aggregates_restore_the_same_state() -> None:
    app = Application(env={**POPO, "IS_SNAPSHOTTING_ENABLED": "y"})
    case = full_history()
    facilitator = Facilitator.register(
        FACILITATOR,
        "Sam",
        "rj-north",
        "RJC-1",
        date(2027, 1, 1),
        date(2025, 6, 30),
        at=at(0),
    )
    facilitator.log_supervision("supervisor-1", "sup/1", at(1))
    app.save(case, facilitator)
    app.take_snapshot(case.id)
    app.take_snapshot(facilitator.id)
    assert state(app.repository.get(case.id)) == state(case)
    restored = app.repository.get(facilitator.id)
    assert restored.endorsement_expires == date(2025, 6, 30)
    assert restored.supervision_log == facilitator.supervision_log


def test_a_facilitator_round_trips_through_an_application() -> None:
    app = Application(env=POPO)
    facilitator = Facilitator.register(
        FACILITATOR,
        "Sam",
        "rj-north",
        "RJC-1",
        date(2027, 1, 1),
        None,
        at=at(0),
    )
    facilitator.renew_endorsement(date(2026, 3, 31), at(1))
    facilitator.log_supervision("supervisor-1", "sup/1", at(2))
    app.save(facilitator)
    restored = app.repository.get(Facilitator.id_for(FACILITATOR))
    assert isinstance(restored, Facilitator)
    assert restored.has_valid_endorsement(date(2026, 3, 31))
    assert not restored.has_valid_endorsement(date(2026, 4, 1))
    assert restored.supervision_log == [
        {"supervisor": "supervisor-1", "notes_ref": "sup/1", "at": at(2)},
    ]
