"""OpenID Connect sign-in: authorization code with PKCE S256, for one provider found by discovery.

Hand-written over httpx and PyJWT rather than Authlib's Starlette integration, because that
integration keeps the OAuth state in Starlette's cookie session (the browser would carry it) and
its typing is absent; the flow is a few requests, and the part that must not be hand-rolled, the
ID token's signature check, is PyJWT's. Everything runs server side: the browser only ever sees
the provider's login page, a `code` and `state` on the callback, and our session cookie.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

log = logging.getLogger("accord.portal.oidc")

# Never `none` and never HMAC (a shared secret would let the client forge its own ID tokens).
ALGORITHMS = ["RS256", "ES256", "EdDSA", "PS256"]
DISCOVERY_TTL_SECONDS = 3600
JWKS_MIN_REFRESH_SECONDS = 30


class SignInFailed(Exception):
    """The provider's answer cannot be trusted or used; the user starts sign-in again."""


@dataclass(frozen=True)
class LoginRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scopes: str = "openid profile email",
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = scopes
        self.http = http or httpx.AsyncClient(timeout=10.0)
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._jwks: jwt.PyJWKSet | None = None
        self._jwks_at = 0.0

    async def aclose(self) -> None:
        await self.http.aclose()

    async def metadata(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._metadata is None or now - self._metadata_at > DISCOVERY_TTL_SECONDS:
            try:
                response = await self.http.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                metadata = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise SignInFailed(f"discovery failed: {type(exc).__name__}") from exc
            if metadata.get("issuer") != self.issuer:
                raise SignInFailed("discovery names another issuer")
            self._metadata, self._metadata_at = metadata, now
        return self._metadata

    async def login_request(self) -> LoginRequest:
        metadata = await self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, inside RFC 7636's 43-128
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": s256(verifier),
                "code_challenge_method": "S256",
            }
        )
        return LoginRequest(f"{metadata['authorization_endpoint']}?{query}", state, nonce, verifier)

    async def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        metadata = await self.metadata()
        try:
            response = await self.http.post(
                metadata["token_endpoint"],
                data=form,
                auth=(self.client_id, self.client_secret),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise SignInFailed(f"token endpoint unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            # The error code only: descriptions can echo what was sent.
            code = response.json().get("error", "?") if response.content else "?"
            raise SignInFailed(f"token endpoint answered {response.status_code} {code}")
        tokens: dict[str, Any] = response.json()
        if tokens.get("token_type", "").lower() != "bearer" or not tokens.get("access_token"):
            raise SignInFailed("token response without a bearer access token")
        return tokens

    async def exchange_code(self, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """The tokens and the verified ID token's claims (`id_claims`)."""
        tokens = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": code_verifier,
            }
        )
        if not tokens.get("id_token"):
            raise SignInFailed("no ID token")
        claims = await self.verify_id_token(tokens["id_token"], nonce)
        return {**tokens, "id_claims": claims}

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        return await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def _keys(self, force: bool = False) -> jwt.PyJWKSet:
        now = time.monotonic()
        if self._jwks is None or (force and now - self._jwks_at > JWKS_MIN_REFRESH_SECONDS):
            metadata = await self.metadata()
            try:
                response = await self.http.get(metadata["jwks_uri"])
                response.raise_for_status()
                self._jwks = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                raise SignInFailed(f"JWKS unavailable: {type(exc).__name__}") from exc
            self._jwks_at = now
        return self._jwks

    async def _key_for(self, kid: str | None) -> jwt.PyJWK:
        for force in (False, True):  # an unknown kid may be a rotated key: fetch once more
            keys = await self._keys(force)
            for key in keys.keys:
                if key.key_id == kid:
                    return key
        raise SignInFailed("ID token signed with an unknown key")

    async def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise SignInFailed("ID token is not a JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise SignInFailed("ID token algorithm not allowed")
        key = await self._key_for(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=[header["alg"]],
                audience=self.client_id,
                issuer=self.issuer,
                leeway=30,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"ID token rejected: {type(exc).__name__}") from exc
        if not nonce or not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInFailed("ID token nonce does not match")
        azp = claims.get("azp")
        if azp is not None and azp != self.client_id:
            raise SignInFailed("ID token authorised for another client")
        return claims

    async def end_session_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str:
        try:
            metadata = await self.metadata()
        except SignInFailed:
            return post_logout_redirect_uri
        endpoint = metadata.get("end_session_endpoint")
        if not endpoint:
            return post_logout_redirect_uri
        params = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        return f"{endpoint}?{urlencode(params)}"
