"""Who is calling: bearer JWTs (OIDC style) from the configured issuers, each verified against
its own JWKS (a file, re-read when it changes, or a URL, cached and fetched again for an unknown
`kid` at most once per `refresh_seconds`).

Everything wrong with a token is a 401 problem whose detail names what is wrong (a claim or a
header parameter) and never repeats its value; a well-formed token whose agency may not use an
endpoint is a 403 from `require`."""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import BaseModel, ConfigDict, Field, model_validator

from accord_kernel.deployment import DEPLOYMENT_CLAIM, LIVE, TRAINING
from accord_kernel.problems import Problem, forbidden, unauthorized

if TYPE_CHECKING:
    from accord_kernel.settings import ServiceSettings

log = logging.getLogger("accord.identity")

AGENCY_ROLES: dict[str, frozenset[str]] = {
    # `manager` (every agency with cases) reads its own organisation's figures, never cases;
    # a `commissioner` reads the region's figures (policies/accord/reporting).
    "police": frozenset({"officer", "supervisor", "manager"}),
    # `enrolment` is the service account that redeems a victim's invitation code and links the
    # account the victim then makes; it reaches those two endpoints and nothing else.
    "victim_services": frozenset({"advocate", "supervisor", "enrolment", "manager"}),
    "rj_provider": frozenset({"coordinator", "facilitator", "supervisor", "manager"}),
    "court": frozenset({"clerk", "judge", "manager"}),
    "commissioner": frozenset({"commissioner"}),
    "audit": frozenset({"privacy_officer"}),
    # The harmed person, signed in to the victim view (realm accord-victims): not an agency
    # with organisations, and reaches only the endpoints made for them (see `runtime`).
    "victim": frozenset({"victim"}),
}
VICTIM = "victim"
# Roles that read aggregate figures and never a case: they pass `require` only where a route
# names them, so no endpoint written for an agency's caseworkers lets them in by default.
FIGURES_ONLY_ROLES = frozenset({"manager", "commissioner"})
ENROLMENT = "enrolment"
# The agencies organisations belong to (SPEC 4a): a victim is a person, not an agency.
AGENCIES = frozenset(AGENCY_ROLES) - {VICTIM}
# The dev keys' algorithm (accord_kernel.dev_tokens).
ALGORITHM = "EdDSA"
# Never `none` and never HMAC: a key's type decides its one algorithm (see key_algorithm).
ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
IDENTITY_CLAIMS = ("sub", "agency", "role", "org")
MAX_CLAIM_LENGTH = 128
MAX_TOKEN_CHARS = 16_384
MIN_RSA_BITS = 2048
TOKEN_TYPES = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

JwksFetcher = Callable[[str, float], Any]
Keys = Mapping[str, tuple[jwt.PyJWK, str]]


@dataclass(frozen=True)
class Subject:
    user: str
    agency: str
    role: str
    org: str

    @property
    def is_victim(self) -> bool:
        return self.agency == VICTIM

    @property
    def is_enrolment(self) -> bool:
        return self.agency == "victim_services" and self.role == ENROLMENT

    def as_policy_input(self) -> dict[str, str]:
        return {"user": self.user, "agency": self.agency, "role": self.role, "org": self.org}


IdentityClaim = Literal["sub", "agency", "role", "org"]


class IssuerConfig(BaseModel):
    """One trusted issuer (ServiceSettings.token_issuers, env ACCORD_ISSUERS or
    ACCORD_TOKEN_ISSUERS as JSON): its `iss` value, where its signing keys are (a JWKS file or
    a JWKS URL), the audience its tokens must name, and where in its tokens Accord's identity
    claims are (docs/identity-providers.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1, max_length=2048)
    jwks_file: Path | None = None
    jwks_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    # The `aud` this issuer's tokens must carry; the service's token_audience when unset. Each
    # provider names its audience its own way (Entra ID: the application ID URI or client id).
    audience: str | None = Field(default=None, min_length=1, max_length=2048)
    # Accord claim -> the claim of this issuer's tokens that carries it: a top-level claim name
    # (Entra's `extn.agency` included) or else a dotted path into JSON objects
    # (`accord.agency`). A mapped claim may also be a list of exactly one string (Entra's `roles`
    # for an app role). Unmapped claims are read under their own names.
    claims: dict[IdentityClaim, str] = Field(default_factory=dict)
    # The longest this issuer's tokens may live (exp - iat); the service's maximum when unset.
    # Entra ID, for one, issues access tokens for 60 to 90 minutes unless told otherwise.
    max_lifetime_seconds: int | None = Field(default=None, ge=60, le=86_400)
    # A URL is fetched again for an unknown kid at most once per refresh_seconds, and when the
    # keys it gave are older than cache_seconds.
    refresh_seconds: float = Field(default=60, gt=0)
    cache_seconds: float = Field(default=3600, gt=0)
    timeout_seconds: float = Field(default=5, gt=0, le=60)
    # A training realm (SPEC 8): every token of this issuer is a training token, accepted only
    # by a training deployment (accord_kernel.deployment).
    training: bool = False

    @model_validator(mode="after")
    def _one_key_source(self) -> IssuerConfig:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError(f"issuer {self.issuer!r} needs exactly one of jwks_file, jwks_url")
        return self


def key_algorithm(key: jwt.PyJWK) -> str | None:
    """The one algorithm a public key may verify, from its type: RSA (2048 bits or more)
    RS256, EC P-256 ES256, Ed25519 EdDSA; None for any other key (symmetric keys included)."""
    public = key.key
    if isinstance(public, RSAPublicKey) and public.key_size >= MIN_RSA_BITS:
        return "RS256"
    if isinstance(public, EllipticCurvePublicKey) and isinstance(public.curve, SECP256R1):
        return "ES256"
    if isinstance(public, Ed25519PublicKey):
        return "EdDSA"
    return None


def read_jwks(document: Any) -> dict[str, tuple[jwt.PyJWK, str]]:
    """The usable signing keys of a JWKS document, by kid, each with its algorithm. Keys without
    a kid, not for signatures, of another type, or whose `alg` disagrees with their type are
    left out."""
    entries = document.get("keys") if isinstance(document, dict) else None
    keys: dict[str, tuple[jwt.PyJWK, str]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except Exception as exc:  # a key the library cannot load is a key we do not use
            log.warning("JWKS key %s unusable: %s", kid, type(exc).__name__)
            continue
        algorithm = key_algorithm(key)
        if algorithm is None or entry.get("alg", algorithm) != algorithm:
            log.warning("JWKS key %s is not an RS256, ES256 or EdDSA signing key", kid)
            continue
        keys[kid] = (key, algorithm)
    return keys


class KeySource(Protocol):
    def keys(self, unknown_kid: bool = False) -> Keys: ...


class JwksFile:
    """A JWKS file, read again whenever it changes (key rotation)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._version: tuple[int, int] | None = None
        self._keys: Keys = {}
        self._lock = threading.Lock()

    def keys(self, unknown_kid: bool = False) -> Keys:
        try:
            stat = self._path.stat()
        except OSError:
            return {}
        version = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if version != self._version:
                try:
                    self._keys = read_jwks(json.loads(self._path.read_text()))
                except (OSError, ValueError, RecursionError) as exc:
                    log.warning("JWKS file %s unreadable: %s", self._path, type(exc).__name__)
                self._version = version
            return self._keys


def fetch_jwks(url: str, timeout_seconds: float) -> Any:
    """A JWKS document from its URL (PyJWT's client: no redirects, a timeout)."""
    client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=timeout_seconds)
    return client.fetch_data()


class JwksUrl:
    """A JWKS URL: its keys are cached, fetched again when older than `cache_seconds` or when a
    token names a kid they lack, but never more than once per `refresh_seconds`, so tokens with
    made-up kids cannot make us hammer the provider. A failed fetch keeps the keys we had."""

    def __init__(
        self,
        url: str,
        *,
        refresh_seconds: float = 60,
        cache_seconds: float = 3600,
        timeout_seconds: float = 5,
        fetch: JwksFetcher = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._refresh_seconds = refresh_seconds
        self._cache_seconds = cache_seconds
        self._timeout_seconds = timeout_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: Keys = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def keys(self, unknown_kid: bool = False) -> Keys:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._cache_seconds
            allowed = (
                self._attempted_at is None or now - self._attempted_at >= self._refresh_seconds
            )
            if (stale or unknown_kid) and allowed:
                self._attempted_at = now
                try:
                    self._keys = read_jwks(self._fetch(self._url, self._timeout_seconds))
                    self._fetched_at = now
                except Exception as exc:  # an unreachable provider: keep what we had
                    log.warning("JWKS %s not fetched: %s", self._url, type(exc).__name__)
            return self._keys


def key_source(config: IssuerConfig, fetch: JwksFetcher = fetch_jwks) -> KeySource:
    if config.jwks_url is not None:
        return JwksUrl(
            config.jwks_url,
            refresh_seconds=config.refresh_seconds,
            cache_seconds=config.cache_seconds,
            timeout_seconds=config.timeout_seconds,
            fetch=fetch,
        )
    assert config.jwks_file is not None
    return JwksFile(config.jwks_file)


class TokenVerifier:
    """Verifies bearer tokens from the trusted issuers: by default the one `issuer` whose keys
    are in `jwks_file` (the dev keys), or else the `issuers` given."""

    def __init__(
        self,
        jwks_file: Path | None,
        issuer: str,
        audience: str,
        *,
        issuers: Sequence[IssuerConfig] = (),
        max_lifetime_seconds: int = 3600,
        leeway_seconds: int = 30,
        clock: Callable[[], float] = time.time,
        fetch: JwksFetcher = fetch_jwks,
        training: bool = False,
    ) -> None:
        if not issuers:
            if jwks_file is None:
                raise ValueError("no token issuer is configured")
            issuers = [IssuerConfig(issuer=issuer, jwks_file=jwks_file)]
        self._sources = {config.issuer: key_source(config, fetch) for config in issuers}
        self._issuers = {config.issuer: config for config in issuers}
        self._audience = audience
        self._max_lifetime = max_lifetime_seconds
        self._leeway = leeway_seconds
        self._clock = clock
        self._training = training

    @classmethod
    def from_settings(
        cls, settings: ServiceSettings, fetch: JwksFetcher = fetch_jwks
    ) -> TokenVerifier:
        issuers = [IssuerConfig.model_validate(entry) for entry in settings.token_issuers]
        return cls(
            settings.jwks_file,
            settings.token_issuer,
            settings.token_audience,
            issuers=issuers,
            max_lifetime_seconds=settings.token_max_lifetime_seconds,
            leeway_seconds=settings.token_leeway_seconds,
            fetch=fetch,
            training=settings.training,
        )

    def verify(self, token: str) -> Subject:
        try:
            return self._verify(token)
        except Problem as problem:
            log.info("token refused: %s", problem.detail)
            raise
        except Exception as exc:
            # The last line of defence: no shape of token may become a 500.
            log.error("token refused after an unexpected %s", type(exc).__name__)
            raise unauthorized("malformed token") from exc

    def _verify(self, token: str) -> Subject:
        if len(token) > MAX_TOKEN_CHARS:
            raise unauthorized(f"malformed token: longer than {MAX_TOKEN_CHARS} characters")
        if not _COMPACT_JWS.fullmatch(token):
            raise unauthorized("malformed token: not three base64url segments")
        header_segment, payload_segment, _ = token.split(".")
        header = _json_object(header_segment, "header")
        claims = _json_object(payload_segment, "payload")
        source = self._sources.get(claims["iss"]) if _is_str(claims.get("iss")) else None
        if source is None:
            raise unauthorized("claim 'iss' must name a trusted issuer")
        key, algorithm = _signing_key(source, header)
        try:
            jwt.PyJWS().decode_complete(token, key.key, algorithms=[algorithm])
        except jwt.InvalidSignatureError as exc:
            raise unauthorized("the token's 'signature' does not verify") from exc
        except jwt.PyJWTError as exc:
            raise unauthorized("malformed token: " + type(exc).__name__) from exc
        config = self._issuers[claims["iss"]]
        self._check_audience(claims, config.audience or self._audience)
        self._check_times(claims, config.max_lifetime_seconds or self._max_lifetime)
        self._check_deployment(claims, config)
        return _subject(claims, {str(k): v for k, v in config.claims.items()})

    def _check_deployment(self, claims: dict[str, Any], config: IssuerConfig) -> None:
        """Training tokens only in a training deployment, live tokens only in a live one."""
        claim = claims.get(DEPLOYMENT_CLAIM, LIVE)
        if claim not in (LIVE, TRAINING):
            raise unauthorized(f"claim '{DEPLOYMENT_CLAIM}' must be '{LIVE}' or '{TRAINING}'")
        training_token = config.training or claim == TRAINING
        if training_token and not self._training:
            raise unauthorized("a training token is refused by a live deployment")
        if self._training and not training_token:
            raise unauthorized("a live token is refused by a training deployment")

    def _check_audience(self, claims: dict[str, Any], expected: str) -> None:
        audience = claims.get("aud")
        if isinstance(audience, list) and all(_is_str(a) for a in audience):
            if expected in audience:
                return
        elif audience == expected:
            return
        raise unauthorized("claim 'aud' must name this service's audience")

    def _check_times(self, claims: dict[str, Any], max_lifetime: int) -> None:
        now = self._clock()
        expires, issued = _time(claims, "exp"), _time(claims, "iat")
        not_before = _time(claims, "nbf") if "nbf" in claims else None
        if expires <= now - self._leeway:
            raise unauthorized("token expired: claim 'exp' is in the past")
        if issued > now + self._leeway:
            raise unauthorized("claim 'iat' is in the future")
        if not_before is not None and not_before > now + self._leeway:
            raise unauthorized("token not yet valid: claim 'nbf' is in the future")
        if expires <= issued:
            raise unauthorized("claim 'exp' must be later than claim 'iat'")
        if expires > issued + max_lifetime:
            raise unauthorized(
                f"claim 'exp' is more than {max_lifetime} seconds after "
                "claim 'iat' (token lifetime too long)"
            )


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _json_object(segment: str, part: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError) as exc:  # binascii and Unicode errors are ValueErrors
        raise unauthorized(f"malformed token: the {part} is not base64url-encoded JSON") from exc
    if not isinstance(value, dict):
        raise unauthorized(f"malformed token: the {part} is not a JSON object")
    return value


def _signing_key(source: KeySource, header: dict[str, Any]) -> tuple[jwt.PyJWK, str]:
    """The issuer's key the header names, and its algorithm, which the header must agree
    with: the header alone never chooses the algorithm."""
    alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ", "JWT")
    if not _is_str(alg) or alg not in ALGORITHMS:
        raise unauthorized("header 'alg' must be one of " + ", ".join(sorted(ALGORITHMS)))
    if not _is_str(kid) or not kid:
        raise unauthorized("header 'kid' must be a non-empty string")
    if not _is_str(typ) or typ.lower() not in TOKEN_TYPES:
        raise unauthorized("header 'typ' must be JWT")
    if "crit" in header or header.get("b64", True) is not True:
        raise unauthorized("header 'crit' or 'b64' asks for extensions this service lacks")
    found = source.keys().get(kid) or source.keys(unknown_kid=True).get(kid)
    if found is None:
        raise unauthorized("header 'kid' names no key of the token's issuer")
    if found[1] != alg:
        raise unauthorized("header 'alg' does not match the algorithm of the key")
    return found


def _time(claims: dict[str, Any], name: str) -> float:
    if name not in claims:
        raise unauthorized(f"claim '{name}' is missing")
    value = claims[name]
    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if isinstance(value, bool) or not finite:
        raise unauthorized(f"claim '{name}' must be a number of seconds since the epoch")
    return value if isinstance(value, float) else int(value)


_MISSING = object()


def _mapped(claims: dict[str, Any], path: str) -> Any:
    """The value of a mapped claim: a top-level claim of that name, or else the dotted path
    through JSON objects; a list of exactly one string stands for that string."""
    value: Any = claims.get(path, _MISSING)
    if value is _MISSING and "." in path:
        value = claims
        for step in path.split("."):
            value = value.get(step, _MISSING) if isinstance(value, dict) else _MISSING
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return value


def _identity(claims: dict[str, Any], name: str, mapping: Mapping[str, str]) -> str:
    source = mapping.get(name, name)
    value = _mapped(claims, source) if name in mapping else claims.get(name, _MISSING)
    label = f"'{name}'" if source == name else f"'{source}' (Accord's '{name}')"
    if value is _MISSING:
        raise unauthorized(f"claim {label} is missing")
    if not (isinstance(value, str) and 0 < len(value) <= MAX_CLAIM_LENGTH and value.isprintable()):
        raise unauthorized(
            f"claim {label} must be a non-empty printable string of at most "
            f"{MAX_CLAIM_LENGTH} characters"
        )
    return value


def _subject(claims: dict[str, Any], mapping: Mapping[str, str] | None = None) -> Subject:
    user, agency, role, org = (_identity(claims, name, mapping or {}) for name in IDENTITY_CLAIMS)
    if agency not in AGENCY_ROLES:
        raise unauthorized("claim 'agency' names no known agency")
    if role not in AGENCY_ROLES[agency]:
        raise unauthorized("claim 'role' names no role of the token's agency")
    return Subject(user=user, agency=agency, role=role, org=org)


def require(
    subject: Subject, agencies: set[str] | frozenset[str], roles: set[str] | None = None
) -> Subject:
    if subject.agency not in agencies:
        log.info("agency refused user=%s agency=%s", subject.user, subject.agency)
        raise forbidden(f"agency '{subject.agency}' may not use this endpoint")
    if roles is not None and subject.role not in roles:
        raise forbidden(f"role '{subject.role}' may not use this endpoint")
    if roles is None and subject.role in FIGURES_ONLY_ROLES:
        raise forbidden(f"role '{subject.role}' reads figures, not cases")
    return subject
