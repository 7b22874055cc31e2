"""The victims' realm in a real Keycloak (issue 17): imported beside the staff realm; the
enrolment service account's token is one the services accept (victim_services / enrolment),
and it may create and read users in the victims' realm, whose attributes become the claims of
the victim's tokens; no self-registration."""

from __future__ import annotations

import uuid

import httpx
import pytest
from accord_kernel.identity import IssuerConfig, TokenVerifier
from accord_platform.identity_provider import VICTIM_VIEW_CLIENT, KeycloakServer

pytestmark = pytest.mark.integration


def verifier(keycloak: KeycloakServer) -> TokenVerifier:
    return TokenVerifier(
        None,
        "unused",
        "accord",
        issuers=[
            IssuerConfig.model_validate(keycloak.issuer_config()),
            IssuerConfig.model_validate(keycloak.victims_issuer_config()),
        ],
    )


def test_enrolment_token_is_accepted_as_the_enrolment_account(keycloak: KeycloakServer) -> None:
    subject = verifier(keycloak).verify(keycloak.enrolment_token())
    assert (subject.agency, subject.role, subject.org) == (
        "victim_services",
        "enrolment",
        "accord-enrolment",
    )
    assert subject.is_enrolment and not subject.is_victim
    # A wrong secret gets nothing.
    with pytest.raises(Exception, match="refused"):
        keycloak.enrolment_token(secret="wrong")


def test_enrolment_account_makes_a_victims_user_and_nothing_registers_itself(
    keycloak: KeycloakServer,
) -> None:
    headers = {"Authorization": "Bearer " + keycloak.enrolment_token()}
    username = "victim-" + uuid.uuid4().hex[:6]
    r = httpx.post(
        f"{keycloak.victims_admin_url}/users",
        headers=headers,
        json={
            "username": username,
            "enabled": True,
            "attributes": {"agency": ["victim"], "role": ["victim"], "org": ["north-advocacy"]},
            "credentials": [{"type": "password", "value": "ABCD-EFGH-JKMN", "temporary": True}],
            "requiredActions": ["UPDATE_PASSWORD"],
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text
    r = httpx.get(
        f"{keycloak.victims_admin_url}/users",
        params={"username": username, "exact": "true"},
        headers=headers,
        timeout=10,
    )
    (user,) = r.json()
    assert user["attributes"]["agency"] == ["victim"]
    # The same account may not touch the staff realm.
    r = httpx.get(f"{keycloak.url}/admin/realms/accord/users", headers=headers, timeout=10)
    assert r.status_code in (401, 403)
    # Sign-in page of the victim view: no registration link, PKCE required.
    auth = f"{keycloak.victims_issuer}/protocol/openid-connect/auth"
    page = httpx.get(
        auth,
        params={
            "client_id": VICTIM_VIEW_CLIENT,
            "response_type": "code",
            "redirect_uri": "http://127.0.0.1:9/callback",
            "scope": "openid",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
        timeout=10,
    )
    assert page.status_code == 200, page.text[:300]
    assert "registrations" not in page.text
    discovery = httpx.get(
        f"{keycloak.victims_issuer}/.well-known/openid-configuration", timeout=10
    ).json()
    assert discovery["issuer"] == keycloak.victims_issuer
