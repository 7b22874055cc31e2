import time
from pathlib import Path

import jwt
import pytest
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.identity import TokenVerifier
from accord_kernel.problems import Problem
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    ensure_dev_keys(tmp_path)
    return tmp_path


def verifier(keys: Path) -> TokenVerifier:
    return TokenVerifier(keys / "jwks.json", "accord-dev", "accord")


def test_minted_token_verifies_to_subject(keys: Path) -> None:
    token = mint(keys, agency="police", role="officer", user="pc-1", org="met")
    subject = verifier(keys).verify(token)
    assert (subject.user, subject.agency, subject.role, subject.org) == (
        "pc-1",
        "police",
        "officer",
        "met",
    )


def test_expired_token_refused(keys: Path) -> None:
    token = mint(keys, agency="court", role="clerk", ttl_seconds=60, now=time.time() - 3600)
    with pytest.raises(Problem) as err:
        verifier(keys).verify(token)
    assert err.value.status == 401 and "expired" in (err.value.detail or "")


def test_forged_token_refused(keys: Path) -> None:
    other = Ed25519PrivateKey.generate()
    kid = jwt.get_unverified_header(mint(keys, agency="police", role="officer"))["kid"]
    forged = jwt.encode(
        {
            "sub": "x",
            "agency": "police",
            "role": "officer",
            "iss": "accord-dev",
            "aud": "accord",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        other,
        algorithm="EdDSA",
        headers={"kid": kid},
    )
    with pytest.raises(Problem) as err:
        verifier(keys).verify(forged)
    assert err.value.status == 401


def test_unsigned_and_garbage_tokens_refused(keys: Path) -> None:
    unsigned = jwt.encode(
        {"sub": "x", "agency": "police", "role": "officer"}, None, algorithm="none"
    )
    for token in (unsigned, "not-a-jwt", ""):
        with pytest.raises(Problem) as err:
            verifier(keys).verify(token)
        assert err.value.status == 401


def test_unknown_role_cannot_be_minted(keys: Path) -> None:
    with pytest.raises(ValueError):
        mint(keys, agency="court", role="officer")
