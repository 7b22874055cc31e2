"""The court application driven through its inbox with real contracts, in memory: what the
court learns, what its view holds, and what it publishes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from accord_court.application import CourtService
from accord_court.domain import CourtError, InvalidState, ValidationFailed
from accord_court.integration import inbox_handlers
from accord_court.main import make_runtime
from accord_kernel.bus import ApplicationInbox, OutboxRelay
from accord_kernel.contracts import (
    COURT_TOPIC,
    AgreementItemsShared,
    AgreementMade,
    ConsentChanged,
    Contract,
    ItemReported,
    ReviewDecided,
    ShareRevoked,
    topic_for,
)
from accord_kernel.domain_rules import NotFound
from accord_kernel.envelope import IntegrationEvent
from accord_kernel.settings import ServiceSettings

T0 = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
CASE_ID = str(uuid.UUID(int=41))
OTHER_CASE_ID = str(uuid.UUID(int=42))
REFERENCE = "T2025/0001"
JUDGE = "judge-3"
CATALOGUE = Path(__file__).parents[4] / "policies" / "accord" / "catalogue" / "data.json"
STATUS_OPEN: list[dict[str, Any]] = [
    {"item_id": "apology", "status": "open", "due_date": "2025-06-01", "completed_at": None},
    {"item_id": "programme", "status": "open", "due_date": "2025-09-30", "completed_at": None},
]
STATUS_APOLOGY_DONE: list[dict[str, Any]] = [
    {
        "item_id": "apology",
        "status": "completed",
        "due_date": "2025-06-01",
        "completed_at": "2025-05-20T09:00:00Z",
    },
    STATUS_OPEN[1],
]
TEXT: list[dict[str, Any]] = [
    {
        "item_id": "apology",
        "what": "Written apology",
        "owner": "offender",
        "due_date": "2025-06-01",
        "monitoring_agency": "rj_provider",
    },
    {
        "item_id": "programme",
        "what": "Complete a behaviour change programme",
        "owner": "offender",
        "due_date": "2025-09-30",
        "monitoring_agency": "rj_provider",
    },
]


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def app() -> CourtService:
    return CourtService(ServiceSettings.for_service("court", 0, persistence="memory"))


def deliver(app: CourtService, contract: Contract, event_id: str | None = None) -> str:
    """As the inbox consumer does: the payload travels as JSON and is validated again."""
    data = contract.model_dump(mode="json")
    routed = "court" if "{agency}" in contract.topic else None
    event = IntegrationEvent(
        type=contract.type,
        topic=topic_for(contract, routed),
        case_id=contract.case_id,
        data=data,
        id=event_id or str(uuid.uuid4()),
        source="/accord/conference",
    )
    inbox = ApplicationInbox(app, inbox_handlers(app), refusals=(CourtError,))
    inbox.process(event, type(contract).model_validate(data))
    return event.id


def agreement(
    court_reference: str | None = REFERENCE,
    case_id: str = CASE_ID,
    all_parties: bool = True,
    hours: int = 1,
) -> AgreementMade:
    return AgreementMade(
        case_id=case_id,
        court_reference=court_reference,
        items_status=STATUS_OPEN,
        outcome_consent_all_parties=all_parties,
        at=at(hours),
    )


def shared(court_reference: str | None = REFERENCE, hours: int = 2) -> AgreementItemsShared:
    return AgreementItemsShared(
        case_id=CASE_ID,
        recipient="court",
        court_reference=court_reference,
        items_text=TEXT,
        at=at(hours),
    )


def revoked(data_classes: list[str], hours: int = 3) -> ShareRevoked:
    return ShareRevoked(
        case_id=CASE_ID,
        recipient="court",
        data_classes=data_classes,
        reason="outcome_consent_withdrawn",
        at=at(hours),
    )


def outcome_consent(status: str, hours: int) -> ConsentChanged:
    return ConsentChanged(
        case_id=CASE_ID,
        consent_id="outcome-victim",
        scope="outcome",
        status=status,
        party="victim",
        at=at(hours),
    )


def published(app: CourtService) -> list[IntegrationEvent]:
    return [e for _, events in OutboxRelay(app, "unused").pending() for e in events]


def test_an_agreement_with_a_court_reference_links_the_court_case(app: CourtService) -> None:
    deliver(app, agreement())
    assert app.court_view(REFERENCE) == {
        "court_reference": REFERENCE,
        "case_id": CASE_ID,
        "version": 2,
        "decisions": [],
        "items_status": [
            {
                "item_id": "apology",
                "status": "open",
                "due_date": "2025-06-01",
                "completed_at": None,
            },
            {
                "item_id": "programme",
                "status": "open",
                "due_date": "2025-09-30",
                "completed_at": None,
            },
        ],
        "items_text": None,
    }
    assert [d["court_reference"] for d in app.court_views()] == [REFERENCE]
    assert app.contexts.policy_case(CASE_ID, "court")["outcome_consent_all_parties"] is True


def test_the_view_holds_exactly_the_catalogue_fields_of_a_court_case(
    app: CourtService,
) -> None:
    deliver(app, agreement())
    deliver(app, shared())
    catalogue = json.loads(CATALOGUE.read_text())["resources"]["court_case"]
    assert set(app.court_view(REFERENCE)) == set(catalogue)
    assert set(app.court_views()[0]) == set(catalogue)


def test_an_agreement_without_a_court_reference_is_no_court_case(app: CourtService) -> None:
    deliver(app, agreement(court_reference=None, all_parties=False))
    assert app.court_views() == []
    with pytest.raises(NotFound):
        app.court_view(REFERENCE)
    # The consent knowledge the policy needs is kept all the same.
    assert app.contexts.get(CASE_ID).version == 2


def test_item_reports_update_the_statuses(app: CourtService) -> None:
    deliver(app, agreement())
    deliver(
        app,
        ItemReported(
            case_id=CASE_ID,
            item_id="apology",
            status="completed",
            reported_by_agency="rj_provider",
            court_reference=REFERENCE,
            items_status=STATUS_APOLOGY_DONE,
            case_status="monitoring",
            at=at(5),
        ),
    )
    statuses = app.court_view(REFERENCE)["items_status"]
    assert [(s["item_id"], s["status"]) for s in statuses] == [
        ("apology", "completed"),
        ("programme", "open"),
    ]
    assert datetime.fromisoformat(statuses[0]["completed_at"]) == datetime(
        2025, 5, 20, 9, 0, tzinfo=UTC
    )


def test_item_text_is_held_while_shared_and_forgotten_on_revocation(app: CourtService) -> None:
    deliver(app, agreement())
    deliver(app, shared())
    assert app.court_view(REFERENCE)["items_text"] == TEXT
    deliver(app, revoked(["safety.flags"]))
    assert app.court_view(REFERENCE)["items_text"] == TEXT
    deliver(app, revoked(["agreement.items"], hours=4))
    view = app.court_view(REFERENCE)
    assert view["items_text"] is None
    assert len(view["items_status"]) == 2


def test_a_revocation_with_no_text_held_records_nothing(app: CourtService) -> None:
    deliver(app, agreement())
    version = app.court_case(REFERENCE).version
    deliver(app, revoked(["agreement.items"]))
    assert app.court_case(REFERENCE).version == version


def test_a_share_without_a_court_reference_reaches_the_cases_court_cases(
    app: CourtService,
) -> None:
    deliver(app, agreement())
    deliver(app, shared(court_reference=None))
    assert app.court_view(REFERENCE)["items_text"] == TEXT


def test_a_share_addressed_to_another_agency_is_not_held(app: CourtService) -> None:
    deliver(app, agreement())
    deliver(
        app,
        AgreementItemsShared(
            case_id=CASE_ID,
            recipient="police",
            court_reference=REFERENCE,
            items_text=TEXT,
            at=at(2),
        ),
    )
    assert app.court_view(REFERENCE)["items_text"] is None


def test_shared_text_arriving_before_the_agreement_is_kept(app: CourtService) -> None:
    deliver(app, shared(hours=1))
    deliver(app, agreement(hours=2))
    view = app.court_view(REFERENCE)
    assert view["items_text"] == TEXT
    assert [s["status"] for s in view["items_status"]] == ["open", "open"]
    deliver(app, revoked(["agreement.items"]))
    assert app.court_view(REFERENCE)["items_text"] is None


def test_a_withdrawn_outcome_consent_reaches_the_policy_input(app: CourtService) -> None:
    deliver(app, agreement())
    deliver(app, outcome_consent("active", 2))
    assert app.contexts.policy_case(CASE_ID, "court")["outcome_consent_all_parties"] is True
    deliver(app, outcome_consent("withdrawn", 3))
    assert app.contexts.policy_case(CASE_ID, "court")["outcome_consent_all_parties"] is False


def test_a_duplicate_delivery_has_no_second_effect(app: CourtService) -> None:
    first = deliver(app, agreement())
    court_case = app.court_case(REFERENCE)
    context_version = app.contexts.get(CASE_ID).version
    deliver(app, agreement(), event_id=first)
    text_id = deliver(app, shared())
    deliver(app, shared(), event_id=text_id)
    assert app.court_case(REFERENCE).version == court_case.version + 1
    assert app.contexts.get(CASE_ID).version == context_version
    assert len(app.court_views()) == 1
    assert app.already_processed(first) and app.already_processed(text_id)


def test_a_court_reference_is_never_attached_to_a_second_case(app: CourtService) -> None:
    deliver(app, agreement())
    deliver(app, agreement(case_id=OTHER_CASE_ID, hours=2))
    deliver(
        app,
        AgreementItemsShared(
            case_id=OTHER_CASE_ID,
            recipient="court",
            court_reference=REFERENCE,
            items_text=TEXT,
            at=at(3),
        ),
    )
    view = app.court_view(REFERENCE)
    assert (view["case_id"], view["items_text"]) == (CASE_ID, None)
    assert len(app.court_views()) == 1


def test_a_malformed_court_reference_is_refused_and_not_retried(app: CourtService) -> None:
    event_id = deliver(app, agreement(court_reference="T 2025 <1>"))
    assert app.court_views() == []
    assert app.already_processed(event_id)


def test_a_review_decision_is_published_without_notes_or_author(app: CourtService) -> None:
    deliver(app, agreement())
    before = len(published(app))
    assert app.record_review_decision(
        REFERENCE, "review_adjourned", JUDGE, "await programme", at=at(10)
    )
    assert app.record_review_decision(
        REFERENCE, "compliance_accepted", JUDGE, "all kept", at=at(11)
    )
    assert app.court_view(REFERENCE)["decisions"] == [
        {
            "decision": "review_adjourned",
            "by": JUDGE,
            "notes": "await programme",
            "at": at(10),
            "next_review_on": None,
        },
        {
            "decision": "compliance_accepted",
            "by": JUDGE,
            "notes": "all kept",
            "at": at(11),
            "next_review_on": None,
        },
    ]
    events = published(app)
    # Learning the case publishes nothing; each decision publishes one event.
    assert before == 0
    assert [(e.type, e.topic, e.case_id) for e in events] == [
        (ReviewDecided.type, COURT_TOPIC, CASE_ID)
    ] * 2
    assert ReviewDecided.model_validate(events[1].data) == ReviewDecided(
        case_id=CASE_ID, court_reference=REFERENCE, decision="compliance_accepted", at=at(11)
    )
    assert "all kept" not in json.dumps([e.data for e in events])
    assert JUDGE not in json.dumps([e.data for e in events])


def test_the_outbox_translation_of_one_stored_decision(app: CourtService) -> None:
    deliver(app, agreement())
    app.record_review_decision(REFERENCE, "returned_for_sentencing", JUDGE, "", at=at(10))
    stored = list(app.events.get(app.court_case(REFERENCE).id))
    routed = [r for e in stored for r in app.integration_events(e)]
    assert routed == [
        (
            ReviewDecided(
                case_id=CASE_ID,
                court_reference=REFERENCE,
                decision="returned_for_sentencing",
                at=at(10),
            ),
            None,
        )
    ]


def test_a_closed_review_refuses_another_decision(app: CourtService) -> None:
    deliver(app, agreement())
    app.record_review_decision(REFERENCE, "returned_for_sentencing", JUDGE, "breach", at=at(10))
    with pytest.raises(InvalidState) as refused:
        app.record_review_decision(REFERENCE, "compliance_accepted", JUDGE, "", at=at(11))
    assert (refused.value.code, refused.value.http_status) == ("invalid_state", 409)
    assert refused.value.details == {"state": "returned_for_sentencing"}
    with pytest.raises(ValidationFailed):
        app.record_review_decision(REFERENCE, "acquitted", JUDGE, "", at=at(12))
    assert len(published(app)) == 1


def test_a_repeated_idempotency_key_records_one_decision(app: CourtService) -> None:
    deliver(app, agreement())
    assert app.record_review_decision(
        REFERENCE, "review_adjourned", JUDGE, "", idempotency_key="k-1", at=at(10)
    )
    assert not app.record_review_decision(
        REFERENCE, "review_adjourned", JUDGE, "", idempotency_key="k-1", at=at(11)
    )
    assert app.record_review_decision(
        REFERENCE, "review_adjourned", JUDGE, "", idempotency_key="k-2", at=at(12)
    )
    assert [d["at"] for d in app.court_view(REFERENCE)["decisions"]] == [at(10), at(12)]


def test_decisions_on_an_unknown_court_reference_are_refused(app: CourtService) -> None:
    with pytest.raises(NotFound):
        app.record_review_decision("T2099/9", "compliance_accepted", JUDGE, "", at=at(1))


def test_the_composed_runtime_learns_from_every_subscribed_topic() -> None:
    runtime = make_runtime(ServiceSettings.for_service("court", 0, persistence="memory"))
    assert runtime.topics == [
        "accord.referral.events",
        "accord.conference.events",
        "accord.victim_support.events",
        "accord.share.court",
    ]
    assert runtime.inbox_types is not None
    assert {
        AgreementMade.type,
        ItemReported.type,
        AgreementItemsShared.type,
        ShareRevoked.type,
        ConsentChanged.type,
    } <= runtime.inbox_types
    app = runtime.app
    assert isinstance(app, CourtService)
    contract = shared()
    event = IntegrationEvent(
        type=contract.type,
        topic="accord.share.court",
        case_id=CASE_ID,
        data=contract.model_dump(mode="json"),
        id="share-1",
        source="/accord/conference",
    )
    assert runtime.inbox is not None
    runtime.inbox.process(event, contract)
    assert app.court_view(REFERENCE)["items_text"] == TEXT
