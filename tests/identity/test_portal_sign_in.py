"""The portal's client in the dev realm, driven the way the portal will drive it: a real browser
signs in on Keycloak's login page (authorization code, PKCE S256, state and nonce), the code is
exchanged with the client secret and the verifier, and the sign-out ends the Keycloak session
and returns to a loopback address."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from accord_platform.identity_provider import PORTAL_CLIENT, PORTAL_SECRET, KeycloakServer
from accord_platform.infra import free_port
from playwright.async_api import Browser, Route

pytestmark = pytest.mark.integration


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


async def test_a_browser_signs_in_through_the_portal_client_with_pkce(
    browser: Browser, keycloak: KeycloakServer
) -> None:
    # Nothing listens on the callback: the browser's request to it is caught and answered here,
    # as the portal would answer it.
    callback = f"http://127.0.0.1:{free_port()}/auth/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = {
        "client_id": PORTAL_CLIENT,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": callback,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    arrived: list[str] = []

    async def answer(route: Route) -> None:
        arrived.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<title>back</title>")

    context = await browser.new_context()
    try:
        await context.route(f"{callback.rsplit('/', 2)[0]}/**", answer)
        page = await context.new_page()
        await page.goto(f"{keycloak.issuer}/protocol/openid-connect/auth?{urlencode(query)}")
        await page.get_by_label("Username").fill("north-advocacy.advocate")
        await page.get_by_label("Password", exact=True).fill("accord-dev")
        await page.get_by_role("button", name="Sign In").click()
        await page.wait_for_url(f"{callback}?*")
        back = parse_qs(urlsplit(arrived[0]).query)
        assert back["state"] == [state]

        tokens = httpx.post(
            keycloak.token_url,
            data={
                "grant_type": "authorization_code",
                "code": back["code"][0],
                "redirect_uri": callback,
                "code_verifier": verifier,
            },
            auth=(PORTAL_CLIENT, PORTAL_SECRET),
        ).json()
        access, identity = _claims(tokens["access_token"]), _claims(tokens["id_token"])
        assert (access["agency"], access["role"], access["org"]) == (
            "victim_services",
            "advocate",
            "north-advocacy",
        )
        assert "accord" in (access["aud"] if isinstance(access["aud"], list) else [access["aud"]])
        assert access["azp"] == PORTAL_CLIENT
        assert identity["nonce"] == nonce
        assert identity["org"] == "north-advocacy"
        assert tokens["refresh_token"]

        # Sign-out ends the provider session and comes back to the portal (any loopback port).
        after = callback.replace("/auth/callback", "/signed-out")
        logout = {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": after,
            "client_id": PORTAL_CLIENT,
        }
        ended = httpx.get(f"{keycloak.issuer}/protocol/openid-connect/logout", params=logout)
        assert ended.status_code == 302, ended.text
        assert ended.headers["location"] == after
        refreshed = httpx.post(
            keycloak.token_url,
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(PORTAL_CLIENT, PORTAL_SECRET),
        )
        assert refreshed.status_code == 400
        assert refreshed.json()["error"] == "invalid_grant"
    finally:
        await context.close()


async def test_a_code_is_useless_without_the_verifier(
    browser: Browser, keycloak: KeycloakServer
) -> None:
    callback = f"http://localhost:{free_port()}/auth/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "client_id": PORTAL_CLIENT,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": callback,
        "state": "s",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    arrived: list[str] = []

    async def answer(route: Route) -> None:
        arrived.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<title>back</title>")

    context = await browser.new_context()
    try:
        await context.route(f"{callback.rsplit('/', 2)[0]}/**", answer)
        page = await context.new_page()
        await page.goto(f"{keycloak.issuer}/protocol/openid-connect/auth?{urlencode(query)}")
        await page.get_by_label("Username").fill("south-court.clerk")
        await page.get_by_label("Password", exact=True).fill("accord-dev")
        await page.get_by_role("button", name="Sign In").click()
        await page.wait_for_url(f"{callback}?*")
        code = parse_qs(urlsplit(arrived[0]).query)["code"][0]
        stolen = httpx.post(
            keycloak.token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": callback,
                "code_verifier": secrets.token_urlsafe(48),
            },
            auth=(PORTAL_CLIENT, PORTAL_SECRET),
        )
        assert stolen.status_code == 400
        assert stolen.json()["error"] == "invalid_grant"
    finally:
        await context.close()
