"""The court API's own rules, in process: who may call what, what a request may contain, and how
domain refusals become problem documents. Policy enforcement is switched off here because field
filtering is OPA's job and is tested against a real OPA elsewhere."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from accord_court.application import CourtService
from accord_court.main import make_api, make_runtime
from accord_kernel.contracts import AgreementMade
from accord_kernel.dev_tokens import mint
from accord_kernel.envelope import IntegrationEvent
from accord_kernel.settings import ServiceSettings
from accord_kernel.testing import submitted, tell
from fastapi.testclient import TestClient

CASE_ID = str(uuid.UUID(int=51))
REFERENCE = "T2025/0001"
DECISIONS = f"/court-cases/{REFERENCE}/decisions"


class Court:
    def __init__(self, tmp_path: Path) -> None:
        settings = ServiceSettings.for_service(
            "court", 0, persistence="memory", data_dir=tmp_path, enforce_policy=False
        )
        self.runtime = make_runtime(settings)
        self.client = TestClient(make_api(self.runtime))
        self.keys = tmp_path / "dev-keys"

    def headers(self, agency: str = "court", role: str = "judge", **extra: str) -> dict[str, str]:
        token = mint(self.keys, agency=agency, role=role, user=f"{agency}-{role}-7")
        return {"Authorization": f"Bearer {token}", **extra}

    def learn_agreement(self) -> None:
        tell(self.runtime, submitted(CASE_ID, court_reference=REFERENCE))
        contract = AgreementMade(
            case_id=CASE_ID,
            court_reference=REFERENCE,
            outcome_consent_all_parties=False,
            items_status=[
                {
                    "item_id": "apology",
                    "status": "open",
                    "due_date": "2025-06-01",
                    "completed_at": None,
                }
            ],
            at=datetime(2025, 5, 1, tzinfo=UTC),
        )
        event = IntegrationEvent(
            type=contract.type,
            topic="accord.conference.events",
            case_id=CASE_ID,
            data=contract.model_dump(mode="json"),
            id=str(uuid.uuid4()),
            source="/accord/conference",
        )
        assert self.runtime.inbox is not None
        self.runtime.inbox.process(event, contract)

    def decisions(self) -> list[dict[str, Any]]:
        app = self.runtime.app
        assert isinstance(app, CourtService)
        return app.court_view(REFERENCE)["decisions"]


@pytest.fixture
def court(tmp_path: Path) -> Court:
    return Court(tmp_path)


def test_a_judge_records_a_decision_on_a_reference_with_slashes(court: Court) -> None:
    court.learn_agreement()
    response = court.client.post(
        DECISIONS,
        headers=court.headers(),
        json={"decision": "review_adjourned", "notes": "programme"},
    )
    assert response.status_code == 204
    assert [(d["decision"], d["by"], d["notes"]) for d in court.decisions()] == [
        ("review_adjourned", "court-judge-7", "programme")
    ]
    read = court.client.get(f"/court-cases/{REFERENCE}", headers=court.headers(role="clerk"))
    assert read.status_code == 200
    assert read.json()["decisions"][0]["decision"] == "review_adjourned"
    listed = court.client.get("/court-cases", headers=court.headers(role="clerk"))
    assert [d["court_reference"] for d in listed.json()] == [REFERENCE]


def test_an_adjournment_names_the_day_the_review_resumes(court: Court) -> None:
    court.learn_agreement()
    final = court.client.post(
        DECISIONS,
        headers=court.headers(),
        json={"decision": "compliance_accepted", "next_review_on": "2026-03-01"},
    )
    assert final.status_code == 422
    assert final.json()["field"] == "next_review_on"
    response = court.client.post(
        DECISIONS,
        headers=court.headers(),
        json={"decision": "review_adjourned", "next_review_on": "2026-03-01"},
    )
    assert response.status_code == 204
    read = court.client.get(f"/court-cases/{REFERENCE}", headers=court.headers(role="clerk"))
    assert read.json()["decisions"][0]["next_review_on"] == "2026-03-01"


def test_the_list_narrows_to_one_rj_case_by_its_id(court: Court) -> None:
    court.learn_agreement()
    clerk = court.headers(role="clerk")
    mine = court.client.get("/court-cases", params={"case_id": CASE_ID}, headers=clerk)
    assert mine.status_code == 200
    assert [d["court_reference"] for d in mine.json()] == [REFERENCE]
    other = court.client.get(
        "/court-cases", params={"case_id": str(uuid.UUID(int=52))}, headers=clerk
    )
    assert other.status_code == 200
    assert other.json() == []
    bad = court.client.get("/court-cases", params={"case_id": "a/b"}, headers=clerk)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("agency", "role", "method", "path"),
    [
        ("police", "officer", "post", DECISIONS),
        ("rj_provider", "coordinator", "post", DECISIONS),
        ("police", "officer", "get", "/court-cases"),
        ("victim_services", "advocate", "get", "/court-cases"),
    ],
)
def test_other_agencies_may_not_decide_or_list(
    court: Court, agency: str, role: str, method: str, path: str
) -> None:
    court.learn_agreement()
    response = court.client.request(
        method.upper(),
        path,
        headers=court.headers(agency, role),
        json={"decision": "compliance_accepted"},
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "forbidden"
    assert court.decisions() == []


def test_requests_without_a_token_are_refused(court: Court) -> None:
    court.learn_agreement()
    for response in (
        court.client.get(f"/court-cases/{REFERENCE}"),
        court.client.post(DECISIONS, json={"decision": "compliance_accepted"}),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "acquitted"},
        {"decision": "compliance_accepted", "notes": "n" * 2001},
        {"decision": "compliance_accepted", "court_name": "Leeds"},
        {"decision": "compliance_accepted", "notes": 7},
        {},
    ],
)
def test_malformed_decisions_are_refused(court: Court, body: dict[str, Any]) -> None:
    court.learn_agreement()
    response = court.client.post(DECISIONS, headers=court.headers(), json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert court.decisions() == []


@pytest.mark.parametrize("reference", ["T%202025", "T2025_1", "x" * 65, "T%3Cscript%3E"])
def test_malformed_court_references_are_refused(court: Court, reference: str) -> None:
    response = court.client.get(f"/court-cases/{reference}", headers=court.headers())
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


def test_an_unknown_court_reference_is_not_found(court: Court) -> None:
    for response in (
        court.client.get("/court-cases/T2099/1", headers=court.headers()),
        court.client.post(
            "/court-cases/T2099/1/decisions",
            headers=court.headers(),
            json={"decision": "compliance_accepted"},
        ),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_a_closed_review_answers_a_state_conflict(court: Court) -> None:
    court.learn_agreement()
    first = court.client.post(
        DECISIONS, headers=court.headers(), json={"decision": "returned_for_sentencing"}
    )
    assert first.status_code == 204
    again = court.client.post(
        DECISIONS, headers=court.headers(), json={"decision": "compliance_accepted"}
    )
    assert again.status_code == 409
    assert (again.json()["code"], again.json()["state"]) == (
        "invalid_state",
        "returned_for_sentencing",
    )


def test_a_repeated_idempotency_key_has_no_second_effect(court: Court) -> None:
    court.learn_agreement()
    headers = court.headers(**{"Idempotency-Key": "decision-1"})
    for _ in range(2):
        response = court.client.post(
            DECISIONS, headers=headers, json={"decision": "review_adjourned"}
        )
        assert response.status_code == 204
    assert len(court.decisions()) == 1


def lose_one_race(court: Court, monkeypatch: pytest.MonkeyPatch, winner: str) -> None:
    """The next save of a decision finds that another change (`winner`'s decision by
    another clerk) was saved to the court case first."""
    app = court.runtime.app
    save = app.save
    raced = []

    def save_after_another_writer(*objs: Any) -> Any:
        if not raced:
            raced.append(True)
            other = app.court_case(REFERENCE)
            other.record_review_decision(winner, "clerk-2", "", datetime.now(UTC))
            save(other)
        return save(*objs)

    monkeypatch.setattr(app, "save", save_after_another_writer)


def test_a_decision_on_a_stale_version_is_a_version_conflict_412(
    court: Court, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Formerly the court answered a lost race with 409 `concurrent_update`; a version conflict
    is now 412 `version_conflict` in every service: the command is run again on the state that
    won, where the caller's If-Match is stale."""
    court.learn_agreement()
    version = court.runtime.app.court_view(REFERENCE)["version"]
    lose_one_race(court, monkeypatch, "review_adjourned")
    response = court.client.post(
        DECISIONS,
        headers=court.headers(**{"If-Match": f'"{version}"'}),
        json={"decision": "review_adjourned"},
    )
    assert response.status_code == 412, response.text
    assert response.json()["code"] == "version_conflict"
    assert response.json()["current_version"] == version + 1


def test_a_decision_without_a_version_is_decided_again_on_the_state_that_won(
    court: Court, monkeypatch: pytest.MonkeyPatch
) -> None:
    court.learn_agreement()
    lose_one_race(court, monkeypatch, "review_adjourned")
    response = court.client.post(
        DECISIONS, headers=court.headers(), json={"decision": "compliance_accepted"}
    )
    assert response.status_code == 204, response.text
    assert [d["decision"] for d in court.decisions()] == ["review_adjourned", "compliance_accepted"]
