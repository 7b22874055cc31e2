"""Who is calling: bearer JWTs (OIDC style) verified against a configured JWKS."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from accord_kernel.problems import forbidden, unauthorized

log = logging.getLogger("accord.identity")

AGENCY_ROLES: dict[str, frozenset[str]] = {
    "police": frozenset({"officer", "supervisor"}),
    "victim_services": frozenset({"advocate", "supervisor"}),
    "rj_provider": frozenset({"coordinator", "facilitator", "supervisor"}),
    "court": frozenset({"clerk", "judge"}),
    "audit": frozenset({"privacy_officer"}),
}
AGENCIES = frozenset(AGENCY_ROLES)
ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class Subject:
    user: str
    agency: str
    role: str
    org: str

    def as_policy_input(self) -> dict[str, str]:
        return {"user": self.user, "agency": self.agency, "role": self.role, "org": self.org}


class TokenVerifier:
    """Verifies signatures against the JWKS file; re-reads it when it changes (key rotation)."""

    def __init__(self, jwks_file: Path, issuer: str, audience: str) -> None:
        self._jwks_file = jwks_file
        self._issuer = issuer
        self._audience = audience
        self._mtime: float | None = None
        self._keys: dict[str, Any] = {}

    def _load(self) -> dict[str, Any]:
        try:
            mtime = self._jwks_file.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._mtime:
            jwks = jwt.PyJWKSet.from_dict(json.loads(self._jwks_file.read_text()))
            self._keys = {k.key_id: k for k in jwks.keys}
            self._mtime = mtime
        return self._keys

    def verify(self, token: str) -> Subject:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthorized("malformed token") from exc
        key = self._load().get(header.get("kid", ""))
        if key is None or header.get("alg") != ALGORITHM:
            raise unauthorized("token not signed by a trusted key")
        try:
            claims = jwt.decode(
                token, key=key.key, algorithms=[ALGORITHM],
                audience=self._audience, issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("token expired") from exc
        except jwt.PyJWTError as exc:
            raise unauthorized("token rejected: " + type(exc).__name__) from exc
        agency, role = claims.get("agency"), claims.get("role")
        if agency not in AGENCIES or role not in AGENCY_ROLES[str(agency)]:
            raise forbidden("unknown agency or role in token")
        return Subject(user=str(claims["sub"]), agency=str(agency), role=str(role),
                       org=str(claims.get("org", agency)))


def require(subject: Subject, agencies: set[str] | frozenset[str],
            roles: set[str] | None = None) -> Subject:
    if subject.agency not in agencies:
        log.info("agency refused user=%s agency=%s", subject.user, subject.agency)
        raise forbidden(f"agency '{subject.agency}' may not use this endpoint")
    if roles is not None and subject.role not in roles:
        raise forbidden(f"role '{subject.role}' may not use this endpoint")
    return subject
