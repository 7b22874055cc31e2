"""Development signing key, JWKS and token minting. Production uses the agencies' own IdP."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from accord_kernel.deployment import DEPLOYMENT_CLAIM, TRAINING
from accord_kernel.identity import AGENCY_ROLES, ALGORITHM

# The organisation a dev token names when none is given: one per agency, each an id in the
# deployment's organisation directory (policies/accord/organisations/data.json).
DEFAULT_ORGS: dict[str, str] = {
    "police": "north-police",
    "victim_services": "north-advocacy",
    "rj_provider": "north-rj",
    "court": "north-court",
    "audit": "privacy-office",
    "commissioner": "north-commissioner",
}


def ensure_dev_keys(key_dir: Path) -> tuple[Path, Path]:
    """Creates an Ed25519 key and its JWKS once; returns (private key path, jwks path)."""
    key_dir.mkdir(parents=True, exist_ok=True)
    private_path, jwks_path = key_dir / "signing-key.pem", key_dir / "jwks.json"
    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        private_path.chmod(0o600)
    if not jwks_path.exists():
        key = _load(private_path)
        jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": _kid(private_path), "alg": ALGORITHM, "use": "sig"})
        jwks_path.write_text(json.dumps({"keys": [jwk]}, indent=2))
    return private_path, jwks_path


def _load(private_path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def _kid(private_path: Path) -> str:
    return "accord-dev-" + uuid.uuid5(uuid.NAMESPACE_URL, private_path.read_text()).hex[:12]


def mint(
    key_dir: Path,
    *,
    agency: str,
    role: str,
    user: str | None = None,
    org: str | None = None,
    ttl_seconds: int = 3600,
    issuer: str = "accord-dev",
    audience: str = "accord",
    now: float | None = None,
    training: bool = False,
) -> str:
    if role not in AGENCY_ROLES.get(agency, ()):
        raise ValueError(f"unknown agency/role {agency}/{role}")
    private_path, _ = ensure_dev_keys(key_dir)
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": user or f"{agency}-{role}-1",
        "agency": agency,
        "role": role,
        # A victim's org is the victim-services organisation supporting them.
        "org": DEFAULT_ORGS.get(agency, DEFAULT_ORGS["victim_services"]) if org is None else org,
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if training:
        # Only a training deployment accepts it (accord_kernel.deployment).
        claims[DEPLOYMENT_CLAIM] = TRAINING
    return jwt.encode(
        claims, _load(private_path), algorithm=ALGORITHM, headers={"kid": _kid(private_path)}
    )
