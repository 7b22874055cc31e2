"""Issue 20 item 8: a service trusts several OpenID Connect providers at once, each with its own
JWKS URL, audience and claim mapping (ACCORD_ISSUERS). Here three providers are simulated by
key sets generated in the test (RS256, ES256, and an RS256 one shaped like Entra ID) served
over real HTTP by a small server; a real victim-services instance (real OPA) reads its
settings from the environment and answers a policy-decided read for tokens of each, next to
the dev tokens. The claim-shape rules of SPEC section 2 hold for every issuer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.settings import ServiceSettings
from accord_kernel.testing import submitted, tell
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

pytestmark = pytest.mark.integration


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def rsa(cls, kid: str) -> SigningKey:
        return cls(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str) -> SigningKey:
        return cls(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    @property
    def jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg == "RS256" else ECAlgorithm
        public: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": self.alg}


@dataclass
class Provider:
    """One identity provider: its issuer, the key set it publishes, what its tokens look like."""

    name: str
    issuer: str
    keys: list[SigningKey]
    audience: str = "accord"
    # Accord claim -> where this provider puts it (empty: under Accord's own names)
    claims: dict[str, str] = field(default_factory=dict)

    def token(self, key: SigningKey | None = None, **overrides: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        identity = {"sub": f"{self.name}-user", "agency": "police", "role": "officer"}
        identity["org"] = "north-police"
        claims: dict[str, Any] = {"iss": self.issuer, "aud": self.audience}
        claims |= {"iat": now, "nbf": now, "exp": now + 300}
        for name, value in identity.items():
            claims |= nested(self.claims.get(name, name), value)
        claims |= overrides
        claims = {k: v for k, v in claims.items() if v is not ...}
        return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid})


def nested(path: str, value: Any) -> dict[str, Any]:
    """A claim where a provider would put it: `roles` as Entra's list of app roles, a dotted
    path as nested objects."""
    if path == "roles":
        return {"roles": [value]}
    head, _, rest = path.partition(".")
    return {path: value} if not rest or path.startswith("extn.") else {head: nested(rest, value)}


class JwksServer:
    """The providers' JWKS endpoints on a free port, counting fetches per provider."""

    def __init__(self, providers: list[Provider]) -> None:
        self.providers = {p.name: p for p in providers}
        self.fetches: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/").removesuffix("/keys")
                provider = server.providers.get(name)
                if provider is None:
                    self.send_error(404)
                    return
                server.fetches[name] += 1
                body = json.dumps({"keys": [k.jwk for k in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@dataclass
class Deployment:
    client: TestClient
    providers: dict[str, Provider]
    jwks: JwksServer
    key_dir: Path
    case: str

    def read(self, token: str) -> Any:
        return self.client.get(
            f"/cases/{self.case}/consent-summary", headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture(scope="module")
def deployment(
    infrastructure: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    import accord_victim_support.main as victim_support

    providers = [
        Provider("keycloak", "https://keycloak.test/realms/accord", [SigningKey.rsa("kc-1")]),
        Provider("es", "https://idp.es.test", [SigningKey.ec("es-1")], audience="accord-api"),
        Provider(
            "entra",
            "https://login.microsoftonline.test/tenant-1/v2.0",
            [SigningKey.rsa("entra-1")],
            audience="api://accord",
            claims={"sub": "oid", "agency": "extn.agency", "role": "roles", "org": "ext.org"},
        ),
    ]
    jwks = JwksServer(providers)
    work = tmp_path_factory.mktemp("identity-providers")
    _, dev_jwks = ensure_dev_keys(work / "keys")
    issuers: list[dict[str, Any]] = [
        {
            "issuer": p.issuer,
            "jwks_url": f"{jwks.url}/{p.name}/keys",
            "refresh_seconds": 0.01,
            **({"audience": p.audience} if p.audience != "accord" else {}),
            **({"claims": p.claims} if p.claims else {}),
            # Entra ID's access tokens live 60 to 90 minutes.
            **({"max_lifetime_seconds": 5400} if p.name == "entra" else {}),
        }
        for p in providers
    ]
    issuers.append({"issuer": "accord-dev", "jwks_file": str(dev_jwks)})
    with pytest.MonkeyPatch.context() as env:
        # As a deployment configures it: JSON in the environment.
        env.setenv("ACCORD_ISSUERS", json.dumps(issuers))
        settings = ServiceSettings.for_service(
            "victim-support",
            0,
            persistence="memory",
            opa_url=infrastructure.opa_url,
            data_dir=work,
        )
    assert len(settings.token_issuers) == 4
    runtime = victim_support.make_runtime(settings)
    client = TestClient(victim_support.make_api(runtime))
    case = str(uuid.uuid4())
    tell(runtime, submitted(case))
    advocate = mint(work / "keys", agency="victim_services", role="advocate")
    registered = client.post(
        f"/cases/{case}/victim",
        headers={"Authorization": f"Bearer {advocate}"},
        json={"name": "Kim", "address": "3 Hidden Lane", "preferred_contact_method": "phone"},
    )
    assert registered.status_code == 201, registered.text
    yield Deployment(client, {p.name: p for p in providers}, jwks, work / "keys", case)
    jwks.close()


def test_tokens_of_every_issuer_are_accepted_side_by_side(deployment: Deployment) -> None:
    for provider in deployment.providers.values():
        r = deployment.read(provider.token())
        assert r.status_code == 200, (provider.name, r.text)
        assert r.json()["case_id"] == deployment.case
    dev = mint(deployment.key_dir, agency="police", role="officer")
    assert deployment.read(dev).status_code == 200
    assert {deployment.jwks.fetches[name] for name in deployment.providers} == {1}, (
        "each key set is fetched over HTTP and then cached"
    )


def test_rs256_and_es256_key_sets_are_what_is_served(deployment: Deployment) -> None:
    algorithms = {
        name: {k["alg"] for k in json.loads(_get(f"{deployment.jwks.url}/{name}/keys"))["keys"]}
        for name in deployment.providers
    }
    assert algorithms == {"keycloak": {"RS256"}, "es": {"ES256"}, "entra": {"RS256"}}


def _get(url: str) -> bytes:
    import httpx

    return httpx.get(url).content


def test_each_issuer_has_its_own_audience(deployment: Deployment) -> None:
    es, entra = deployment.providers["es"], deployment.providers["entra"]
    assert deployment.read(es.token(aud="accord")).status_code == 401
    assert deployment.read(es.token(aud=["other", "accord-api"])).status_code == 200
    refused = deployment.read(entra.token(aud="accord-api"))
    assert refused.status_code == 401 and "'aud'" in refused.json()["detail"]


def test_a_key_signs_only_for_its_own_issuer(deployment: Deployment) -> None:
    keycloak, es = deployment.providers["keycloak"], deployment.providers["es"]
    forged = keycloak.token(key=es.keys[0])  # the ES provider's key, Keycloak's issuer
    r = deployment.read(forged)
    assert r.status_code == 401 and "'kid'" in r.json()["detail"]


def test_a_rotated_key_is_fetched_from_the_issuers_url(deployment: Deployment) -> None:
    es = deployment.providers["es"]
    rotated = SigningKey.ec(f"es-{uuid.uuid4().hex[:6]}")
    assert deployment.read(es.token(key=rotated)).status_code == 401, "not published yet"
    es.keys.append(rotated)
    before = deployment.jwks.fetches["es"]
    time.sleep(0.02)  # past the issuer's refresh interval (0.01 s), not a timing assertion
    assert deployment.read(es.token(key=rotated)).status_code == 200
    assert deployment.jwks.fetches["es"] == before + 1


def test_each_issuer_has_its_own_token_lifetime(deployment: Deployment) -> None:
    ninety_minutes = int(time.time()) + 5400
    assert (
        deployment.read(deployment.providers["entra"].token(exp=ninety_minutes)).status_code == 200
    )
    refused = deployment.read(deployment.providers["keycloak"].token(exp=ninety_minutes))
    assert refused.status_code == 401 and "lifetime" in refused.json()["detail"]


def test_entra_style_claims_are_mapped(deployment: Deployment) -> None:
    entra = deployment.providers["entra"]
    token = entra.token()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["roles"] == ["officer"] and claims["extn.agency"] == "police"
    assert claims["ext"] == {"org": "north-police"} and "agency" not in claims
    assert deployment.read(token).status_code == 200
    two_roles = deployment.read(entra.token(roles=["officer", "supervisor"]))
    assert (
        two_roles.status_code == 401 and "'roles' (Accord's 'role')" in two_roles.json()["detail"]
    )
    # Accord's own claim names mean nothing for an issuer that maps them elsewhere.
    shadowed = entra.token(**{"extn.agency": ...}, agency="police")
    detail = deployment.read(shadowed).json()["detail"]
    assert "'extn.agency' (Accord's 'agency') is missing" in detail


def _hs256_with_the_public_key(provider: Provider) -> str:
    """The classic algorithm confusion: HMAC keyed with the provider's public key."""
    public = (
        provider.keys[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    valid = provider.token()
    _, payload, _ = valid.split(".")
    header = {"alg": "HS256", "typ": "JWT", "kid": provider.keys[0].kid}
    head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    signature = hmac.new(public, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _unsigned(provider: Provider) -> str:
    _, payload, _ = provider.token().split(".")
    head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{head}.{payload}."


def _shaped(provider: Provider, accord_claim: str, value: Any) -> str:
    """A token whose Accord claim (where this provider puts it) has the given value."""
    path = provider.claims.get(accord_claim, accord_claim)
    if path == "roles":
        return provider.token(roles=value)
    if "." in path and not path.startswith("extn."):
        head, _, rest = path.partition(".")
        return provider.token(**{head: {rest: value}})
    return provider.token(**{path: value})


BAD_SHAPES: dict[str, Any] = {
    "agency missing": lambda p: _shaped(p, "agency", ...),
    "agency unknown": lambda p: _shaped(p, "agency", "newspaper"),
    "role of another agency": lambda p: _shaped(p, "role", "judge"),
    "org too long": lambda p: _shaped(p, "org", "o" * 129),
    "sub not printable": lambda p: _shaped(p, "sub", "user\u0000"),
    "sub a number": lambda p: _shaped(p, "sub", 42),
    "expired": lambda p: p.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 3700),
    "lifetime too long": lambda p: p.token(exp=int(time.time()) + 5401),
    "exp a string": lambda p: p.token(exp="tomorrow"),
    "not yet valid": lambda p: p.token(nbf=int(time.time()) + 3600),
    "another issuer": lambda p: p.token(iss="https://evil.test"),
    "alg none": _unsigned,
    "HS256 keyed with the public key": _hs256_with_the_public_key,
}


@pytest.mark.parametrize("shape", sorted(BAD_SHAPES))
@pytest.mark.parametrize("issuer", ["keycloak", "es", "entra"])
def test_every_claim_shape_rule_holds_for_every_issuer(
    deployment: Deployment, issuer: str, shape: str
) -> None:
    r = deployment.read(BAD_SHAPES[shape](deployment.providers[issuer]))
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "unauthorized"
    assert "3 Hidden Lane" not in r.text


def test_the_issuer_list_is_read_from_accord_issuers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = {"issuer": "https://a.test", "jwks_url": "https://a.test/keys", "audience": "x"}
    monkeypatch.setenv("ACCORD_ISSUERS", json.dumps([entry]))
    assert ServiceSettings().token_issuers == [entry]
    monkeypatch.delenv("ACCORD_ISSUERS")
    monkeypatch.setenv("ACCORD_TOKEN_ISSUERS", json.dumps([entry]))
    assert ServiceSettings().token_issuers == [entry], "the earlier name still works"
    assert os.environ["ACCORD_TOKEN_ISSUERS"]
