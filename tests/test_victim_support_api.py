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
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def vs(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import accord_victim_support.main as victim_support

    work: Path = tmp_path_factory.mktemp("victim-support-api")
    _, jwks = ensure_dev_keys(work / "keys")
    settings = ServiceSettings.for_service("victim-support", 0, persistence="memory",
                                           opa_url=infrastructure.opa_url, jwks_path=jwks,
                                           data_dir=work)
    runtime = victim_support.make_runtime(settings)

    def token(agency: str, role: str, user: str | None = None) -> dict[str, str]:
        return {"Authorization": "Bearer " + mint(work / "keys", agency=agency, role=role,
                                                  user=user)}

    return TestClient(victim_support.make_api(runtime)), token, runtime


def new_case(vs: Any) -> str:
    client, token, _ = vs
    case = str(uuid.uuid4())
    r = client.post(f"/cases/{case}/victim", headers=token("victim_services", "advocate"),
                    json={"name": "Alex", "address": "1 Safe Street",
                          "preferred_contact_method": "phone"})
    assert r.status_code == 201, r.text
    return case


def provision(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {"agency": "police", "purposes": ["safeguarding"], "data_classes": ["safety.flags"],
            "start": now.isoformat(), "end": (now + timedelta(days=30)).isoformat()}
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
    r = client.post(f"/cases/{case_id}/consents", headers=token("victim_services", "advocate"),
                    json={"scope": "share", "seen_alone": True,
                          "provisions": [BAD_CONSENTS[case]]})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert runtime.app.consents(case_id) == []


def test_consent_not_seen_alone_is_refused(vs: Any) -> None:
    client, token, runtime = vs
    case_id = new_case(vs)
    r = client.post(f"/cases/{case_id}/consents", headers=token("victim_services", "advocate"),
                    json={"scope": "share", "seen_alone": False,
                          "provisions": [provision()]})
    assert r.status_code == 422 and r.json()["code"] == "not_seen_alone"
    assert runtime.app.consents(case_id) == []


def test_break_glass_needs_a_reason_and_is_audited_and_reviewed(vs: Any) -> None:
    client, token, runtime = vs
    case_id = new_case(vs)
    supervisor = token("police", "supervisor", "sup-7")
    no_reason = client.post(f"/cases/{case_id}/emergency-access", headers=supervisor,
                            json={"data_classes": ["victim.location"]})
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required"
    officer = client.post(f"/cases/{case_id}/emergency-access",
                          headers=token("police", "officer", "pc-7"),
                          json={"reason_code": "imminent_risk_to_life",
                                "justification": "Credible threat to life reported tonight",
                                "data_classes": ["victim.location"]})
    assert officer.status_code == 403
    before = client.get(f"/cases/{case_id}/victim", params={"purpose": "emergency"},
                        headers=supervisor)
    assert "address" not in before.json()
    granted = client.post(f"/cases/{case_id}/emergency-access", headers=supervisor, json={
        "reason_code": "imminent_risk_to_life",
        "justification": "Credible threat to life reported tonight by a neighbour",
        "data_classes": ["victim.location"], "duration_minutes": 30})
    assert granted.status_code == 201, granted.text
    expires = datetime.fromisoformat(granted.json()["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)
    read = client.get(f"/cases/{case_id}/victim", params={"purpose": "emergency"},
                      headers=supervisor)
    assert read.json()["address"] == "1 Safe Street"
    # another police supervisor holds no grant
    other = client.get(f"/cases/{case_id}/victim", params={"purpose": "emergency"},
                       headers=token("police", "supervisor", "sup-8"))
    assert "address" not in other.json()

    relay = runtime.relay()
    relay.batch_size = 1_000_000
    records = [e for _, batch in relay.pending(after=0) for e in batch
               if e.type == AccessRecorded.type and e.case_id == case_id
               and e.data["user"] == "sup-7" and "address" in e.data["fields_returned"]]
    assert records and records[-1].data["break_glass"] is True
    assert records[-1].data["justification_ref"] == granted.json()["grant_id"]
    assert records[-1].data["lawful_basis"].get("victim.location") == "emergency"

    tasks = client.get("/emergency-access/reviews", headers=token("audit", "privacy_officer",
                                                                  "po-1")).json()
    task = next(t for t in tasks if t["grant_id"] == granted.json()["grant_id"])
    assert task["reason_code"] == "imminent_risk_to_life"
    done = client.post(f"/emergency-access/{task['grant_id']}/review",
                       headers=token("audit", "privacy_officer", "po-1"),
                       json={"outcome": "justified", "notes": "Threat confirmed"})
    assert done.status_code == 204, done.text
    pending = client.get("/emergency-access/reviews",
                         headers=token("audit", "privacy_officer", "po-1")).json()
    assert task["grant_id"] not in {t["grant_id"] for t in pending}


def test_shares_fail_closed_while_opa_is_down_and_catch_up_after(vs: Any,
                                                                 infrastructure: Any) -> None:
    """Checked: a flag raised while the policy engine is down revokes what police held
    (deny by default) instead of sharing unchecked; once OPA is back the reconciliation the
    service runs every few seconds shares the current flags again."""
    client, token, runtime = vs
    app = runtime.app
    advocate = token("victim_services", "advocate")
    case_id = new_case(vs)
    assert client.post(f"/cases/{case_id}/safety-flags", headers=advocate,
                       json={"code": "stalking", "severity": "high"}).status_code == 204
    r = client.post(f"/cases/{case_id}/consents", headers=advocate, json={
        "scope": "share", "seen_alone": True, "provisions": [provision()]})
    assert r.status_code == 201
    assert [s["agency"] for s in app.ledger(case_id).who_has_what()] == ["police"]
    app.reconcile_shares()  # the start-up pass: nothing pending after it
    infrastructure.opa.stop()
    try:
        r = client.post(f"/cases/{case_id}/safety-flags", headers=advocate,
                        json={"code": "weapon_access", "severity": "high"})
        assert r.status_code == 204  # the advocate's record is never blocked by OPA
        assert app.ledger(case_id).who_has_what() == []
        assert case_id in (app.reshare_pending or set())
    finally:
        infrastructure.opa.start()
        infrastructure.opa.wait_ready(30)
    assert app.reconcile_shares() == 1
    held = app.ledger(case_id).current["police"]
    assert {f["code"] for f in held["flags"]} == {"stalking", "weapon_access"}
