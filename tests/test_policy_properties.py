"""Issue 3 / issue 5 property: random subjects, purposes and consent states, driven through
the victim-support service's real read endpoints and a real OPA, never see a field that SPEC
section 4 (the independent oracle in section4.py) forbids; nothing published carries location.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from accord_kernel.bus import ApplicationInbox
from accord_kernel.contracts import CONTRACTS, RiskAssessed
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.envelope import IntegrationEvent
from accord_kernel.identity import AGENCY_ROLES, FIGURES_ONLY_ROLES
from accord_kernel.settings import ServiceSettings
from accord_kernel.testing import AWAY, accepted, submitted, tell
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.section4 import Situation, may_see

pytestmark = pytest.mark.integration

CATALOGUE = json.loads(
    (Path(__file__).parents[1] / "policies/accord/catalogue/data.json").read_text()
)["resources"]
PURPOSES = [
    "case_management",
    "safeguarding",
    "compliance_review",
    "offender_communication",
    "emergency",
    "audit",
]
SHAREABLE = [
    "victim.location",
    "safety.flags",
    "safety.plan",
    "support.notes",
    "party.identity",
    "case.core",
]
READS = [
    ("victim_record", "/cases/{c}/victim"),
    ("safety_flags", "/cases/{c}/safety-flags"),
    ("safety_plan", "/cases/{c}/safety-plan"),
]
EXAMPLES = int(os.environ.get("ACCORD_PROPERTY_EXAMPLES", "60"))
SUBJECTS = [(a, r) for a, roles in AGENCY_ROLES.items() for r in sorted(roles)]
# Besides the victim and the enrolment account: managers and commissioners read figures, never
# a case (SPEC section 10).
NOT_STAFF = {("victim", "victim"), ("victim_services", "enrolment")} | {
    (a, r) for a, r in SUBJECTS if r in FIGURES_ONLY_ROLES
}
READ_COUNT = {"reads": 0, "fields_checked": 0, "situations": 0}


@pytest.fixture(scope="module")
def victim_service(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import accord_victim_support.main as vs

    work = tmp_path_factory.mktemp("properties")
    _, jwks = ensure_dev_keys(work / "keys")
    s = ServiceSettings.for_service(
        "victim-support",
        0,
        persistence="memory",
        opa_url=infrastructure.opa_url,
        jwks_path=jwks,
        data_dir=work,
    )
    runtime = vs.make_runtime(s)
    client = TestClient(vs.make_api(runtime))
    yield runtime, client, work / "keys"
    print(f"\nproperty check: {READ_COUNT}")


provision = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["permit", "permit", "deny"]),
        "agency": st.sampled_from(["police", "rj_provider", "court"]),
        "purposes": st.lists(st.sampled_from(PURPOSES), min_size=1, max_size=3, unique=True),
        "data_classes": st.lists(st.sampled_from(SHAREABLE), min_size=1, max_size=3, unique=True),
        "withdrawn": st.booleans(),
    }
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    provisions=st.lists(provision, max_size=4),
    risk=st.sampled_from([None, "standard", "medium", "high"]),
    grant_to=st.sampled_from([None, "police", "rj_provider", "court", "victim_services"]),
)
def test_no_response_ever_exceeds_section_4(
    victim_service: Any, provisions: list[dict[str, Any]], risk: str | None, grant_to: str | None
) -> None:
    """Each example is one consent state; every agency and role reads every resource for
    every purpose in it (12 subjects x 6 purposes x 3 resources = 216 situations)."""
    runtime, client, keys = victim_service
    case = str(uuid.uuid4())
    advocate = {"Authorization": "Bearer " + mint(keys, agency="victim_services", role="advocate")}
    now = datetime.now(UTC)
    # The case's responsible organisations are every agency's default dev organisation.
    tell(runtime, submitted(case), accepted(case))
    assert (
        client.post(
            f"/cases/{case}/victim",
            headers=advocate,
            json={
                "name": "Alex",
                "address": "1 Safe Street",
                "safe_contact_number": "+44 7700 900123",
                "refuge": True,
                "preferred_contact_method": "phone",
                "safe_contact_method": "via_advocate",
            },
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/cases/{case}/safety-flags",
            headers=advocate,
            json={"code": "stalking", "severity": "high"},
        ).status_code
        == 204
    )
    assert (
        client.put(
            f"/cases/{case}/safety-plan",
            headers=advocate,
            json={"content": "Plan", "review_date": (now + timedelta(days=30)).date().isoformat()},
        ).status_code
        == 204
    )
    assert (
        client.post(
            f"/cases/{case}/support-notes", headers=advocate, json={"text": "note"}
        ).status_code
        == 204
    )
    if risk is not None:
        contract = RiskAssessed(case_id=case, risk_band=risk, at=now)
        inbox = runtime.inbox
        assert isinstance(inbox, ApplicationInbox)
        inbox.process(
            IntegrationEvent(
                type=contract.type,
                topic="t",
                case_id=case,
                data=contract.model_dump(mode="json"),
                id=str(uuid.uuid4()),
                source="/test",
            ),
            contract,
        )
    live: list[dict[str, Any]] = []
    start, end = now - timedelta(minutes=5), now + timedelta(days=30)
    for p in provisions:
        body = {
            "type": p["type"],
            "agency": p["agency"],
            "purposes": p["purposes"],
            "data_classes": p["data_classes"],
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
        r = client.post(
            f"/cases/{case}/consents",
            headers=advocate,
            json={"scope": "share", "seen_alone": True, "provisions": [body]},
        )
        assert r.status_code == 201, r.text
        status = "active"
        if p["withdrawn"]:
            assert (
                client.post(
                    f"/consents/{r.json()['consent_id']}/withdrawal", headers=advocate, json={}
                ).status_code
                == 204
            )
            status = "withdrawn"
        live.append({**body, "status": status})
    grant_holder = f"{grant_to}-supervisor-grant"
    grant = None
    if grant_to is not None:
        holder = {
            "Authorization": "Bearer "
            + mint(
                keys,
                agency=grant_to,
                role=("clerk" if grant_to == "court" else "supervisor"),
                user=grant_holder,
            )
        }
        r = client.post(
            f"/cases/{case}/emergency-access",
            headers=holder,
            json={
                "reason_code": "imminent_risk_to_life",
                "justification": "Credible threat to life reported tonight by a neighbour",
                "data_classes": ["victim.location", "safety.flags"],
            },
        )
        if r.status_code == 201:
            grant = {
                "agency": grant_to,
                "data_classes": r.json()["data_classes"],
                "expires_at": r.json()["expires_at"],
            }
        else:
            assert r.status_code in (403, 422), r.text
    for agency, role in SUBJECTS:
        if (agency, role) in NOT_STAFF:
            # The victim and the enrolment service account have their own endpoints, managers
            # and commissioners their figures; every staff read refuses them outright,
            # whatever the case or its consents.
            token = {"Authorization": "Bearer " + mint(keys, agency=agency, role=role, org="x")}
            for _, path in READS:
                r = client.get(path.format(c=case), headers=token)
                assert r.status_code in (403, 404), (agency, role, path, r.text)
                READ_COUNT["reads"] += 1
            continue
        if agency in AWAY:
            # Another organisation of the same agency: the case does not exist for it.
            stranger = {
                "Authorization": "Bearer " + mint(keys, agency=agency, role=role, org=AWAY[agency])
            }
            for _, path in READS:
                r = client.get(path.format(c=case), headers=stranger)
                assert r.status_code == 404, (agency, role, path, r.text)
                READ_COUNT["reads"] += 1
        user = grant_holder if role == "supervisor" and agency == grant_to else f"{agency}-{role}"
        caller = {"Authorization": "Bearer " + mint(keys, agency=agency, role=role, user=user)}
        for purpose in PURPOSES:
            situation = Situation(
                agency=agency,
                role=role,
                user=user,
                purpose=purpose,
                now=datetime.now(UTC),
                provisions=live,
                risk_band=risk,
                grant=grant
                if grant and grant["agency"] == agency and user == grant_holder
                else None,
            )
            READ_COUNT["situations"] += 1
            for resource, path in READS:
                r = client.get(path.format(c=case), params={"purpose": purpose}, headers=caller)
                assert r.status_code in (200, 403), r.text
                READ_COUNT["reads"] += 1
                if r.status_code == 403:
                    continue
                for field_name in r.json():
                    data_class = CATALOGUE[resource][field_name]
                    READ_COUNT["fields_checked"] += 1
                    assert may_see(situation, data_class), (
                        f"{agency}/{role} purpose={purpose} saw {resource}.{field_name} "
                        f"({data_class}); provisions={live} risk={risk} grant={grant}"
                    )


def test_at_least_ten_thousand_situations_were_checked(victim_service: Any) -> None:
    if EXAMPLES >= 60:
        assert READ_COUNT["reads"] >= 10_000, READ_COUNT


def test_no_published_event_carries_location_or_unallowed_flags(victim_service: Any) -> None:
    runtime, _, _ = victim_service
    relay = runtime.relay()
    relay.batch_size = 1_000_000
    published = [e for _, batch in relay.pending(after=0) for e in batch]
    assert published, "the property test should have produced events"
    # Read at source: nothing consent-governed is ever routed to another agency.
    assert not [e for e in published if e.type.startswith("accord.share.")]
    for event in published:
        classes = CONTRACTS[event.type].field_classes()
        carried = {classes[f] for f in event.data if f in classes}
        assert "victim.location" not in carried, event.type
        assert not ({"safety.plan", "support.notes"} & carried), event.type
        # Flags are read at their source; no event carries them, to anyone.
        assert "safety.flags" not in carried, event.type
