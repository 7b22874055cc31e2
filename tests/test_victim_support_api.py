"""Issue 5 through the victim-services API with the real policy engine: consent input checks
store nothing; break-glass needs a reason, is time-limited, audited as such, and makes a
review task that a privacy officer completes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from accord_kernel.contracts import AccessRecorded
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.settings import ServiceSettings
from accord_kernel.testing import submitted, tell
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def vs(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import accord_victim_support.main as victim_support

    work: Path = tmp_path_factory.mktemp("victim-support-api")
    _, jwks = ensure_dev_keys(work / "keys")
    settings = ServiceSettings.for_service(
        "victim-support",
        0,
        persistence="memory",
        opa_url=infrastructure.opa_url,
        jwks_path=jwks,
        data_dir=work,
    )
    runtime = victim_support.make_runtime(settings)

    def token(
        agency: str, role: str, user: str | None = None, org: str | None = None
    ) -> dict[str, str]:
        return {
            "Authorization": "Bearer "
            + mint(work / "keys", agency=agency, role=role, user=user, org=org)
        }

    return TestClient(victim_support.make_api(runtime)), token, runtime


def new_case(vs: Any) -> str:
    client, token, runtime = vs
    case = str(uuid.uuid4())
    tell(runtime, submitted(case))  # victim services learns of the referral first
    r = client.post(
        f"/cases/{case}/victim",
        headers=token("victim_services", "advocate"),
        json={"name": "Alex", "address": "1 Safe Street", "preferred_contact_method": "phone"},
    )
    assert r.status_code == 201, r.text
    return case


def provision(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {
        "agency": "police",
        "purposes": ["safeguarding"],
        "data_classes": ["safety.flags"],
        "start": now.isoformat(),
        "end": (now + timedelta(days=30)).isoformat(),
    }
    body.update(overrides)
    return body


BAD_CONSENTS = {
    "expiry before start": provision(end=(datetime.now(UTC) - timedelta(days=1)).isoformat()),
    "unknown data class": provision(data_classes=["victim.shoe_size"]),
    "unknown agency": provision(agency="tabloid_press"),
    "no purpose": provision(purposes=[]),
    "naive datetime": provision(start="2026-11-01T00:00:00"),
}


@pytest.mark.parametrize("case", BAD_CONSENTS, ids=list(BAD_CONSENTS))
def test_bad_consent_is_422_and_stores_nothing(vs: Any, case: str) -> None:
    client, token, runtime = vs
    case_id = new_case(vs)
    r = client.post(
        f"/cases/{case_id}/consents",
        headers=token("victim_services", "advocate"),
        json={"scope": "share", "seen_alone": True, "provisions": [BAD_CONSENTS[case]]},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert runtime.app.consents(case_id) == []


def test_consent_not_seen_alone_is_refused(vs: Any) -> None:
    client, token, runtime = vs
    case_id = new_case(vs)
    r = client.post(
        f"/cases/{case_id}/consents",
        headers=token("victim_services", "advocate"),
        json={"scope": "share", "seen_alone": False, "provisions": [provision()]},
    )
    assert r.status_code == 422 and r.json()["code"] == "not_seen_alone"
    assert runtime.app.consents(case_id) == []


def test_break_glass_needs_a_reason_and_is_audited_and_reviewed(vs: Any) -> None:
    client, token, runtime = vs
    case_id = new_case(vs)
    supervisor = token("police", "supervisor", "sup-7")
    no_reason = client.post(
        f"/cases/{case_id}/emergency-access",
        headers=supervisor,
        json={"data_classes": ["victim.location"]},
    )
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required"
    officer = client.post(
        f"/cases/{case_id}/emergency-access",
        headers=token("police", "officer", "pc-7"),
        json={
            "reason_code": "imminent_risk_to_life",
            "justification": "Credible threat to life reported tonight",
            "data_classes": ["victim.location"],
        },
    )
    assert officer.status_code == 403
    before = client.get(
        f"/cases/{case_id}/victim", params={"purpose": "emergency"}, headers=supervisor
    )
    assert "address" not in before.json()
    granted = client.post(
        f"/cases/{case_id}/emergency-access",
        headers=supervisor,
        json={
            "reason_code": "imminent_risk_to_life",
            "justification": "Credible threat to life reported tonight by a neighbour",
            "data_classes": ["victim.location"],
            "duration_minutes": 30,
        },
    )
    assert granted.status_code == 201, granted.text
    expires = datetime.fromisoformat(granted.json()["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)
    read = client.get(
        f"/cases/{case_id}/victim", params={"purpose": "emergency"}, headers=supervisor
    )
    assert read.json()["address"] == "1 Safe Street"
    # another police supervisor holds no grant
    other = client.get(
        f"/cases/{case_id}/victim",
        params={"purpose": "emergency"},
        headers=token("police", "supervisor", "sup-8"),
    )
    assert "address" not in other.json()

    relay = runtime.relay()
    relay.batch_size = 1_000_000
    records = [
        e
        for _, batch in relay.pending(after=0)
        for e in batch
        if e.type == AccessRecorded.type
        and e.case_id == case_id
        and e.data["user"] == "sup-7"
        and "address" in e.data["fields_returned"]
    ]
    assert records and records[-1].data["break_glass"] is True
    assert records[-1].data["justification_ref"] == granted.json()["grant_id"]
    assert records[-1].data["lawful_basis"].get("victim.location") == "emergency"

    tasks = client.get(
        "/emergency-access/reviews", headers=token("audit", "privacy_officer", "po-1")
    ).json()
    task = next(t for t in tasks if t["grant_id"] == granted.json()["grant_id"])
    assert task["reason_code"] == "imminent_risk_to_life"
    done = client.post(
        f"/emergency-access/{task['grant_id']}/review",
        headers=token("audit", "privacy_officer", "po-1"),
        json={"outcome": "justified", "notes": "Threat confirmed"},
    )
    assert done.status_code == 204, done.text
    pending = client.get(
        "/emergency-access/reviews", headers=token("audit", "privacy_officer", "po-1")
    ).json()
    assert task["grant_id"] not in {t["grant_id"] for t in pending}


def test_break_glass_is_the_one_way_across_forces(vs: Any) -> None:
    client, token, _ = vs
    case_id = new_case(vs)
    stranger = token("police", "supervisor", "sup-south", org="south-police")
    assert (
        client.get(
            f"/cases/{case_id}/victim", params={"purpose": "emergency"}, headers=stranger
        ).status_code
        == 404
    )
    granted = client.post(
        f"/cases/{case_id}/emergency-access",
        headers=stranger,
        json={
            "reason_code": "missing_person",
            "justification": "Victim reported missing in our area tonight; last seen at a station",
            "data_classes": ["victim.location"],
        },
    )
    assert granted.status_code == 201, granted.text
    read = client.get(f"/cases/{case_id}/victim", params={"purpose": "emergency"}, headers=stranger)
    assert read.status_code == 200, read.text
    # Location only: break-glass opens nothing else of another force's case.
    assert set(read.json()) == {"address", "refuge", "safe_contact_method", "safe_contact_number"}
    assert client.get(f"/cases/{case_id}/victim", headers=stranger).status_code == 404


def test_while_opa_is_down_reads_fail_closed_and_withdrawal_still_works(
    vs: Any, infrastructure: Any
) -> None:
    """Deny by default: reads answer 503 with no case data and changes are refused, except a
    consent withdrawal by the case's own organisation, which only ever takes access away."""
    client, token, runtime = vs
    advocate = token("victim_services", "advocate")
    case_id = new_case(vs)
    r = client.post(
        f"/cases/{case_id}/consents",
        headers=advocate,
        json={"scope": "share", "seen_alone": True, "provisions": [provision()]},
    )
    assert r.status_code == 201, r.text
    consent_id = r.json()["consent_id"]
    infrastructure.opa.stop()
    try:
        read = client.get(f"/cases/{case_id}/victim", headers=advocate)
        assert read.status_code == 503 and "address" not in read.text
        flag = client.post(
            f"/cases/{case_id}/safety-flags",
            headers=advocate,
            json={"code": "weapon_access", "severity": "high"},
        )
        assert flag.status_code == 503
        stranger = client.post(
            f"/consents/{consent_id}/withdrawal",
            json={},
            headers=token("victim_services", "advocate", org="south-advocacy"),
        )
        assert stranger.status_code == 503
        assert runtime.app.consent(consent_id).status == "active"
        withdrawn = client.post(f"/consents/{consent_id}/withdrawal", headers=advocate, json={})
        assert withdrawn.status_code == 204, withdrawn.text
    finally:
        infrastructure.opa.start()
        infrastructure.opa.wait_ready(30)
    assert runtime.app.consent(consent_id).status == "withdrawn"
    assert runtime.app.victim_record(case_id).safety_flags == []
