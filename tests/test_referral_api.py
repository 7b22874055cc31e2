"""Issue 4 through the police API with the real policy engine: each jurisdiction pack's rules,
bad input refused with a 422 naming the field and nothing stored, working-day deadlines."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.settings import ServiceSettings
from accord_referral.examples import referral
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def police_api(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import accord_referral.main as referral_service

    work: Path = tmp_path_factory.mktemp("referral-api")
    _, jwks = ensure_dev_keys(work / "keys")
    settings = ServiceSettings.for_service(
        "referral",
        0,
        persistence="memory",
        opa_url=infrastructure.opa_url,
        jwks_path=jwks,
        data_dir=work,
    )
    runtime = referral_service.make_runtime(settings)
    client = TestClient(referral_service.make_api(runtime))
    headers = {"Authorization": "Bearer " + mint(work / "keys", agency="police", role="officer")}
    return client, headers, runtime.app


def submit(police_api: Any, **kwargs: Any) -> dict[str, Any]:
    client, headers, _ = police_api
    r = client.post("/referrals", json=referral(**kwargs), headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_nova_scotia_moratorium_makes_every_referral_ineligible(police_api: Any) -> None:
    body = submit(police_api, jurisdiction="nova-scotia")
    assert body["eligibility"] == "ineligible"
    assert "rj_not_permitted_in_jurisdiction" in body["eligibility_reasons"]


def test_scotland_refuses_a_police_initiated_referral(police_api: Any) -> None:
    body = submit(police_api, jurisdiction="scotland", initiated_by="police")
    assert body["eligibility"] == "ineligible"
    assert "initiator_not_permitted" in body["eligibility_reasons"]
    assert (
        submit(police_api, jurisdiction="scotland", initiated_by="victim", yes=2)["eligibility"]
        == "eligible_direct"
    )


def test_high_risk_in_england_and_wales_is_indirect_only(police_api: Any) -> None:
    body = submit(police_api, yes=15)
    assert body["risk_band"] == "high"
    assert body["eligibility"] == "eligible_indirect_only"
    assert body["eligibility_reasons"] == ["risk_too_high_for_direct"]


@pytest.mark.parametrize(
    "jurisdiction", ["england-wales", "scotland", "new-zealand", "nova-scotia"]
)
def test_offender_initiated_is_refused_everywhere(police_api: Any, jurisdiction: str) -> None:
    body = submit(police_api, jurisdiction=jurisdiction, initiated_by="offender")
    assert body["eligibility"] == "ineligible"
    assert "offender_initiated" in body["eligibility_reasons"]


def test_no_acknowledgement_is_refused(police_api: Any) -> None:
    body = submit(police_api, acknowledged=False)
    assert "no_acknowledgement_of_responsibility" in body["eligibility_reasons"]


def test_deadlines_are_working_days(police_api: Any) -> None:
    from datetime import datetime

    from accord_referral.calendars import local_zone, public_holidays

    body = submit(police_api)
    moment = datetime.fromisoformat(body["submitted_at"].replace("Z", "+00:00"))
    bank_holidays = public_holidays("england-wales", moment)
    submitted = moment.astimezone(local_zone("england-wales")).date()
    due = date.fromisoformat(body["deadlines"]["victim_information_due"])
    days, cursor = 0, submitted
    while cursor < due:
        cursor += timedelta(days=1)
        if cursor.weekday() < 5 and cursor not in bank_holidays:
            days += 1
    assert days == 5 and due.weekday() < 5 and due not in bank_holidays


def _bad(**changes: Any) -> dict[str, Any]:
    body = referral()
    for path, value in changes.items():
        target = body
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        if value is ...:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return body


BAD_INPUT = {
    "unknown jurisdiction": (_bad(jurisdiction="atlantis"), "jurisdiction"),
    "25 DASH answers": (
        _bad(
            risk_assessment__answers={
                **referral()["risk_assessment"]["answers"],
                "extra_question": True,
            }
        ),
        "risk_assessment.answers",
    ),
    "23 DASH answers": (
        _bad(
            risk_assessment__answers=dict(
                list(referral()["risk_assessment"]["answers"].items())[:23]
            )
        ),
        "risk_assessment.answers",
    ),
    "incident in the future": (
        _bad(incident__date=(date.today() + timedelta(days=3)).isoformat()),
        "incident.date",
    ),
    "birth in the future": (_bad(victim__date_of_birth="2999-01-01"), "victim.date_of_birth"),
    "missing victim": (_bad(victim=...), "victim"),
    "missing offender": (_bad(offender=...), "offender"),
    "oversized summary": (_bad(incident__summary="x" * 5000), "incident.summary"),
    "oversized name": (_bad(victim__name="x" * 201), "victim.name"),
    "unknown field": (_bad(location_of_refuge="somewhere"), "location_of_refuge"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(police_api: Any, case: str) -> None:
    client, headers, app = police_api
    body, field = BAD_INPUT[case]
    before = len(app.referrals(limit=100_000))
    r = client.post("/referrals", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert field in problem["detail"]
    assert "x" * 50 not in r.text  # the offending value is not echoed back
    assert len(app.referrals(limit=100_000)) == before


def test_concurrent_submissions_all_succeed(police_api: Any) -> None:
    """Four officers submitting at once collide on the referral index; every submission
    is retried on the state that won and none is refused or lost."""
    import threading

    client, headers, app = police_api
    before = len(app.referrals(limit=100_000))
    codes: list[int] = []

    def officer() -> None:
        for _ in range(10):
            codes.append(client.post("/referrals", json=referral(), headers=headers).status_code)

    threads = [threading.Thread(target=officer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(201) == 40, codes
    assert len(app.referrals(limit=100_000)) == before + 40
