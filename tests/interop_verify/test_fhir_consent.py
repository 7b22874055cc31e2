"""Issue 20 item 6: victim services exports each consent as an HL7 FHIR R5 Consent and records
one given as FHIR. Two real victim-services instances (each its own PostgreSQL database, the
real OPA): a consent exported by one and imported by the other is the same consent; every
export is valid according to fhir.resources; what Accord cannot record exactly is refused
with a problem; export and import are decided by the policy like the other consent routes.

The expected FHIR shape is written from docs/fhir-consent.md (the mapping) and the SPEC's
consent model, not read back from the code."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.settings import ServiceSettings
from accord_kernel.testing import AWAY, submitted, tell
from fastapi.testclient import TestClient
from fhir.resources.consent import Consent as FhirConsent

pytestmark = pytest.mark.integration

FHIR_JSON = "application/fhir+json"
BASE = "https://accord.example/fhir"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class VictimServices:
    client: TestClient
    runtime: Any
    token: Callable[..., dict[str, str]]

    def new_case(self) -> str:
        case = str(uuid.uuid4())
        tell(self.runtime, submitted(case))
        r = self.client.post(
            f"/cases/{case}/victim",
            headers=self.token("victim_services", "advocate"),
            json={"name": "Sam", "address": "2 Quiet Road", "preferred_contact_method": "phone"},
        )
        assert r.status_code == 201, r.text
        return case


def _service(infrastructure: Any, work: Path) -> VictimServices:
    import accord_victim_support.main as victim_support

    _, jwks = ensure_dev_keys(work / "keys")
    database = "fhir_" + uuid.uuid4().hex[:8]
    infrastructure.postgres.create_database(database)
    settings = ServiceSettings.for_service(
        "victim-support",
        0,
        persistence="postgres",
        database_url=infrastructure.postgres.url(database),
        opa_url=infrastructure.opa_url,
        jwks_path=jwks,
        data_dir=work,
    )
    runtime = victim_support.make_runtime(settings)

    def token(
        agency: str, role: str, user: str | None = "adv-1", org: str | None = None
    ) -> dict[str, str]:
        return {
            "Authorization": "Bearer "
            + mint(work / "keys", agency=agency, role=role, user=user, org=org)
        }

    return VictimServices(TestClient(victim_support.make_api(runtime)), runtime, token)


@pytest.fixture(scope="module")
def services(
    infrastructure: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[VictimServices, VictimServices]:
    """Two deployments: the one a consent is exported from and the one it is imported into."""
    return (
        _service(infrastructure, tmp_path_factory.mktemp("vs-source")),
        _service(infrastructure, tmp_path_factory.mktemp("vs-target")),
    )


def share_consent() -> dict[str, Any]:
    start, end = NOW - timedelta(hours=1), NOW + timedelta(days=90)
    return {
        "scope": "share",
        "seen_alone": True,
        "lawful_basis": "consent",
        "provisions": [
            {
                "type": "permit",
                "agency": "police",
                "purposes": ["safeguarding", "case_management"],
                "data_classes": ["safety.flags", "victim.location"],
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
            {
                "type": "permit",
                "agency": "rj_provider",
                "purposes": ["case_management"],
                "data_classes": ["safety.plan"],
                "start": start.isoformat(),
                "end": (NOW + timedelta(days=30)).isoformat(),
            },
            {
                "type": "deny",
                "agency": "police",
                "purposes": ["offender_communication"],
                "data_classes": ["victim.location"],
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
        ],
    }


def grant(vs: VictimServices, case: str, body: dict[str, Any]) -> str:
    r = vs.client.post(
        f"/cases/{case}/consents", headers=vs.token("victim_services", "advocate"), json=body
    )
    assert r.status_code == 201, r.text
    return str(r.json()["consent_id"])


def export(vs: VictimServices, case: str, consent: str, **who: Any) -> Any:
    headers = vs.token(*who.get("as_", ("victim_services", "advocate")), org=who.get("org"))
    return vs.client.get(f"/cases/{case}/consents/{consent}/fhir", headers=headers)


def import_(vs: VictimServices, case: str, resource: Any, **who: Any) -> Any:
    headers = vs.token(*who.get("as_", ("victim_services", "advocate")), org=who.get("org"))
    return vs.client.post(
        f"/cases/{case}/consents/fhir",
        headers={**headers, "Content-Type": FHIR_JSON},
        json=resource,
    )


def codes(concepts: list[dict[str, Any]], system: str) -> list[str]:
    return [c["code"] for concept in concepts for c in concept["coding"] if c["system"] == system]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_export_is_a_valid_r5_consent_that_says_what_the_consent_says(
    services: tuple[VictimServices, VictimServices],
) -> None:
    source, _ = services
    case = source.new_case()
    body = share_consent()
    consent = grant(source, case, body)
    r = export(source, case, consent)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(FHIR_JSON)
    resource = r.json()
    FhirConsent.model_validate(resource)  # raises unless valid according to fhir.resources
    assert resource["resourceType"] == "Consent" and resource["id"] == consent
    assert resource["status"] == "active"
    assert resource["decision"] == "deny", "Accord consents are deny by default"
    assert codes(resource["category"], f"{BASE}/CodeSystem/consent-scope") == ["share"]
    assert codes(resource["regulatoryBasis"], f"{BASE}/CodeSystem/lawful-basis") == ["consent"]
    (verification,) = resource["verification"]
    assert verification["verified"] is True
    assert codes([verification["verificationType"]], f"{BASE}/CodeSystem/verification") == [
        "seen-alone"
    ]
    assert verification["verifiedBy"]["identifier"]["value"] == "adv-1"
    grantees = [g["identifier"]["value"] for g in resource["grantee"]]
    assert sorted(grantees) == ["police", "rj_provider"], "the agencies permitted something"
    assert resource["subject"] == resource["grantor"][0]
    assert instant(resource["period"]["start"]) == NOW - timedelta(hours=1)
    assert instant(resource["period"]["end"]) == NOW + timedelta(days=90)

    exported = resource["provision"]
    assert len(exported) == len(body["provisions"])
    for given, provision in zip(body["provisions"], exported, strict=True):
        (actor,) = provision["actor"]
        assert actor["reference"]["identifier"] == {
            "system": f"{BASE}/CodeSystem/agency",
            "value": given["agency"],
        }
        assert sorted(p["code"] for p in provision["purpose"]) == sorted(given["purposes"])
        assert sorted(codes(provision["code"], f"{BASE}/CodeSystem/data-class")) == sorted(
            given["data_classes"]
        )
        assert instant(provision["period"]["start"]) == datetime.fromisoformat(given["start"])
        assert instant(provision["period"]["end"]) == datetime.fromisoformat(given["end"])
        denial = [
            e["valueCode"]
            for e in provision.get("modifierExtension", [])
            if e["url"] == f"{BASE}/StructureDefinition/provision-decision"
        ]
        # A deny is a modifier: a reader that ignores it may not read the provision as a permit.
        assert denial == (["deny"] if given["type"] == "deny" else [])


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """What makes two records the same consent: everything but the ids of the records, the
    case it belongs to and when it was recorded."""
    return {
        "scope": document["scope"],
        "status": document["status"],
        "seen_alone": document["seen_alone"],
        "verified_by": document["verified_by"],
        "lawful_basis": document["lawful_basis"],
        "provisions": [
            {**p, "start": instant(p["start"]), "end": instant(p["end"])}
            for p in document["provisions"]
        ],
    }


def consent_of(vs: VictimServices, case: str, consent: str) -> dict[str, Any]:
    r = vs.client.get(f"/cases/{case}/consents", headers=vs.token("victim_services", "advocate"))
    assert r.status_code == 200, r.text
    (found,) = [c for c in r.json() if c["consent_id"] == consent]
    return dict(found)


def test_export_then_import_elsewhere_is_the_same_consent(
    services: tuple[VictimServices, VictimServices],
) -> None:
    source, target = services
    for body in (
        share_consent(),
        {
            "scope": "participate",
            "seen_alone": True,
            "lawful_basis": "consent",
            "provisions": [
                {
                    "agency": "rj_provider",
                    "purposes": ["case_management"],
                    "start": (NOW - timedelta(minutes=5)).isoformat(),
                    "end": (NOW + timedelta(days=60)).isoformat(),
                }
            ],
        },
    ):
        case, other_case = source.new_case(), target.new_case()
        consent = grant(source, case, body)
        exported = export(source, case, consent).json()
        r = import_(target, other_case, exported)
        assert r.status_code == 201, r.text
        imported = r.json()["consent_id"]
        assert comparable(consent_of(target, other_case, imported)) == comparable(
            consent_of(source, case, consent)
        )
        # ... and the copy exports to the same resource, but for who and when it was recorded.
        again = export(target, other_case, imported).json()
        for resource in (exported, again):
            for volatile in ("id", "identifier", "subject", "grantor", "date"):
                resource.pop(volatile)
            resource["verification"][0].pop("verificationDate")
        assert again == exported


def test_an_imported_share_consent_takes_effect(
    services: tuple[VictimServices, VictimServices],
) -> None:
    source, target = services
    case, other_case = source.new_case(), target.new_case()
    exported = export(source, case, grant(source, case, share_consent())).json()
    assert import_(target, other_case, exported).status_code == 201
    r = target.client.get(
        f"/cases/{other_case}/consent-summary", headers=target.token("police", "officer")
    )
    assert r.status_code == 200, r.text
    grants = {g["agency"]: g["data_classes"] for g in r.json()["share_grants"]}
    # The deny provision for police covers victim.location, so the summary leaves it out.
    assert grants == {"police": ["safety.flags"], "rj_provider": ["safety.plan"]}


def test_a_withdrawn_consent_exports_as_inactive_and_is_not_imported(
    services: tuple[VictimServices, VictimServices],
) -> None:
    source, target = services
    case = source.new_case()
    consent = grant(source, case, share_consent())
    r = source.client.post(
        f"/consents/{consent}/withdrawal",
        headers=source.token("victim_services", "advocate"),
        json={},
    )
    assert r.status_code == 204, r.text
    resource = export(source, case, consent).json()
    FhirConsent.model_validate(resource)
    assert resource["status"] == "inactive"
    assert {"url": f"{BASE}/StructureDefinition/consent-status", "valueCode": "withdrawn"} in (
        resource["extension"]
    )
    other_case = target.new_case()
    refused = import_(target, other_case, resource)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_fhir_consent"
    assert target.runtime.app.consents(other_case) == []


def valid_resource(source: VictimServices) -> dict[str, Any]:
    case = source.new_case()
    resource: dict[str, Any] = export(source, case, grant(source, case, share_consent())).json()
    return resource


def _without_status(r: dict[str, Any]) -> None:
    r.pop("status")


def _permit_by_default(r: dict[str, Any]) -> None:
    r["decision"] = "permit"


def _not_seen_alone(r: dict[str, Any]) -> None:
    r.pop("verification")


def _unknown_modifier(r: dict[str, Any]) -> None:
    r["provision"][0]["modifierExtension"] = [
        {"url": "https://elsewhere.example/only-on-tuesdays", "valueBoolean": True}
    ]


def _unknown_data_class(r: dict[str, Any]) -> None:
    r["provision"][0]["code"][0]["coding"][0]["code"] = "genome"


def _unknown_agency(r: dict[str, Any]) -> None:
    r["provision"][0]["actor"][0]["reference"]["identifier"]["value"] = "newspaper"


def _date_only_period(r: dict[str, Any]) -> None:
    r["provision"][0]["period"]["end"] = "2099-01-01"


def _nested_provision(r: dict[str, Any]) -> None:
    r["provision"][0]["provision"] = [dict(r["provision"][1])]


def _not_fhir(r: dict[str, Any]) -> None:
    r["provision"][0]["period"]["start"] = "yesterday"


def _another_resource(r: dict[str, Any]) -> None:
    r["resourceType"] = "Patient"


def _unknown_element(r: dict[str, Any]) -> None:
    r["seenAlone"] = True


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        (_without_status, "invalid_fhir_consent"),
        (_permit_by_default, "invalid_fhir_consent"),
        (_not_seen_alone, "not_seen_alone"),
        (_unknown_modifier, "invalid_fhir_consent"),
        (_unknown_data_class, "invalid_fhir_consent"),
        (_unknown_agency, "invalid_fhir_consent"),
        (_date_only_period, "invalid_fhir_consent"),
        (_nested_provision, "invalid_fhir_consent"),
        (_not_fhir, "invalid_fhir_consent"),
        (_another_resource, "invalid_fhir_consent"),
        (_unknown_element, "invalid_fhir_consent"),
    ],
)
def test_what_accord_cannot_record_exactly_is_refused_with_a_problem(
    services: tuple[VictimServices, VictimServices],
    spoil: Callable[[dict[str, Any]], None],
    code: str,
) -> None:
    source, target = services
    resource = valid_resource(source)
    spoil(resource)
    case = target.new_case()
    r = import_(target, case, resource)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert "2 Quiet Road" not in r.text
    assert target.runtime.app.consents(case) == []


def test_export_and_import_are_decided_by_the_policy(
    services: tuple[VictimServices, VictimServices],
) -> None:
    source, _ = services
    case = source.new_case()
    consent = grant(source, case, share_consent())
    resource = export(source, case, consent).json()
    # SPEC section 4: consent.summary is for every agency of the case's organisations ...
    for agency, role in (("police", "officer"), ("court", "clerk")):
        r = export(source, case, consent, as_=(agency, role))
        assert r.status_code == 200, r.text
        FhirConsent.model_validate(r.json())
    # ... and section 4a: for another organisation the case and its consents do not exist.
    assert export(source, case, consent, org=AWAY["victim_services"]).status_code == 404
    assert (
        export(source, case, consent, as_=("police", "officer"), org=AWAY["police"]).status_code
        == 404
    )
    # A consent of another case is not found through this case.
    assert export(source, source.new_case(), consent).status_code == 404
    # Only the responsible victim-services organisation records a consent.
    assert import_(source, case, resource, as_=("police", "officer")).status_code == 403
    assert import_(source, case, resource, org=AWAY["victim_services"]).status_code == 404
    assert len(source.runtime.app.consents(case)) == 1
