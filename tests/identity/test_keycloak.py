"""Keycloak as the identity provider (issue 16, SPEC §2 identity): the realm imported from
deploy/keycloak gives every dev user a token with the claims the services need, the portal's
client is the browser flow with PKCE only, and a service accepts Keycloak's tokens next to the
dev tokens and refuses a tampered one."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.identity import AGENCY_ROLES
from accord_kernel.settings import ServiceSettings
from accord_platform.identity_provider import (
    PORTAL_CLIENT,
    PORTAL_SECRET,
    KeycloakServer,
    dev_users,
)
from accord_platform.infra import REPO, OpaServer, free_port, provisioned
from accord_referral.examples import referral
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def claims_of(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return _segment(header), _segment(payload)


def _segment(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def _encode(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_the_realm_is_served_with_rs256_keys(keycloak: KeycloakServer) -> None:
    discovery = httpx.get(keycloak.discovery_url).json()
    assert discovery["issuer"] == keycloak.issuer == f"{keycloak.url}/realms/accord"
    assert discovery["jwks_uri"] == keycloak.jwks_url
    assert "S256" in discovery["code_challenge_methods_supported"]
    keys = httpx.get(keycloak.jwks_url).json()["keys"]
    assert any(k["alg"] == "RS256" and k["use"] == "sig" for k in keys)
    assert keycloak.issuer_config() == {"issuer": keycloak.issuer, "jwks_url": keycloak.jwks_url}


def test_an_officer_token_carries_agency_role_org_and_the_accord_audience(
    keycloak: KeycloakServer,
) -> None:
    response = keycloak.password_token("north-police.officer")
    header, claims = claims_of(response["access_token"])
    assert header["alg"] == "RS256"
    assert claims["iss"] == keycloak.issuer
    assert (claims["agency"], claims["role"], claims["org"]) == (
        "police",
        "officer",
        "north-police",
    )
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert "accord" in audience
    assert claims["sub"]
    assert claims["exp"] - claims["iat"] == 300
    # The portal shows who is signed in from the ID token: the same attributes are there.
    _, id_claims = claims_of(response["id_token"])
    assert (id_claims["agency"], id_claims["role"], id_claims["org"]) == (
        "police",
        "officer",
        "north-police",
    )
    assert id_claims["name"] and id_claims["email"] == "north-police.officer@example.org"


def test_every_dev_user_signs_in_with_the_claims_its_name_says(keycloak: KeycloakServer) -> None:
    users = dev_users()
    assert len(users) == 24
    orgs_per_agency: dict[str, set[str]] = {}
    for user in users:
        _, claims = claims_of(keycloak.access_token(user["username"]))
        org, role = user["username"].split(".")
        assert (claims["org"], claims["role"]) == (org, role), user
        assert claims["role"] in AGENCY_ROLES[claims["agency"]], user
        orgs_per_agency.setdefault(claims["agency"], set()).add(org)
    # Every staff role of every agency, and two organisations of each agency but the one
    # auditor and the one commissioner (managers have a dev user in North only). Victims live
    # in their own realm and the enrolment role is a service account,
    # so neither has a dev user here.
    staff = {a: r - {"enrolment"} for a, r in AGENCY_ROLES.items() if a != "victim"}
    assert {u["agency"] for u in users} == set(staff)
    for agency, roles in staff.items():
        assert {u["role"] for u in users if u["agency"] == agency} == roles
        assert len(orgs_per_agency[agency]) == (1 if agency in ("audit", "commissioner") else 2)


def test_a_wrong_password_gets_no_token(keycloak: KeycloakServer) -> None:
    response = httpx.post(
        keycloak.token_url,
        data={
            "grant_type": "password",
            "client_id": "accord-tests",
            "username": "north-police.officer",
            "password": "not-the-password",
        },
    )
    assert response.status_code == 401
    assert "access_token" not in response.text


def test_the_portal_client_allows_only_the_code_flow_with_pkce_on_loopback(
    keycloak: KeycloakServer,
) -> None:
    auth = f"{keycloak.issuer}/protocol/openid-connect/auth"
    callback = "http://127.0.0.1:8100/auth/callback"
    request = {
        "client_id": PORTAL_CLIENT,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": callback,
        "state": "s",
        "nonce": "n",
    }
    # Without a PKCE challenge Keycloak sends the browser back with an error, no login page.
    no_pkce = httpx.get(auth, params=request)
    assert no_pkce.status_code == 302
    location = urlsplit(no_pkce.headers["location"])
    assert location.netloc == "127.0.0.1:8100"
    assert parse_qs(location.query)["error"] == ["invalid_request"]
    pkce = {**request, "code_challenge": "x" * 43, "code_challenge_method": "S256"}
    # Any loopback port and host name; a plain challenge method is refused.
    for redirect in (callback, "http://localhost:45123/auth/callback"):
        login = httpx.get(auth, params={**pkce, "redirect_uri": redirect})
        assert login.status_code == 200, redirect
        assert 'id="kc-form-login"' in login.text
    plain = httpx.get(auth, params={**pkce, "code_challenge_method": "plain"})
    assert plain.status_code == 302
    assert parse_qs(urlsplit(plain.headers["location"]).query)["error"] == ["invalid_request"]
    # A redirect anywhere else is refused outright (no redirect to it).
    elsewhere = httpx.get(auth, params={**pkce, "redirect_uri": "http://evil.example/cb"})
    assert elsewhere.status_code == 400
    # And the portal's client cannot trade a password for a token.
    password = httpx.post(
        keycloak.token_url,
        data={
            "grant_type": "password",
            "client_id": PORTAL_CLIENT,
            "client_secret": PORTAL_SECRET,
            "username": "north-police.officer",
            "password": "accord-dev",
        },
    )
    assert password.status_code in (400, 401)
    assert password.json()["error"] == "unauthorized_client"


@pytest.fixture(scope="module")
def opa() -> Iterator[OpaServer]:
    """OPA alone: the referral service's reads are decided by policy; no Kafka or PostgreSQL is
    needed to check which tokens it accepts."""
    base = Path(tempfile.mkdtemp(prefix="accord-test-identity-opa-"))
    server = OpaServer(Path(provisioned()["ACCORD_OPA"]), REPO / "policies", base, port=free_port())
    try:
        server.start()
        server.wait_ready()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def police_api(
    opa: OpaServer, keycloak: KeycloakServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TestClient, Path]:
    import accord_referral.main as referral_service

    work = tmp_path_factory.mktemp("identity-referral")
    _, jwks = ensure_dev_keys(work / "keys")
    settings = ServiceSettings.for_service(
        "referral",
        0,
        persistence="memory",
        opa_url=opa.url,
        data_dir=work,
        # As `make run` configures them: the dev issuer and Keycloak, both trusted.
        token_issuers=[{"issuer": "accord-dev", "jwks_file": str(jwks)}, keycloak.issuer_config()],
    )
    runtime = referral_service.make_runtime(settings)
    return TestClient(referral_service.make_api(runtime)), work / "keys"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_service_accepts_keycloak_tokens_for_real_work(
    police_api: tuple[TestClient, Path], keycloak: KeycloakServer
) -> None:
    client, _ = police_api
    officer = bearer(keycloak.access_token("north-police.officer"))
    submitted = client.post("/referrals", json=referral(), headers=officer)
    assert submitted.status_code == 201, submitted.text
    case_id = submitted.json()["case_id"]

    listed = client.get("/referrals", headers=officer)
    assert listed.status_code == 200, listed.text
    assert listed.headers["content-type"].startswith("application/json")
    assert case_id in [row["case_id"] for row in listed.json()]
    assert client.get(f"/referrals/{case_id}", headers=officer).json()["case_id"] == case_id

    # The org claim from Keycloak is what the service scopes by: another force sees nothing.
    other_force = bearer(keycloak.access_token("south-police.officer"))
    assert case_id not in [
        r["case_id"] for r in client.get("/referrals", headers=other_force).json()
    ]
    # The agency claim too: a judge's valid token may not submit a referral.
    judge = bearer(keycloak.access_token("north-court.judge"))
    assert client.post("/referrals", json=referral(), headers=judge).status_code == 403


def test_dev_tokens_are_still_accepted_beside_keycloak(
    police_api: tuple[TestClient, Path],
) -> None:
    client, keys = police_api
    response = client.get("/referrals", headers=bearer(mint(keys, agency="police", role="officer")))
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_a_tampered_keycloak_token_is_refused(
    police_api: tuple[TestClient, Path], keycloak: KeycloakServer
) -> None:
    client, _ = police_api
    token = keycloak.access_token("north-police.officer")
    header, claims = claims_of(token)
    signature = token.rsplit(".", 1)[1]
    # The same signature over claims moved to another force.
    moved = {**claims, "org": "south-police"}
    forged = f"{_encode(header)}.{_encode(moved)}.{signature}"
    refused = client.get("/referrals", headers=bearer(forged))
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "signature" in refused.json()["detail"]
    # A flipped bit in the signature itself.
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert client.get("/referrals", headers=bearer(flipped)).status_code == 401
    # The genuine token still works, so the refusals are about the tampering.
    assert client.get("/referrals", headers=bearer(token)).status_code == 200
