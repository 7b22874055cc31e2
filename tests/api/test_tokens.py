"""Every non-health route of every service refuses missing, malformed, expired and forged tokens
and tokens whose claims have the wrong shape or name no known agency or role (401), refuses
agencies and roles the endpoint is not for (403), and never answers 500. (tests/api/
test_token_shapes.py tries every shape of claim and header on one route.)

Each route's expectation is written out below from the service's own routes; a route without an
expectation fails `test_every_route_has_an_expectation`, so a new endpoint cannot slip past
these checks unclassified."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from accord_kernel.identity import AGENCY_ROLES, FIGURES_ONLY_ROLES
from accord_referral.examples import dash, referral
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response

from tests.api.services_under_test import (
    AGENCY_ROLE_PAIRS,
    PUBLIC_PATHS,
    SERVICES,
    DevKeys,
    introduce,
    response_defects,
)

pytestmark = pytest.mark.integration

Callers = Mapping[str, frozenset[str]]


# The staff: every agency's roles but the victim's and the enrolment service account, which
# reach only the routes made for them (issue 17) and are refused by every other.
ALL_STAFF: Callers = {
    agency: roles - {"enrolment"} for agency, roles in AGENCY_ROLES.items() if agency != "victim"
}
# The staff who work cases: managers and commissioners read figures only (issue 23), so an
# agency's routes are not theirs unless a route names them.
STAFF_ROLES: Callers = {
    agency: roles - FIGURES_ONLY_ROLES
    for agency, roles in ALL_STAFF.items()
    if roles - FIGURES_ONLY_ROLES
}


def agencies(*names: str) -> Callers:
    """Every staff role of each named agency."""
    return {name: STAFF_ROLES[name] for name in names}


def roles(agency: str, *names: str) -> Callers:
    return {agency: frozenset(names)}


@dataclass(frozen=True)
class RouteRule:
    # None: a policy-filtered read that any agency may call; OPA decides which fields it sees.
    callers: Callers | None
    body: Mapping[str, Any] | None = None
    query: Mapping[str, str] | None = None


POLICY_FILTERED = None
# Checkpoints and proofs reveal hashes only, so anyone with a token may check the log.
ANY_AGENCY = ALL_STAFF
INVITERS = roles("victim_services", "advocate", "supervisor")
ENROLMENT = roles("victim_services", "enrolment")
VICTIM = roles("victim", "victim")
RJ_COORDINATION = roles("rj_provider", "coordinator", "supervisor")
RJ_PRACTICE = agencies("rj_provider")
REPORT_READERS: Callers = {
    **{a: frozenset({"manager"}) for a in ("police", "victim_services", "rj_provider", "court")},
    "commissioner": frozenset({"commissioner"}),
}
PROVISION = {
    "type": "permit",
    "agency": "rj_provider",
    "purposes": ["case_management"],
    "data_classes": ["case.core", "consent.summary"],
    "start": "2026-01-01T00:00:00Z",
    "end": "2027-12-31T00:00:00Z",
}

RULES: dict[str, dict[tuple[str, str], RouteRule]] = {
    "referral": {
        ("POST", "/referrals"): RouteRule(agencies("police"), referral()),
        ("GET", "/referrals"): RouteRule(POLICY_FILTERED),
        ("GET", "/referrals/{case_id}"): RouteRule(POLICY_FILTERED),
        ("POST", "/referrals/{case_id}/risk-assessments"): RouteRule(agencies("police"), dash(4)),
        ("POST", "/referrals/{case_id}/incidents"): RouteRule(
            agencies("police"), {"date": "2026-02-01", "summary": "A further incident"}
        ),
        ("POST", "/referrals/{case_id}/withdrawal"): RouteRule(
            agencies("police"), {"reason": "withdrawn at the victim's request"}
        ),
    },
    "victim-support": {
        ("POST", "/cases/{case_id}/victim"): RouteRule(
            agencies("victim_services"),
            {
                "name": "Alex Victim",
                "preferred_contact_method": "via_advocate",
                "address": "1 Example Road",
                "safe_contact_number": "+44 7700 900123",
            },
        ),
        ("GET", "/cases/{case_id}/victim"): RouteRule(POLICY_FILTERED),
        ("POST", "/cases/{case_id}/support-notes"): RouteRule(
            agencies("victim_services"), {"text": "Spoke with the victim about options"}
        ),
        ("POST", "/cases/{case_id}/consents"): RouteRule(
            agencies("victim_services"),
            {"scope": "participate", "seen_alone": True, "provisions": [PROVISION]},
        ),
        ("GET", "/cases/{case_id}/consents"): RouteRule(POLICY_FILTERED),
        ("GET", "/cases/{case_id}/consent-summary"): RouteRule(POLICY_FILTERED),
        ("GET", "/cases/{case_id}/consents/{consent_id}/fhir"): RouteRule(POLICY_FILTERED),
        ("POST", "/cases/{case_id}/consents/fhir"): RouteRule(
            agencies("victim_services"), {"resourceType": "Consent", "status": "active"}
        ),
        ("POST", "/consents/{consent_id}/withdrawal"): RouteRule(
            agencies("victim_services"), {"reason": "changed their mind"}
        ),
        ("POST", "/consents/{consent_id}/refresh"): RouteRule(
            agencies("victim_services"), {"new_end": "2027-12-31T00:00:00Z"}
        ),
        ("POST", "/cases/{case_id}/safety-flags"): RouteRule(
            agencies("victim_services"), {"code": "stalking", "severity": "high"}
        ),
        ("POST", "/cases/{case_id}/invitations"): RouteRule(INVITERS),
        ("GET", "/cases/{case_id}/invitations"): RouteRule(agencies("victim_services")),
        ("POST", "/invitations/{invitation_id}/revocation"): RouteRule(INVITERS),
        ("POST", "/invitations/redemptions"): RouteRule(ENROLMENT, {"code": "0000-0000-0000"}),
        ("POST", "/invitations/{invitation_id}/account"): RouteRule(
            ENROLMENT, {"sub": "victim-account-1"}
        ),
        ("GET", "/me/case"): RouteRule(VICTIM),
        ("GET", "/me/consents"): RouteRule(VICTIM),
        ("POST", "/me/consents/{consent_id}/withdrawal"): RouteRule(VICTIM, {}),
        ("PUT", "/me/preferences"): RouteRule(VICTIM, {"tell_me_about_agreement": True}),
        ("GET", "/me/access-log"): RouteRule(VICTIM),
        ("GET", "/me/agreement"): RouteRule(VICTIM),
        ("POST", "/cases/{case_id}/safety-flags/{code}/clearance"): RouteRule(
            agencies("victim_services"), {"reason": "order discharged"}
        ),
        ("GET", "/cases/{case_id}/safety-flags"): RouteRule(POLICY_FILTERED),
        ("PUT", "/cases/{case_id}/safety-plan"): RouteRule(
            agencies("victim_services"), {"content": "Plan agreed", "review_date": "2027-01-01"}
        ),
        ("GET", "/cases/{case_id}/safety-plan"): RouteRule(POLICY_FILTERED),
        ("GET", "/cases/{case_id}/notifications"): RouteRule(agencies("victim_services")),
        ("POST", "/cases/{case_id}/notifications/{index}/told"): RouteRule(
            agencies("victim_services")
        ),
        # Break-glass: a police supervisor only (SPEC section 4 names it in the police column).
        ("POST", "/cases/{case_id}/transfer"): RouteRule(
            agencies("victim_services"), {"to_org": "south-advocacy"}
        ),
        ("POST", "/cases/{case_id}/emergency-access"): RouteRule(
            roles("police", "supervisor"),
            {
                "reason_code": "imminent_risk_to_life",
                "justification": "Victim reported missing after threats to kill",
                "data_classes": ["victim.location"],
                "duration_minutes": 30,
            },
        ),
        ("GET", "/emergency-access/reviews"): RouteRule(agencies("audit", "victim_services")),
        ("POST", "/emergency-access/{grant_id}/review"): RouteRule(
            roles("audit", "privacy_officer"), {"outcome": "justified"}
        ),
    },
    "conference": {
        ("POST", "/facilitators"): RouteRule(
            RJ_COORDINATION,
            {
                "facilitator_id": "fac-1",
                "name": "Jo Facilitator",
                "accreditation_id": "acc-1",
                "accredited_until": "2028-01-01",
                "endorsement_expires": "2027-06-30",
            },
        ),
        ("GET", "/facilitators"): RouteRule(RJ_PRACTICE),
        ("POST", "/facilitators/{facilitator_id}/endorsement"): RouteRule(
            RJ_COORDINATION, {"endorsement_expires": "2027-06-30"}
        ),
        ("POST", "/facilitators/{facilitator_id}/supervision"): RouteRule(
            RJ_COORDINATION, {"notes_ref": "supervision-1"}
        ),
        ("GET", "/intake"): RouteRule(RJ_PRACTICE),
        ("GET", "/intake/{case_id}"): RouteRule(RJ_PRACTICE),
        ("POST", "/intake/{case_id}/accept"): RouteRule(RJ_COORDINATION),
        ("POST", "/intake/{case_id}/decline"): RouteRule(
            RJ_COORDINATION, {"reason": "no capacity in the area"}
        ),
        ("GET", "/cases"): RouteRule(POLICY_FILTERED),
        ("GET", "/cases/{case_id}"): RouteRule(POLICY_FILTERED),
        ("GET", "/cases/{case_id}/gate"): RouteRule(RJ_PRACTICE),
        ("POST", "/cases/{case_id}/facilitators"): RouteRule(
            RJ_COORDINATION, {"facilitator_id": "fac-1", "role": "lead"}
        ),
        ("POST", "/cases/{case_id}/offender-consent"): RouteRule(RJ_PRACTICE, {"given": True}),
        ("POST", "/cases/{case_id}/preparations"): RouteRule(
            RJ_PRACTICE, {"participant": "victim", "seen_alone": True, "coercion_screen": "passed"}
        ),
        ("POST", "/cases/{case_id}/conference"): RouteRule(
            RJ_PRACTICE, {"modality": "direct", "at_time": "2027-01-10T10:00:00Z"}
        ),
        ("POST", "/cases/{case_id}/conference/held"): RouteRule(RJ_PRACTICE, {"notes": ""}),
        ("POST", "/cases/{case_id}/stop"): RouteRule(
            RJ_PRACTICE, {"reason": "facilitator_judgement"}
        ),
        ("PUT", "/cases/{case_id}/agreement"): RouteRule(
            RJ_PRACTICE,
            {
                "items": [
                    {
                        "item_id": "item-1",
                        "what": "Attend a programme",
                        "owner": "offender",
                        "due_date": "2027-03-01",
                        "monitoring_agency": "rj_provider",
                    }
                ]
            },
        ),
        ("POST", "/cases/{case_id}/agreement/consents"): RouteRule(
            RJ_PRACTICE, {"party": "victim", "agrees": True, "share_with_court": False}
        ),
        ("POST", "/cases/{case_id}/agreement/outcome-sharing-withdrawal"): RouteRule(
            RJ_PRACTICE, {"party": "victim"}
        ),
        ("POST", "/cases/{case_id}/agreement/items/{item_id}/report"): RouteRule(
            agencies("rj_provider", "police", "victim_services", "court"),
            {"status": "completed", "evidence": "Certificate of attendance seen"},
        ),
    },
    "court": {
        ("GET", "/court-cases"): RouteRule(agencies("court")),
        ("GET", "/court-cases/{court_reference:path}"): RouteRule(POLICY_FILTERED),
        ("POST", "/court-cases/{court_reference:path}/decisions"): RouteRule(
            agencies("court"), {"decision": "compliance_accepted", "notes": ""}
        ),
    },
    "audit": {
        ("GET", "/checkpoint"): RouteRule(ANY_AGENCY),
        ("GET", "/verifier-key"): RouteRule(ANY_AGENCY),
        ("GET", "/entries/{index}"): RouteRule(agencies("audit")),
        ("GET", "/entries/{index}/canonical"): RouteRule(agencies("audit")),
        ("GET", "/proofs/inclusion"): RouteRule(ANY_AGENCY, query={"index": "0", "tree_size": "1"}),
        ("GET", "/proofs/consistency"): RouteRule(ANY_AGENCY, query={"first": "1", "second": "1"}),
        ("GET", "/cases/{case_id}/access"): RouteRule(roles("audit", "privacy_officer")),
        ("GET", "/cases/{case_id}/events"): RouteRule(roles("audit", "privacy_officer")),
        ("GET", "/victims/{case_id}/access-log"): RouteRule(agencies("victim_services")),
    },
    # Reports are decided by OPA (policies/accord/reporting): managers of the agencies with
    # cases, and commissioners (whose default scope is their region).
    "reporting": {
        ("GET", "/reports"): RouteRule(REPORT_READERS),
        ("GET", "/reports/{table}.csv"): RouteRule(REPORT_READERS),
    },
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    rule: RouteRule | None
    integer_params: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: FastAPI, service: str) -> list[Endpoint]:
    """Every method of every route, as the app serves it (router prefixes applied)."""
    found = []
    for route in iter_route_contexts(app.routes):
        path = route.path
        if path is None or path in PUBLIC_PATHS or path.startswith("/health/"):
            continue
        dependant = getattr(route.original_route, "dependant", None)
        integers = frozenset(
            p.name for p in getattr(dependant, "path_params", []) if p.field_info.annotation is int
        )
        for method in sorted(route.methods or ()):
            if method in ("HEAD", "OPTIONS"):
                continue
            found.append(Endpoint(method, path, RULES[service].get((method, path)), integers))
    return found


PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def fill_path(endpoint: Endpoint, known: Mapping[str, str]) -> str:
    """Path parameters become a random UUID (or 0 where the route wants an integer), unless
    the test has created a real resource for that name."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in known:
            return known[name]
        return "0" if name in endpoint.integer_params else str(uuid.uuid4())

    return PATH_PARAM.sub(value, endpoint.path)


def send(client: TestClient, endpoint: Endpoint, path: str, headers: Mapping[str, str]) -> Response:
    body = endpoint.rule.body if endpoint.rule is not None else None
    query = endpoint.rule.query if endpoint.rule is not None else None
    response: Response = client.request(
        endpoint.method,
        path,
        headers=dict(headers),
        params=dict(query) if query is not None else None,
        json=dict(body) if body is not None else None,
    )
    return response


def problem_defects(response: Response) -> list[str]:
    return response_defects(
        response.status_code, response.headers.get("content-type", ""), response.text
    )


def describe(endpoint: Endpoint, path: str, response: Response, why: str) -> str:
    return f"{endpoint.method} {path} -> {response.status_code} ({why}): {response.text[:300]}"


# --- tokens that must not authenticate anybody ----------------------------------------------


TokenMaker = Callable[[DevKeys, str, str], str]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_claims(agency: str, role: str, **overrides: Any) -> dict[str, Any]:
    """A caller's claims, valid for ten minutes from now; an override of None leaves a claim
    out. (test_token_shapes.py builds its tokens on these too.)"""
    issued = int(time.time())
    claims: dict[str, Any] = {
        "sub": f"{agency}-{role}-1",
        "agency": agency,
        "role": role,
        "org": f"{agency}-org",
        "iss": "accord-dev",
        "aud": "accord",
        "iat": issued,
        "nbf": issued,
        "exp": issued + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed_by_dev_key(keys: DevKeys, claims: dict[str, Any]) -> str:
    key = serialization.load_pem_private_key(keys.private_key_path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": keys.kid})


def _expired(keys: DevKeys, agency: str, role: str) -> str:
    return keys.token(agency, role, ttl_seconds=600, now=time.time() - 7200)


def _not_yet_valid(keys: DevKeys, agency: str, role: str) -> str:
    return keys.token(agency, role, ttl_seconds=600, now=time.time() + 3600)


def _foreign_key_same_kid(keys: DevKeys, agency: str, role: str) -> str:
    return jwt.encode(
        token_claims(agency, role),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": keys.kid},
    )


def _alg_none(keys: DevKeys, agency: str, role: str) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": keys.kid}
    return (
        _b64(json.dumps(header).encode())
        + "."
        + _b64(json.dumps(token_claims(agency, role)).encode())
        + "."
    )


def _hmac_with_public_key(keys: DevKeys, agency: str, role: str) -> str:
    # Algorithm confusion: the public key, which anyone may read, used as an HMAC secret.
    public_x = json.loads(keys.jwks_path.read_text())["keys"][0]["x"]
    return jwt.encode(
        token_claims(agency, role), public_x, algorithm="HS256", headers={"kid": keys.kid}
    )


def _tampered_claims(keys: DevKeys, agency: str, role: str) -> str:
    # A genuine court token whose payload is swapped for the target agency's claims.
    header, _, signature = keys.token("court", "clerk").split(".")
    payload = _b64(json.dumps(token_claims(agency, role)).encode())
    return f"{header}.{payload}.{signature}"


def _truncated_signature(keys: DevKeys, agency: str, role: str) -> str:
    return keys.token(agency, role)[:-6]


def _wrong_audience(keys: DevKeys, agency: str, role: str) -> str:
    return keys.token(agency, role, audience="another-system")


def _wrong_issuer(keys: DevKeys, agency: str, role: str) -> str:
    return keys.token(agency, role, issuer="someone-else")


def _without_expiry(keys: DevKeys, agency: str, role: str) -> str:
    return _signed_by_dev_key(keys, token_claims(agency, role, exp=None))


def _unknown_kid(keys: DevKeys, agency: str, role: str) -> str:
    return jwt.encode(
        token_claims(agency, role),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": "someone-elses-key"},
    )


def _claim_shape(**overrides: Any) -> TokenMaker:
    """A genuinely signed token for the caller whose claims differ as given (None: left out);
    a callable override is given the time of issue."""

    def make(keys: DevKeys, agency: str, role: str) -> str:
        claims = token_claims(agency, role)
        claims.update({k: v(claims["iat"]) if callable(v) else v for k, v in overrides.items()})
        return _signed_by_dev_key(keys, {k: v for k, v in claims.items() if v is not None})

    return make


BAD_TOKENS: dict[str, TokenMaker] = {
    "expired": _expired,
    "not_yet_valid": _not_yet_valid,
    "foreign_key_same_kid": _foreign_key_same_kid,
    "unknown_kid": _unknown_kid,
    "alg_none": _alg_none,
    "hs256_with_public_key": _hmac_with_public_key,
    "tampered_claims": _tampered_claims,
    "truncated_signature": _truncated_signature,
    "wrong_audience": _wrong_audience,
    "wrong_issuer": _wrong_issuer,
    "without_expiry": _without_expiry,
    # Shapes that answered 500 (a list agency or role), 403 (no agency) or were accepted.
    "agency_list": _claim_shape(agency=["police", "court"]),
    "role_object": _claim_shape(role={"role": "officer"}),
    "without_agency": _claim_shape(agency=None),
    "empty_sub": _claim_shape(sub=""),
    "org_with_control_characters": _claim_shape(org="north-police\x1b[2J"),
    "exp_as_string": _claim_shape(exp=lambda issued: str(issued + 600)),
    "exp_thousand_years_ahead": _claim_shape(exp=lambda issued: issued + 1000 * 365 * 86400),
}
BAD_AUTHORIZATION_HEADERS: dict[str, dict[str, str]] = {
    "missing": {},
    "empty_bearer": {"Authorization": "Bearer "},
    "basic_scheme": {"Authorization": "Basic YWxleDpwYXNzd29yZA=="},
    "not_a_jwt": {"Authorization": "Bearer not-a-jwt"},
    "three_garbage_segments": {"Authorization": "Bearer aaa.bbb.ccc"},
    "json_instead_of_jwt": {"Authorization": 'Bearer {"agency":"police","role":"officer"}'},
}


# --- fixtures -----------------------------------------------------------------------------


@dataclass
class ServiceUnderTest:
    name: str
    client: TestClient
    keys: DevKeys
    known: dict[str, str] = field(default_factory=dict)

    @property
    def app(self) -> FastAPI:
        app = self.client.app
        assert isinstance(app, FastAPI)
        return app

    def endpoints(self) -> list[Endpoint]:
        return endpoints(self.app, self.name)

    def notifications(self) -> int:
        return int(self.app.state.runtime.app.recorder.max_notification_id() or 0)


def _known_referral(client: TestClient, keys: DevKeys) -> dict[str, str]:
    response = client.post("/referrals", json=referral(), headers=keys.bearer("police", "officer"))
    assert response.status_code == 201, response.text
    return {"case_id": str(response.json()["case_id"])}


def _known_victim(client: TestClient, keys: DevKeys) -> dict[str, str]:
    case_id = str(uuid.uuid4())
    introduce(client, case_id)
    response = client.post(
        f"/cases/{case_id}/victim",
        json=RULES["victim-support"][("POST", "/cases/{case_id}/victim")].body,
        headers=keys.bearer("victim_services", "advocate"),
    )
    assert response.status_code == 201, response.text
    consent = client.post(
        f"/cases/{case_id}/consents",
        json=RULES["victim-support"][("POST", "/cases/{case_id}/consents")].body,
        headers=keys.bearer("victim_services", "advocate"),
    )
    assert consent.status_code == 201, consent.text
    return {"case_id": case_id, "consent_id": str(consent.json()["consent_id"])}


# Services where a route checks who is calling only once it has found the case (break-glass) or
# the consent get a real one, so that the refusal being tested is the agency check, not a 404.
KNOWN_RESOURCES: dict[str, Callable[[TestClient, DevKeys], dict[str, str]]] = {
    "referral": _known_referral,
    "victim-support": _known_victim,
    "reporting": lambda _client, _keys: {"table": "deadlines"},
}


@pytest.fixture(params=SERVICES)
def service(
    request: pytest.FixtureRequest, open_client: Callable[[str], TestClient], dev_keys: DevKeys
) -> ServiceUnderTest:
    name = str(request.param)
    client = open_client(name)
    setup = KNOWN_RESOURCES.get(name)
    known = setup(client, dev_keys) if setup else {}
    return ServiceUnderTest(name, client, dev_keys, known)


def a_permitted_caller(endpoint: Endpoint) -> tuple[str, str]:
    """The token a bad token imitates: one the route would accept, so only the defect of the
    token can explain a refusal."""
    if endpoint.rule is None or endpoint.rule.callers is None:
        return "police", "officer"
    agency = sorted(endpoint.rule.callers)[0]
    return agency, sorted(endpoint.rule.callers[agency])[0]


def refused_401(
    svc: ServiceUnderTest, headers_for: Callable[[Endpoint], dict[str, str]]
) -> list[str]:
    failures = []
    for endpoint in svc.endpoints():
        path = fill_path(endpoint, svc.known)
        response = send(svc.client, endpoint, path, headers_for(endpoint))
        defects = problem_defects(response)
        if response.status_code != 401:
            defects.append("expected 401")
        elif "bearer" not in response.headers.get("www-authenticate", "").lower():
            defects.append("401 without a WWW-Authenticate: Bearer challenge")
        if defects:
            failures.append(describe(endpoint, path, response, "; ".join(defects)))
    return failures


# --- tests --------------------------------------------------------------------------------


def test_every_route_has_an_expectation(service: ServiceUnderTest) -> None:
    found = service.endpoints()
    assert found, f"{service.name} exposes no routes"
    unclassified = [e.label for e in found if e.rule is None]
    stale = sorted(
        f"{m} {p}"
        for m, p in RULES[service.name]
        if (m, p) not in {(e.method, e.path) for e in found}
    )
    assert not unclassified, f"routes of {service.name} without an expectation: {unclassified}"
    assert not stale, f"expectations for routes {service.name} no longer has: {stale}"


@pytest.mark.parametrize("variant", sorted(BAD_AUTHORIZATION_HEADERS))
def test_missing_or_malformed_authorization_is_401(service: ServiceUnderTest, variant: str) -> None:
    failures = refused_401(service, lambda _: BAD_AUTHORIZATION_HEADERS[variant])
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("variant", sorted(BAD_TOKENS))
def test_invalid_token_is_401(service: ServiceUnderTest, variant: str) -> None:
    make = BAD_TOKENS[variant]

    def headers(endpoint: Endpoint) -> dict[str, str]:
        return {"Authorization": "Bearer " + make(service.keys, *a_permitted_caller(endpoint))}

    before = service.notifications()
    failures = refused_401(service, headers)
    assert not failures, "\n".join(failures)
    assert service.notifications() == before, "a refused request recorded something"


@pytest.mark.parametrize(
    ("agency", "role"), [("offender", "offender"), ("police", "judge"), ("audit", "supervisor")]
)
def test_genuine_token_with_unknown_agency_or_role_is_401(
    service: ServiceUnderTest, agency: str, role: str
) -> None:
    """Not a caller the endpoint refuses (403) but a token that identifies nobody we know."""
    token = _signed_by_dev_key(service.keys, token_claims(agency, role))
    failures = refused_401(service, lambda _: {"Authorization": f"Bearer {token}"})
    assert not failures, "\n".join(failures)


def test_agencies_and_roles_the_route_is_not_for_get_403(service: ServiceUnderTest) -> None:
    before = service.notifications()
    failures = []
    checked = 0
    for endpoint in service.endpoints():
        if endpoint.rule is None or endpoint.rule.callers is None:
            continue
        callers = endpoint.rule.callers
        path = fill_path(endpoint, service.known)
        for agency, role in AGENCY_ROLE_PAIRS:
            if role in callers.get(agency, frozenset()):
                continue
            checked += 1
            response = send(service.client, endpoint, path, service.keys.bearer(agency, role))
            defects = problem_defects(response)
            if response.status_code != 403:
                defects.append(f"expected 403 for {agency}/{role}")
            if defects:
                failures.append(describe(endpoint, path, response, "; ".join(defects)))
    assert not failures, "\n".join(failures)
    assert service.notifications() == before, "a refused request recorded something"
    if RULES[service.name]:
        assert checked, "no route of this service restricts its callers"


def test_callers_the_route_is_for_are_not_refused(service: ServiceUnderTest) -> None:
    """The other half of the 403 test: the same requests with a token the route is for get
    past authentication and the agency check (whatever the case's state then says)."""
    failures = []
    for endpoint in service.endpoints():
        if endpoint.rule is None:
            continue
        callers = endpoint.rule.callers or STAFF_ROLES
        path = fill_path(endpoint, service.known)
        for agency in sorted(callers):
            for role in sorted(callers[agency]):
                response = send(service.client, endpoint, path, service.keys.bearer(agency, role))
                defects = problem_defects(response)
                # A 403 from OPA (access_denied) is the policy's answer about this case; only a
                # refusal of who is calling would mean the rule above is wrong.
                refused = response.status_code == 401 or (
                    response.status_code == 403
                    and not defects
                    and response.json().get("code") in ("forbidden", "not_permitted")
                )
                if refused:
                    defects.append(f"{agency}/{role} refused")
                if defects:
                    failures.append(describe(endpoint, path, response, "; ".join(defects)))
    assert not failures, "\n".join(failures)
