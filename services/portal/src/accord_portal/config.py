"""Portal settings, from ACCORD_PORTAL_* environment variables (see /work/coord/portal-contract.md).

The defaults are the local run's: Keycloak's dev realm on 8180, the five services on 8101-8105,
plain HTTP on loopback. A deployment sets its own issuer, client secret, public URL, session
database and `secure_cookies=true` behind TLS.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class PortalSettings(BaseSettings):
    # Each field's docstring is its description: docs/configuration.md is generated from them.
    model_config = SettingsConfigDict(
        env_prefix="ACCORD_PORTAL_", extra="ignore", use_attribute_docstrings=True
    )

    host: str = "127.0.0.1"
    """Address the portal listens on."""
    port: int = 8100
    """Port the portal listens on."""
    public_url: str = "http://127.0.0.1:8100"
    """Where browsers reach the portal; the OIDC redirect and post-logout URIs are built
    from it."""
    log_format: str = Field(default="json", pattern="^(json|console)$")
    """json: one JSON object per line (for a log collector); console: plain text."""
    data_dir: Path = Path("data")
    """Directory of the SQLite session store and the generated session key (when no
    database URL or key is set)."""

    oidc_issuer: str = "http://127.0.0.1:8180/realms/accord"
    """The staff identity provider's issuer URL (OIDC discovery is read from it)."""
    oidc_client_id: str = "accord-portal"
    """The portal's client id at the staff identity provider."""
    oidc_client_secret: str = "accord-portal-dev-secret"
    """The portal's client secret; the default is the dev realm's
    (deploy/keycloak/accord-realm.json): a deployment sets its own, from a secret."""
    oidc_scopes: str = "openid profile email"
    """Scopes asked for at sign-in."""
    refresh_margin_seconds: int = Field(default=30, ge=0, le=240)
    """Refresh this long before the access token expires, so a page's API calls never
    race it."""

    referral_url: str = "http://127.0.0.1:8101"
    """Base URL of the referral (police) service."""
    victim_support_url: str = "http://127.0.0.1:8102"
    """Base URL of the victim services service."""
    conference_url: str = "http://127.0.0.1:8103"
    """Base URL of the conference (RJ provider) service."""
    court_url: str = "http://127.0.0.1:8104"
    """Base URL of the court service."""
    audit_url: str = "http://127.0.0.1:8105"
    """Base URL of the audit service."""
    reporting_url: str = "http://127.0.0.1:8106"
    """Base URL of the reporting service (managers' and commissioners' figures)."""
    api_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long the portal waits for a service before showing a "try again" page."""
    training: bool = False
    """Training mode (SPEC 8): every page carries a "Training" banner and every response
    `Accord-Deployment: training`. Set it with the services' ACCORD_TRAINING and sign-in
    at the training realm (oidc_issuer), whose tokens only a training deployment accepts."""

    session_database_url: str | None = None
    """PostgreSQL URL (postgresql://user:password@host:port/dbname) of the session store,
    needed when more than one portal replica runs. Unset: a SQLite file in the data
    directory."""
    session_encryption_key: str | None = None
    """Fernet key (urlsafe base64, 32 bytes) encrypting the stored sessions' tokens. Unset:
    generated once into the data directory."""
    idle_timeout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    """A staff session ends after this long without a request."""
    absolute_lifetime_hours: int = Field(default=10, ge=1, le=24)
    """A staff session ends this long after sign-in, whatever happens."""
    secure_cookies: bool = False
    """Mark cookies Secure: true behind TLS; false on plain-HTTP loopback, where browsers
    drop Secure cookies."""

    node_modules: Path = PACKAGE_ROOT / "node_modules"
    """Where GOV.UK Frontend and axe-core are installed (`npm ci` in services/portal)."""
    organisations_file: Path = Path("policies/accord/organisations/data.json")
    """The deployment's directory of organisations (the same file OPA loads)."""
    catalogue_file: Path = Path("policies/accord/catalogue/data.json")
    """Which data class each field belongs to (the same file OPA loads), to name what was
    withheld."""

    # Victim view (victim.py): its own realm and client, and the enrolment client whose
    # client-credentials token redeems codes and creates the victims' accounts.
    victim_oidc_issuer: str = "http://127.0.0.1:8180/realms/accord-victims"
    """Issuer URL of the victims' own realm (separate from staff)."""
    victim_oidc_client_id: str = "accord-victim-view"
    """The victim view's client id in the victims' realm."""
    victim_oidc_client_secret: str = "accord-victim-view-dev-secret"
    """The victim view's client secret (the default is the dev realm's)."""
    enrolment_client_id: str = "accord-enrolment"
    """The enrolment service account that redeems invitation codes and creates victims'
    accounts."""
    enrolment_client_secret: str = "accord-enrolment-dev-secret"
    """The enrolment service account's secret (the default is the dev realm's)."""
    victim_idle_timeout_minutes: int = Field(default=10, ge=1, le=60)
    """A victim's session ends after this long without a request: shorter than staff
    sessions, because the phone may be picked up by someone else."""
    victim_exit_url: str = "https://www.bbc.co.uk/weather"
    """Where "Exit this page" goes: a neutral site with nothing to do with abuse or
    support."""
    victim_code_attempts: int = Field(default=5, ge=1, le=20)
    """Wrong codes one browser session may try before it is told to ask its advocate."""

    @property
    def redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + "/auth/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + "/signed-out"

    @property
    def victim_redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + "/your-case/auth/callback"

    @property
    def victim_post_logout_redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + "/your-case/signed-out"

    @property
    def service_urls(self) -> dict[str, str]:
        return {
            "referral": self.referral_url,
            "victim-support": self.victim_support_url,
            "conference": self.conference_url,
            "court": self.court_url,
            "audit": self.audit_url,
            "reporting": self.reporting_url,
        }
