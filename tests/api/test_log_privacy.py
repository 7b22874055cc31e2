"""Nothing a request carries about a victim ever reaches a log record: not on success, not when
validation fails, not when the caller is refused. Every logger runs at DEBUG for the test."""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from accord_referral.examples import referral
from fastapi.testclient import TestClient

from tests.api.services_under_test import DevKeys, introduce

pytestmark = pytest.mark.integration

NAME = "ZZMARKER-NAME"
OFFENDER = "ZZMARKER-OFFENDER"
ADDRESS = "ZZMARKER-ADDRESS"
PHONE = "+44 7700 913 579"  # a safe contact number must match the phone pattern to be stored
SUMMARY = "ZZMARKER-SUMMARY"
NOTE = "ZZMARKER-NOTE"
PLAN = "ZZMARKER-PLAN"
CHILD = "ZZMARKER-CHILD"
SUPPORT_PERSON = "ZZMARKER-SUPPORT"
MARKERS = (NAME, OFFENDER, ADDRESS, PHONE, SUMMARY, NOTE, PLAN, CHILD, SUPPORT_PERSON, "ZZMARKER")
STANDARD_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


LogRecords = Callable[[], list[logging.LogRecord]]


class EveryRecord(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records(caplog: pytest.LogCaptureFixture) -> Iterator[LogRecords]:
    """caplog at DEBUG on the root, plus a handler on each logger that does not propagate and
    DEBUG on each logger that set its own level, so no logger is out of earshot."""
    caplog.set_level(logging.DEBUG)
    isolated_records = EveryRecord()
    loggers = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    levels = {logger: logger.level for logger in loggers}
    isolated = [logger for logger in loggers if not logger.propagate]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    for logger in isolated:
        logger.addHandler(isolated_records)
    yield lambda: [*caplog.records, *isolated_records.records]
    for logger in isolated:
        logger.removeHandler(isolated_records)
    for logger, level in levels.items():
        logger.setLevel(level)


def rendered(record: logging.LogRecord) -> str:
    """Everything of a record that a handler or formatter could write out."""
    parts = [str(record.msg), repr(record.args)]
    try:
        parts.append(record.getMessage())
    except (TypeError, ValueError):
        parts.append("<unformattable>")
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    parts.extend(
        f"{k}={v!r}" for k, v in vars(record).items() if k not in STANDARD_RECORD_ATTRIBUTES
    )
    return "\n".join(parts)


def leaks(records: list[logging.LogRecord]) -> list[str]:
    found = []
    for record in records:
        text = rendered(record)
        hits = [m for m in MARKERS if m in text]
        if hits:
            found.append(f"{record.name} {record.levelname} {hits}: {text[:300]}")
    return found


def assert_no_leaks(records: list[logging.LogRecord]) -> None:
    assert records, "nothing was logged at all: the capture is not listening"
    found = leaks(records)
    assert not found, "\n".join(found)


def victim_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": NAME,
        "date_of_birth": "1990-01-01",
        "address": ADDRESS,
        "safe_contact_number": PHONE,
        "refuge": True,
        "preferred_contact_method": "phone",
        "children": [{"age": 7, "needs": CHILD}],
    }
    body.update(overrides)
    return body


def marked_referral(**overrides: Any) -> dict[str, Any]:
    body = referral()
    body["victim"] = {"name": NAME, "date_of_birth": "1990-01-01"}
    body["offender"] = {"name": OFFENDER, "date_of_birth": "1988-05-05"}
    body["incident"] = {**body["incident"], "summary": SUMMARY}
    body.update(overrides)
    return body


def expect(status: int | tuple[int, ...], response: Any) -> Any:
    allowed = status if isinstance(status, tuple) else (status,)
    assert response.status_code in allowed, (response.status_code, response.text)
    return response


def test_referral_data_never_reaches_the_logs(
    log_records: LogRecords, open_client: Callable[[str], TestClient], dev_keys: DevKeys
) -> None:
    client = open_client("referral")
    police = dev_keys.bearer("police", "officer")
    created = expect(201, client.post("/referrals", json=marked_referral(), headers=police))
    case_id = created.json()["case_id"]
    assert created.json()["victim_name"] == NAME  # the markers really went in
    expect(200, client.get(f"/referrals/{case_id}", headers=police))
    expect(200, client.get("/referrals", headers=police))
    expect(
        204,
        client.post(
            f"/referrals/{case_id}/incidents",
            headers=police,
            json={"date": "2026-02-01", "summary": SUMMARY},
        ),
    )
    expect(
        204, client.post(f"/referrals/{case_id}/withdrawal", headers=police, json={"reason": NAME})
    )

    future_birth = marked_referral(victim={"name": NAME, "date_of_birth": "2999-01-01"})
    unknown_field = marked_referral(victim_address=ADDRESS)
    too_long = marked_referral(victim={"name": NAME * 20})
    bad_reference = marked_referral(court_reference=NAME + " " + ADDRESS)
    wrong_type = marked_referral(offender_acknowledged=NAME)
    for invalid in (future_birth, unknown_field, too_long, bad_reference, wrong_type):
        expect(422, client.post("/referrals", json=invalid, headers=police))
    expect(
        422,
        client.post(
            "/referrals",
            headers={**police, "Content-Type": "application/json"},
            content=json.dumps(marked_referral())[:-40],
        ),
    )
    # Recorded and screened out with a reason, so the refusal path runs on the markers too.
    expect(
        201,
        client.post("/referrals", json=marked_referral(initiated_by="offender"), headers=police),
    )
    expect(
        403,
        client.post(
            "/referrals", json=marked_referral(), headers=dev_keys.bearer("court", "clerk")
        ),
    )
    expect(401, client.post("/referrals", json=marked_referral()))
    expect(
        422,
        client.post(
            f"/referrals/{case_id}/incidents",
            headers=police,
            json={"date": "2999-01-01", "summary": SUMMARY},
        ),
    )

    assert_no_leaks(log_records())


def test_victim_record_never_reaches_the_logs(
    log_records: LogRecords, open_client: Callable[[str], TestClient], dev_keys: DevKeys
) -> None:
    client = open_client("victim-support")
    advocate = dev_keys.bearer("victim_services", "advocate")
    case_id = str(uuid.uuid4())
    introduce(client, case_id)
    expect(201, client.post(f"/cases/{case_id}/victim", json=victim_body(), headers=advocate))
    record = expect(200, client.get(f"/cases/{case_id}/victim", headers=advocate)).json()
    assert record["address"] == ADDRESS  # the markers really went in
    expect(
        204, client.post(f"/cases/{case_id}/support-notes", json={"text": NOTE}, headers=advocate)
    )
    expect(
        204,
        client.put(
            f"/cases/{case_id}/safety-plan",
            headers=advocate,
            json={"content": PLAN, "review_date": "2027-01-01"},
        ),
    )
    expect(200, client.get(f"/cases/{case_id}/safety-plan", headers=advocate))
    expect(200, client.get(f"/cases/{case_id}/victim", headers=dev_keys.bearer("court", "clerk")))
    expect(409, client.post(f"/cases/{case_id}/victim", json=victim_body(), headers=advocate))

    other = str(uuid.uuid4())
    introduce(client, other)
    invalid_bodies = [
        victim_body(safe_contact_number=NAME),
        victim_body(address=ADDRESS * 40),
        victim_body(children=[{"age": 30, "needs": CHILD}]),
        victim_body(preferred_contact_method=ADDRESS),
        victim_body(date_of_birth=NAME),
        victim_body(home_address=ADDRESS),
        victim_body(name=""),
    ]
    for invalid in invalid_bodies:
        expect(422, client.post(f"/cases/{other}/victim", json=invalid, headers=advocate))
    expect(
        422,
        client.post(
            f"/cases/{other}/victim",
            headers={**advocate, "Content-Type": "application/json"},
            content=json.dumps(victim_body())[:-25],
        ),
    )
    expect(
        422,
        client.put(
            f"/cases/{case_id}/safety-plan",
            headers=advocate,
            json={"content": PLAN, "review_date": NAME},
        ),
    )
    expect(
        422,
        client.post(f"/cases/{case_id}/support-notes", json={"text": NOTE * 700}, headers=advocate),
    )
    expect(
        403,
        client.post(
            f"/cases/{other}/victim",
            json=victim_body(),
            headers=dev_keys.bearer("police", "officer"),
        ),
    )
    expect(401, client.post(f"/cases/{other}/victim", json=victim_body()))

    assert_no_leaks(log_records())


def test_preparation_details_never_reach_the_logs(
    log_records: LogRecords, open_client: Callable[[str], TestClient], dev_keys: DevKeys
) -> None:
    client = open_client("conference")
    coordinator = dev_keys.bearer("rj_provider", "coordinator")
    case_id = str(uuid.uuid4())
    preparation = {
        "participant": "victim",
        "seen_alone": True,
        "coercion_screen": "passed",
        "support_persons": [SUPPORT_PERSON],
        "childrens_needs": CHILD,
        "notes": NOTE,
    }
    expect(
        404, client.post(f"/cases/{case_id}/preparations", json=preparation, headers=coordinator)
    )
    expect(
        422,
        client.post(
            f"/cases/{case_id}/preparations",
            headers=coordinator,
            json={**preparation, "support_persons": [SUPPORT_PERSON] * 11},
        ),
    )
    expect(
        422,
        client.post(
            f"/cases/{case_id}/preparations",
            headers=coordinator,
            json={**preparation, "participant": NAME},
        ),
    )
    expect(
        403,
        client.post(
            f"/cases/{case_id}/preparations",
            json=preparation,
            headers=dev_keys.bearer("police", "officer"),
        ),
    )

    assert_no_leaks(log_records())


def test_court_data_never_reaches_the_logs(
    log_records: LogRecords, open_client: Callable[[str], TestClient], dev_keys: DevKeys
) -> None:
    from datetime import UTC, datetime

    from accord_kernel.contracts import AgreementItemsShared, AgreementMade
    from accord_kernel.testing import tell

    client = open_client("court")
    case_id, reference = str(uuid.uuid4()), "ZZ" + uuid.uuid4().hex[:8].upper()
    introduce(client, case_id, court_reference=reference)
    now = datetime.now(UTC)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    tell(
        runtime,
        AgreementMade(
            case_id=case_id,
            court_reference=reference,
            at=now,
            outcome_consent_all_parties=True,
            items_status=[
                {"item_id": "i1", "status": "open", "due_date": "2027-01-01", "completed_at": None}
            ],
        ),
        AgreementItemsShared(
            case_id=case_id,
            recipient="court",
            court_reference=reference,
            items_text=[{"item_id": "i1", "what": SUMMARY}],
            at=now,
        ),
    )
    judge = dev_keys.bearer("court", "judge")
    expect(200, client.get(f"/court-cases/{reference}", headers=judge))
    expect(200, client.get("/court-cases", headers=judge))
    expect(
        204,
        client.post(
            f"/court-cases/{reference}/decisions",
            headers=judge,
            json={"decision": "review_adjourned", "notes": NOTE},
        ),
    )
    expect(
        422,
        client.post(
            f"/court-cases/{reference}/decisions",
            headers=judge,
            json={"decision": NAME, "notes": NOTE},
        ),
    )
    expect(
        422,
        client.post(
            f"/court-cases/{reference}/decisions",
            headers=judge,
            json={"decision": "review_adjourned", "notes": NOTE * 300},
        ),
    )
    expect(
        404,
        client.get(
            f"/court-cases/{reference}",
            headers=dev_keys.bearer("court", "clerk", org="south-court"),
        ),
    )
    expect(
        403,
        client.post(
            f"/court-cases/{reference}/decisions",
            json={"notes": NOTE, "decision": "review_adjourned"},
            headers=dev_keys.bearer("police", "officer"),
        ),
    )
    assert_no_leaks(log_records())


def test_audit_requests_never_put_victim_data_in_the_logs(
    log_records: LogRecords, open_client: Callable[[str], TestClient], dev_keys: DevKeys
) -> None:
    client = open_client("audit")
    privacy = dev_keys.bearer("audit", "privacy_officer")
    case_id = str(uuid.uuid4())
    expect(200, client.get(f"/cases/{case_id}/access", headers=privacy))
    expect(200, client.get(f"/cases/{case_id}/events", headers=privacy))
    # Paths and queries carry ids, never victim data, so no markers go there (a log may show a
    # URL); the audit service holds no victim data to leak in the first place.
    expect(
        422,
        client.get("/proofs/inclusion", params={"index": "x", "tree_size": 1}, headers=privacy),
    )
    expect(
        404,
        client.get(
            f"/victims/{case_id}/access-log", headers=dev_keys.bearer("victim_services", "advocate")
        ),
    )
    expect(
        403, client.get(f"/cases/{case_id}/access", headers=dev_keys.bearer("police", "officer"))
    )
    assert_no_leaks(log_records())
