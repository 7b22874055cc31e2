"""TokenVerifier without a server: algorithms chosen by the key, several issuers with JWKS files
or URLs (cached, refreshed on an unknown kid, rate-limited), claim shapes and lifetimes, and a
property: whatever a claim or header holds, verifying answers a Subject or a 401, nothing
else."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from accord_kernel.dev_tokens import DEFAULT_ORGS, ensure_dev_keys, mint
from accord_kernel.identity import (
    AGENCY_ROLES,
    IssuerConfig,
    JwksUrl,
    Subject,
    TokenVerifier,
    fetch_jwks,
    read_jwks,
)
from accord_kernel.problems import Problem
from accord_kernel.settings import ServiceSettings
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

REPO = Path(__file__).resolve().parents[3]
NOW = 1_900_000_000
IDP = "https://login.example/tenant"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    """A private key, its kid and algorithm, and its public JWK."""

    def __init__(self, kid: str, kind: str = "ed25519") -> None:
        self.kid = kid
        if kind == "rsa":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg, jwk = "RS256", RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        elif kind == "ec":
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.alg, jwk = "ES256", ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = Ed25519PrivateKey.generate()
            self.alg, jwk = "EdDSA", OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk: dict[str, Any] = {**jwk, "kid": kid}

    def token(self, **claims: Any) -> str:
        """Claims of a police officer's token, as given (`...`: left out)."""
        return self.signed({}, claims)

    def signed(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        """Signed by hand, so that header and claims may hold anything JSON can."""
        values = {
            "sub": "user-1",
            "agency": "police",
            "role": "officer",
            "org": "north-police",
            "iss": IDP,
            "aud": "accord",
            "iat": NOW,
            "nbf": NOW,
            "exp": NOW + 600,
            **claims,
        }
        head = {"alg": self.alg, "typ": "JWT", "kid": self.kid, **header}
        signing_input = (
            _b64(json.dumps(head).encode())
            + "."
            + _b64(json.dumps({k: v for k, v in values.items() if v is not ...}).encode())
        )
        algorithm = jwt.get_algorithm_by_name(self.alg)
        signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(self.private))
        return signing_input + "." + _b64(signature)


def jwks_file(path: Path, *keys: Key) -> Path:
    path.write_text(json.dumps({"keys": [k.jwk for k in keys]}))
    return path


def verifier_for(*configs: IssuerConfig, **kwargs: Any) -> TokenVerifier:
    return TokenVerifier(None, "unused", "accord", issuers=configs, clock=lambda: NOW, **kwargs)


def refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Problem) as raised:
        verifier.verify(token)
    assert raised.value.status == 401, raised.value.detail
    return raised.value.detail or ""


@pytest.fixture
def keys() -> dict[str, Key]:
    return {"rsa": Key("k-rsa", "rsa"), "ec": Key("k-ec", "ec"), "ed": Key("k-ed")}


@pytest.fixture
def idp(tmp_path: Path, keys: dict[str, Key]) -> TokenVerifier:
    path = jwks_file(tmp_path / "jwks.json", *keys.values())
    return verifier_for(IssuerConfig(issuer=IDP, jwks_file=path))


# --- algorithms ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed"])
def test_rs256_es256_and_eddsa_tokens_are_accepted(
    idp: TokenVerifier, keys: dict[str, Key], kind: str
) -> None:
    assert idp.verify(keys[kind].token()) == Subject("user-1", "police", "officer", "north-police")


def test_the_key_not_the_header_chooses_the_algorithm(
    idp: TokenVerifier, keys: dict[str, Key]
) -> None:
    # An ES256 signature presented as the RSA key's: refused before any signature check.
    forged = keys["ec"].signed({"kid": "k-rsa"}, {})
    assert "'alg'" in refusal(idp, forged)
    assert "'alg'" in refusal(idp, keys["rsa"].signed({"alg": "PS256"}, {}))


def test_symmetric_weak_and_mislabelled_keys_are_never_used() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    documents = [
        {"kty": "oct", "kid": "hmac", "k": _b64(b"secret")},
        {**RSAAlgorithm.to_jwk(weak.public_key(), as_dict=True), "kid": "weak"},
        {
            **ECAlgorithm.to_jwk(
                ec.generate_private_key(ec.SECP384R1()).public_key(), as_dict=True
            ),
            "kid": "p384",
        },
        {**Key("labelled-hs256", "rsa").jwk, "alg": "HS256"},
        {**Key("encryption", "ec").jwk, "use": "enc"},
        {**Key("no-kid").jwk, "kid": ""},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        "not a key",
    ]
    usable = Key("usable", "ec")
    assert list(read_jwks({"keys": [*documents, usable.jwk]})) == ["usable"]
    documents_without_keys: list[Any] = [None, [], {"keys": {}}, {"keys": "x"}]
    for document in documents_without_keys:
        assert read_jwks(document) == {}


def test_hmac_with_an_oct_key_of_the_jwks_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    secret = b"a shared secret of thirty-two by"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "kid": "hmac", "k": _b64(secret)}]}))
    token = jwt.encode({"iss": IDP}, secret, algorithm="HS256", headers={"kid": "hmac"})
    assert "'alg'" in refusal(verifier_for(IssuerConfig(issuer=IDP, jwks_file=path)), token)


# --- issuers ------------------------------------------------------------------------------


def test_each_issuer_trusts_only_its_own_keys(tmp_path: Path) -> None:
    ours, theirs = Key("same-kid"), Key("same-kid", "ec")
    verifier = verifier_for(
        IssuerConfig(issuer=IDP, jwks_file=jwks_file(tmp_path / "a.json", ours)),
        IssuerConfig(
            issuer="https://other.example", jwks_file=jwks_file(tmp_path / "b.json", theirs)
        ),
    )
    assert verifier.verify(ours.token()).user == "user-1"
    assert verifier.verify(theirs.token(iss="https://other.example")).user == "user-1"
    assert "'alg'" in refusal(verifier, theirs.token())
    assert "'signature'" in refusal(verifier, Key("same-kid").token())
    assert "'iss'" in refusal(verifier, ours.token(iss="https://unknown.example"))


def test_without_an_issuer_list_the_dev_issuer_and_keys_are_used(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path / "data" / "dev-keys")
    settings = ServiceSettings(data_dir=tmp_path / "data")
    token = mint(tmp_path / "data" / "dev-keys", agency="court", role="judge")
    subject = TokenVerifier.from_settings(settings).verify(token)
    assert (subject.agency, subject.role, subject.org) == ("court", "judge", "north-court")


def test_issuers_come_from_the_environment_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Key("env-key", "rsa")
    monkeypatch.setenv(
        "ACCORD_TOKEN_ISSUERS",
        json.dumps(
            [
                {"issuer": IDP, "jwks_file": str(jwks_file(tmp_path / "jwks.json", key))},
                {
                    "issuer": "https://login.example/b",
                    "jwks_url": "https://login.example/b/keys",
                    "refresh_seconds": 30,
                },
            ]
        ),
    )
    verifier = TokenVerifier.from_settings(ServiceSettings(), fetch=lambda url, t: {})
    assert (
        verifier.verify(key.token(exp=int(time.time()) + 60, iat=int(time.time()), nbf=...)).user
        == "user-1"
    )


@pytest.mark.parametrize(
    "entry",
    [
        {"issuer": IDP},
        {"issuer": IDP, "jwks_file": "a", "jwks_url": "https://b"},
        {"issuer": "", "jwks_file": "a"},
        {"issuer": IDP, "jwks_url": "file:///etc/passwd"},
        {"issuer": IDP, "jwks_file": "a", "surprise": 1},
    ],
)
def test_an_issuer_needs_exactly_one_key_source(entry: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TokenVerifier.from_settings(ServiceSettings(token_issuers=[entry]))


def test_a_rotated_jwks_file_is_read_again(tmp_path: Path) -> None:
    old, new = Key("old"), Key("new", "ec")
    path = jwks_file(tmp_path / "jwks.json", old)
    verifier = verifier_for(IssuerConfig(issuer=IDP, jwks_file=path))
    assert verifier.verify(old.token()).user == "user-1"
    jwks_file(path, old, new)
    assert verifier.verify(new.token()).user == "user-1"
    path.write_text("{not json")
    assert verifier.verify(new.token()).user == "user-1", "a broken file keeps the keys"


# --- JWKS URLs ----------------------------------------------------------------------------


class Provider:
    """A JWKS endpoint in memory, counting fetches; `down` makes it fail."""

    def __init__(self, *keys: Key) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.down = False

    def __call__(self, url: str, timeout: float) -> Any:
        self.fetches += 1
        if self.down:
            raise jwt.PyJWKClientConnectionError("unreachable")
        return {"keys": [k.jwk for k in self.keys]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_jwks_url_is_cached_and_fetched_again_for_an_unknown_kid_at_most_once_a_minute() -> None:
    first, rotated = Key("first"), Key("rotated", "rsa")
    provider, clock = Provider(first), Clock()
    source = JwksUrl(
        "https://idp/keys", refresh_seconds=60, cache_seconds=3600, fetch=provider, clock=clock
    )
    assert list(source.keys()) == ["first"] and provider.fetches == 1
    assert list(source.keys()) == ["first"] and provider.fetches == 1, "cached"
    provider.keys.append(rotated)
    for _ in range(50):
        assert "rotated" not in source.keys(unknown_kid=True)
    assert provider.fetches == 1, "unknown kids within the minute fetch nothing"
    clock.now += 60
    assert "rotated" in source.keys(unknown_kid=True) and provider.fetches == 2
    clock.now += 3600
    provider.down = True
    assert set(source.keys()) == {"first", "rotated"}, "a failed fetch keeps the keys"
    assert provider.fetches == 3
    clock.now += 30
    assert set(source.keys()) == {"first", "rotated"} and provider.fetches == 3
    clock.now += 30
    provider.down = False
    source.keys()
    assert provider.fetches == 4, "stale keys are fetched again once the minute is over"


def test_a_verifier_fetches_a_rotated_key_from_the_url() -> None:
    first, rotated = Key("first", "ec"), Key("rotated", "rsa")
    provider = Provider(first)
    verifier = verifier_for(
        IssuerConfig(issuer=IDP, jwks_url="https://idp/keys", refresh_seconds=0.001), fetch=provider
    )
    assert verifier.verify(first.token()).user == "user-1"
    provider.keys = [rotated]
    time.sleep(0.002)
    assert verifier.verify(rotated.token()).user == "user-1"
    assert "'kid'" in refusal(verifier, Key("made-up").token())
    provider.down = True
    time.sleep(0.002)
    assert "'kid'" in refusal(verifier, first.token()), "the old key is gone"
    assert verifier.verify(rotated.token()).user == "user-1"


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, Key]]:
    key = Key("served", "ec")
    body = json.dumps({"keys": [key.jwk]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks", key
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_jwks_reads_a_jwks_over_http(
    jwks_server: tuple[str, Key], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key = jwks_server
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert list(read_jwks(fetch_jwks(url, 2))) == ["served"]
    verifier = verifier_for(IssuerConfig(issuer=IDP, jwks_url=url))
    assert verifier.verify(key.token()).user == "user-1"


# --- claims -------------------------------------------------------------------------------


def test_lifetime_is_at_most_the_configured_maximum(
    idp: TokenVerifier, tmp_path: Path, keys: dict[str, Key]
) -> None:
    ed = keys["ed"]
    assert idp.verify(ed.token(exp=NOW + 3600)).user == "user-1"
    assert "'exp'" in refusal(idp, ed.token(exp=NOW + 3601))
    short = verifier_for(
        IssuerConfig(issuer=IDP, jwks_file=tmp_path / "jwks.json"), max_lifetime_seconds=600
    )
    assert "'exp'" in refusal(short, ed.token(exp=NOW + 601))


def test_clock_skew_within_the_leeway_is_tolerated(
    idp: TokenVerifier, keys: dict[str, Key]
) -> None:
    ed = keys["ed"]
    assert idp.verify(ed.token(iat=NOW + 20, nbf=NOW + 20, exp=NOW + 620)).user == "user-1"
    assert idp.verify(ed.token(iat=NOW - 620, nbf=..., exp=NOW - 20)).user == "user-1"
    assert "expired" in refusal(idp, ed.token(iat=NOW - 640, exp=NOW - 40))
    assert "'nbf'" in refusal(idp, ed.token(nbf=NOW + 40))


@pytest.mark.parametrize("claim", ["sub", "agency", "role", "org"])
def test_identity_claims_must_be_short_printable_strings(
    idp: TokenVerifier, keys: dict[str, Key], claim: str
) -> None:
    ed = keys["ed"]
    for value in (
        ["police"],
        {"a": 1},
        1,
        1.5,
        True,
        None,
        "",
        "x" * 129,
        "a\x00",
        "a\n",
        "\x1b[0m",
        "a\u2028b",
        "zero\u200bwidth",
    ):
        detail = refusal(idp, ed.signed({}, {claim: value}))
        assert f"claim '{claim}'" in detail and "zero" not in detail
    assert f"claim '{claim}' is missing" in refusal(idp, ed.signed({}, {claim: ...}))
    if claim in ("sub", "org"):
        subject = idp.verify(ed.signed({}, {claim: "x" * 128}))
        assert "x" * 128 in (subject.user, subject.org)


def test_unicode_printable_identities_are_accepted(
    idp: TokenVerifier, keys: dict[str, Key]
) -> None:
    subject = idp.verify(keys["ed"].token(sub="Zoë O'Brien", org="Cour d'appel"))
    assert (subject.user, subject.org) == ("Zoë O'Brien", "Cour d'appel")


def test_every_agency_has_a_default_organisation_in_the_directory(tmp_path: Path) -> None:
    directory = json.loads((REPO / "policies/accord/organisations/data.json").read_text())
    agency_of = {o["id"]: o["agency"] for o in directory["organisations"]}
    # Every agency of organisations; a victim belongs to none (their org is their advocates').
    assert set(DEFAULT_ORGS) == set(AGENCY_ROLES) - {"victim"}
    assert all(agency_of.get(org) == agency for agency, org in DEFAULT_ORGS.items())
    verifier = TokenVerifier(ensure_dev_keys(tmp_path)[1], "accord-dev", "accord")
    for agency, org in DEFAULT_ORGS.items():
        role = sorted(AGENCY_ROLES[agency] - {"enrolment"})[0]
        assert verifier.verify(mint(tmp_path, agency=agency, role=role)).org == org
    assert (
        verifier.verify(mint(tmp_path, agency="court", role="clerk", org="south-court")).org
        == "south-court"
    )
    assert "'org'" in refusal(verifier, mint(tmp_path, agency="court", role="clerk", org=""))


# --- whatever a token holds, a Subject or a 401 ---------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=300),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
CLAIMS = ["sub", "agency", "role", "org", "iss", "aud", "exp", "iat", "nbf", "jti"]
HEADERS = ["alg", "kid", "typ", "crit", "b64", "jku", "x5u"]


def fuzz_verifier(key: Key) -> TokenVerifier:
    """A verifier trusting `key` from a JWKS URL (served in memory)."""
    return verifier_for(
        IssuerConfig(issuer=IDP, jwks_url="https://idp/keys"),
        fetch=lambda url, timeout: {"keys": [key.jwk]},
    )


def subject_or_401(verifier: TokenVerifier, token: str) -> None:
    try:
        verifier.verify(token)
    except Problem as problem:
        assert problem.status == 401 and problem.detail


@settings(max_examples=300, deadline=None)
@given(claim=st.sampled_from(CLAIMS), value=JSON)
def test_any_json_value_in_any_claim_is_a_subject_or_a_401(claim: str, value: Any) -> None:
    key = Key("fuzz")
    verifier = fuzz_verifier(key)
    subject_or_401(verifier, key.signed({}, {claim: value}))


@settings(max_examples=300, deadline=None)
@given(parameter=st.sampled_from(HEADERS), value=JSON)
def test_any_json_value_in_any_header_parameter_is_a_401(parameter: str, value: Any) -> None:
    key = Key("fuzz", "ec")
    verifier = fuzz_verifier(key)
    subject_or_401(verifier, key.signed({parameter: value}, {}))


@settings(max_examples=300, deadline=None)
@given(
    token=st.text(max_size=400)
    | st.lists(st.binary(max_size=200), min_size=1, max_size=4).map(
        lambda parts: ".".join(_b64(p) for p in parts)
    )
)
def test_any_string_is_a_subject_or_a_401(token: str) -> None:
    subject_or_401(fuzz_verifier(Key("fuzz")), token)
