"""Tokens of every wrong shape are a 401 problem that names what is wrong, never a 500, and
store nothing; well-formed RS256, ES256 and EdDSA tokens from the configured issuers are
accepted.

Each bad token is otherwise a genuine police officer's token, signed by a trusted key, sent to
`POST /referrals`, a route police may use: only the defect can explain a refusal. The referral
service is built with two trusted issuers, the dev issuer (Ed25519, the dev JWKS file) and an
"IdP" whose JWKS file holds an RSA and an EC P-256 key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from accord_kernel.dev_tokens import DEFAULT_ORGS
from accord_kernel.settings import ServiceSettings
from accord_referral.examples import referral
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.api.services_under_test import DevKeys, response_defects, service_module
from tests.api.test_tokens import token_claims

pytestmark = pytest.mark.integration

IDP = "https://idp.example/realms/accord"
MISSING = object()
STRING_CLAIMS = ("sub", "agency", "role", "org")
# Values that mark themselves, so a detail that echoed the token's content would show it.
WRONG_STRINGS: dict[str, Any] = {
    "list": ["police"],
    "object": {"marker": "zq-marker"},
    "number": 7,
    "true": True,
    "null": None,
    "missing": MISSING,
    "empty": "",
    "129_chars": "z" * 129,
    "nul": "zq\x00marker",
    "newline": "zq-marker\n",
    "escape": "\x1b[31mzq-marker",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _now() -> int:
    return int(time.time())


def police_claims(**overrides: Any) -> dict[str, Any]:
    """A police officer's claims; an override of MISSING leaves the claim out, None is null."""
    claims = token_claims("police", "officer", org=DEFAULT_ORGS["police"])
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not MISSING}


@dataclass(frozen=True)
class Signer:
    """A private key and the kid and algorithm its JWKS entry announces."""

    key: Any
    kid: str
    alg: str

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """Signs by hand, so that the header may hold what PyJWT would refuse to write."""
        return self.sign_bytes(json.dumps(claims).encode(), **header)

    def sign_bytes(self, payload: bytes, **header: Any) -> str:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        signing_input = (
            _b64(json.dumps({"alg": self.alg, "typ": "JWT", "kid": self.kid, **header}).encode())
            + "."
            + _b64(payload)
        )
        signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(self.key))
        return signing_input + "." + _b64(signature)


def raw_token(header: Any, payload: Any, signature: bytes = b"sig") -> str:
    return ".".join(
        (_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(signature))
    )


@dataclass(frozen=True)
class Issuers:
    dev: Signer
    rsa: Signer
    ec: Signer
    dev_public_pem: bytes


def _idp_jwks(directory: Path) -> tuple[Path, Signer, Signer]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = []
    for public_jwk, kid in (
        (RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "idp-rsa"),
        (ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "idp-ec"),
    ):
        keys.append({**public_jwk, "kid": kid, "use": "sig"})
    path = directory / "idp-jwks.json"
    path.write_text(json.dumps({"keys": keys}))
    return path, Signer(rsa_key, "idp-rsa", "RS256"), Signer(ec_key, "idp-ec", "ES256")


@pytest.fixture(scope="module")
def issuers(
    dev_keys: DevKeys, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Issuers, list[dict[str, str]]]:
    jwks_path, rsa_signer, ec_signer = _idp_jwks(tmp_path_factory.mktemp("idp"))
    dev_key = serialization.load_pem_private_key(dev_keys.private_key_path.read_bytes(), None)
    assert isinstance(dev_key, Ed25519PrivateKey)
    pem = dev_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    configured = [
        {"issuer": "accord-dev", "jwks_file": str(dev_keys.jwks_path)},
        {"issuer": IDP, "jwks_file": str(jwks_path)},
    ]
    signers = Issuers(Signer(dev_key, dev_keys.kid, "EdDSA"), rsa_signer, ec_signer, pem)
    return signers, configured


@dataclass
class Referrals:
    client: TestClient
    signers: Issuers
    good: dict[str, str]

    def notifications(self) -> int:
        app = self.client.app
        assert isinstance(app, FastAPI)
        return int(app.state.runtime.app.recorder.max_notification_id() or 0)

    def submit(self, token: str) -> Response:
        response: Response = self.client.post(
            "/referrals", json=referral(), headers={"Authorization": f"Bearer {token}"}
        )
        return response

    def read(self, token: str) -> Response:
        response: Response = self.client.get(
            "/referrals", headers={"Authorization": f"Bearer {token}"}
        )
        return response

    def visible(self) -> int:
        response = self.client.get("/referrals", headers=self.good)
        assert response.status_code == 200, response.text
        return len(response.json())


@pytest.fixture(scope="module")
def referrals(
    opa_url: str,
    issuers: tuple[Issuers, list[dict[str, str]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Referrals]:
    signers, configured = issuers
    settings = ServiceSettings.for_service(
        "referral",
        0,
        persistence="memory",
        opa_url=opa_url,
        token_issuers=configured,
        data_dir=tmp_path_factory.mktemp("referral-shapes"),
    )
    module = service_module("referral")
    with TestClient(
        module.make_api(module.make_runtime(settings), with_workers=False),
        raise_server_exceptions=False,
    ) as client:
        good = {"Authorization": "Bearer " + signers.dev.sign(police_claims())}
        yield Referrals(client, signers, good)


def assert_refused(service: Referrals, token: str, names: str | None) -> None:
    """A 401 problem naming `names` (if given), with a Bearer challenge, and nothing
    recorded."""
    before, seen = service.notifications(), service.visible()
    response = service.submit(token)
    content_type = response.headers.get("content-type", "")
    assert response.status_code == 401, response.text
    assert content_type.startswith("application/problem+json"), content_type
    assert not response_defects(response.status_code, content_type, response.text)
    assert "bearer" in response.headers.get("www-authenticate", "").lower()
    detail = response.json().get("detail", "")
    assert detail and (names is None or f"'{names}'" in detail), detail
    assert service.notifications() == before, "a refused request recorded something"
    assert service.visible() == seen, "a refused request created a referral"


def assert_detail_does_not_echo(response: Response, value: Any) -> None:
    if value is MISSING:
        return
    detail = str(response.json().get("detail", ""))
    echoes = [value] if isinstance(value, str) else [json.dumps(value)]
    if isinstance(value, dict):
        echoes.extend(str(v) for v in value.values())
    for echo in echoes:
        if len(echo) > 3:
            assert echo not in detail, detail


# --- the claims -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", sorted(WRONG_STRINGS))
@pytest.mark.parametrize("claim", STRING_CLAIMS)
def test_identity_claims_of_the_wrong_shape_are_401(
    referrals: Referrals, claim: str, shape: str
) -> None:
    value = WRONG_STRINGS[shape]
    token = referrals.signers.dev.sign(police_claims(**{claim: value}))
    assert_refused(referrals, token, claim)
    assert_detail_does_not_echo(referrals.submit(token), value)


@pytest.mark.parametrize(
    ("claim", "value"), [("agency", "offender"), ("role", "judge"), ("role", "privacy_officer")]
)
def test_unknown_agency_or_role_is_401(referrals: Referrals, claim: str, value: str) -> None:
    assert_refused(referrals, referrals.signers.dev.sign(police_claims(**{claim: value})), claim)


def _times(**overrides: Any) -> Callable[[], dict[str, Any]]:
    """Claims whose time values are computed when the test runs (`now` is a placeholder)."""

    def make() -> dict[str, Any]:
        now = _now()
        return police_claims(**{k: (v(now) if callable(v) else v) for k, v in overrides.items()})

    return make


BAD_TIMES: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "exp_string": (_times(exp=lambda now: str(now + 600)), "exp"),
    "exp_thousand_years_ahead": (_times(exp=10**12), "exp"),
    "exp_huge_int": (_times(exp=10**100), "exp"),
    "exp_negative": (_times(exp=-1), "exp"),
    "exp_float_far_ahead": (_times(exp=1e12), "exp"),
    "exp_float_expired": (_times(exp=lambda now: now - 600.5), "exp"),
    "exp_nan": (_times(exp=math.nan), "exp"),
    "exp_infinity": (_times(exp=math.inf), "exp"),
    "exp_true": (_times(exp=True), "exp"),
    "exp_null": (_times(exp=None), "exp"),
    "exp_list": (_times(exp=lambda now: [now + 600]), "exp"),
    "exp_missing": (_times(exp=MISSING), "exp"),
    "exp_before_iat": (_times(exp=lambda now: now - 1, iat=lambda now: now), "exp"),
    "lifetime_over_maximum": (_times(exp=lambda now: now + 3601), "exp"),
    "iat_missing": (_times(iat=MISSING), "iat"),
    "iat_string": (_times(iat=lambda now: str(now)), "iat"),
    "iat_null": (_times(iat=None), "iat"),
    "iat_in_the_future": (_times(iat=lambda now: now + 600, exp=lambda now: now + 900), "iat"),
    "iat_nan": (_times(iat=math.nan), "iat"),
    "nbf_string": (_times(nbf=lambda now: str(now)), "nbf"),
    "nbf_object": (_times(nbf={"at": 1}), "nbf"),
    "nbf_in_the_future": (_times(nbf=lambda now: now + 300), "nbf"),
    "iss_missing": (_times(iss=MISSING), "iss"),
    "iss_unknown": (_times(iss="https://someone-else.example"), "iss"),
    "iss_list": (_times(iss=["accord-dev"]), "iss"),
    "iss_number": (_times(iss=1), "iss"),
    "aud_missing": (_times(aud=MISSING), "aud"),
    "aud_wrong": (_times(aud="another-system"), "aud"),
    "aud_list_without_ours": (_times(aud=["another-system"]), "aud"),
    "aud_empty_list": (_times(aud=[]), "aud"),
    "aud_object": (_times(aud={"accord": True}), "aud"),
    "aud_number": (_times(aud=0), "aud"),
}


@pytest.mark.parametrize("case", sorted(BAD_TIMES))
def test_time_issuer_and_audience_claims_of_the_wrong_shape_are_401(
    referrals: Referrals, case: str
) -> None:
    make, claim = BAD_TIMES[case]
    assert_refused(referrals, referrals.signers.dev.sign(make()), claim)


# --- the header and the signature -------------------------------------------------------


def _alg_none(signers: Issuers) -> str:
    return raw_token({"alg": "none", "typ": "JWT", "kid": signers.dev.kid}, police_claims(), b"")


def _hs256_with_public_key(signers: Issuers) -> str:
    # Algorithm confusion: the verifier's own public key (PEM), which anyone may read, used
    # as the HMAC secret.
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signers.dev.kid}).encode())
    payload = _b64(json.dumps(police_claims()).encode())
    mac = hmac.new(signers.dev_public_pem, f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(mac.digest())}"


def _unknown_kid(signers: Issuers) -> str:
    return Signer(Ed25519PrivateKey.generate(), "someone-elses-key", "EdDSA").sign(police_claims())


def _idp_key_claiming_dev_issuer(signers: Issuers) -> str:
    # The IdP's key is trusted for the IdP only, not for the dev issuer.
    return signers.rsa.sign(police_claims(iss="accord-dev"))


BAD_HEADERS: dict[str, tuple[Callable[[Issuers], str], str]] = {
    "alg_none": (_alg_none, "alg"),
    "hs256_with_public_key": (_hs256_with_public_key, "alg"),
    "alg_rs256_on_an_ec_key": (
        lambda s: raw_token({"alg": "RS256", "kid": s.ec.kid}, police_claims(iss=IDP)),
        "alg",
    ),
    "alg_list": (lambda s: raw_token({"alg": ["EdDSA"], "kid": s.dev.kid}, police_claims()), "alg"),
    "alg_missing": (lambda s: raw_token({"kid": s.dev.kid}, police_claims()), "alg"),
    "unknown_kid": (_unknown_kid, "kid"),
    "kid_list": (lambda s: s.dev.sign(police_claims(), kid=[s.dev.kid]), "kid"),
    "kid_object": (lambda s: s.dev.sign(police_claims(), kid={"id": s.dev.kid}), "kid"),
    "kid_number": (lambda s: s.dev.sign(police_claims(), kid=12), "kid"),
    "kid_null": (lambda s: s.dev.sign(police_claims(), kid=None), "kid"),
    "kid_of_another_issuer": (_idp_key_claiming_dev_issuer, "kid"),
    "typ_number": (lambda s: s.dev.sign(police_claims(), typ=1), "typ"),
    "crit": (lambda s: s.dev.sign(police_claims(), crit=["exp"]), "crit"),
    "rs256_signed_by_another_key": (
        lambda s: Signer(
            rsa.generate_private_key(public_exponent=65537, key_size=2048), s.rsa.kid, "RS256"
        ).sign(police_claims(iss=IDP)),
        "signature",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_headers_and_signatures_of_the_wrong_kind_are_401(referrals: Referrals, case: str) -> None:
    make, names = BAD_HEADERS[case]
    assert_refused(referrals, make(referrals.signers), names)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


MALFORMED: dict[str, str] = {
    "garbage_base64": "!!!.@@@.###",
    "two_segments": "eyJhbGciOiJFZERTQSJ9.e30",
    "header_not_json": _b64(b"\xff\xfe{") + ".e30.c2ln",
    "header_a_list": _b64(b'["alg"]') + ".e30.c2ln",
    "header_deeply_nested": _b64(_nested(5_000).encode()) + ".e30.c2ln",
    "huge_token": "a" * 20_000 + ".e30.c2ln",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_tokens_are_401(referrals: Referrals, case: str) -> None:
    assert_refused(referrals, MALFORMED[case], None)


@pytest.mark.parametrize(
    "payload", ["[]", "null", "1", '"x"', _nested(5_000), '{"exp": 1' + "0" * 5000 + "}"]
)
def test_payloads_that_are_not_claim_objects_are_401(referrals: Referrals, payload: str) -> None:
    # Genuinely signed, so the payload itself is all that is wrong.
    assert_refused(referrals, referrals.signers.dev.sign_bytes(payload.encode()), None)


# --- what is accepted -------------------------------------------------------------------


@pytest.mark.parametrize("signer", ["rsa", "ec"])
def test_rs256_and_es256_tokens_from_a_configured_idp_are_accepted(
    referrals: Referrals, signer: str
) -> None:
    key: Signer = getattr(referrals.signers, signer)
    assert key.alg in ("RS256", "ES256")
    response = referrals.submit(key.sign(police_claims(iss=IDP, aud=["accord", "other"])))
    assert response.status_code == 201, response.text


def test_dev_tokens_and_float_times_are_accepted(referrals: Referrals, dev_keys: DevKeys) -> None:
    assert referrals.submit(dev_keys.token("police", "officer")).status_code == 201
    now = time.time()
    floats = police_claims(iat=now, nbf=now, exp=now + 600.5)
    response = referrals.submit(referrals.signers.dev.sign(floats))
    assert response.status_code == 201, response.text


def test_a_well_formed_token_for_another_agency_is_still_403(referrals: Referrals) -> None:
    token = referrals.signers.ec.sign(
        police_claims(iss=IDP, agency="court", role="clerk", org=DEFAULT_ORGS["court"])
    )
    response = referrals.submit(token)
    assert response.status_code == 403, response.text


# --- never a 5xx, whatever a claim holds ------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=200),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FUZZ = hypothesis_settings(max_examples=25, deadline=None)


def assert_no_server_error(response: Response) -> None:
    defects = response_defects(
        response.status_code, response.headers.get("content-type", ""), response.text
    )
    assert not defects, f"{response.status_code} {defects}: {response.text[:300]}"
    assert response.status_code in (200, 401, 403), response.text[:300]


@pytest.mark.parametrize("claim", [*STRING_CLAIMS, "exp", "iat", "nbf", "iss", "aud"])
def test_any_json_value_in_a_claim_is_never_a_server_error(
    referrals: Referrals, claim: str
) -> None:
    @FUZZ
    @given(value=JSON_VALUES)
    def check(value: Any) -> None:
        assert_no_server_error(
            referrals.read(referrals.signers.dev.sign(police_claims(**{claim: value})))
        )

    check()


@pytest.mark.parametrize("parameter", ["alg", "kid", "typ", "crit", "b64"])
def test_any_json_value_in_a_header_parameter_is_never_a_server_error(
    referrals: Referrals, parameter: str
) -> None:
    @FUZZ
    @given(value=JSON_VALUES)
    def check(value: Any) -> None:
        header = {"alg": "EdDSA", "kid": referrals.signers.dev.kid, parameter: value}
        response = referrals.read(raw_token(header, police_claims()))
        assert_no_server_error(response)
        assert response.status_code == 401, response.text[:300]

    check()
