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
    model_config = SettingsConfigDict(env_prefix="ACCORD_PORTAL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8100
    # Where browsers reach the portal; the OIDC redirect and post-logout URIs are built from it.
    public_url: str = "http://127.0.0.1:8100"
    data_dir: Path = Path("data")

    oidc_issuer: str = "http://127.0.0.1:8180/realms/accord"
    oidc_client_id: str = "accord-portal"
    # The dev realm's secret (deploy/keycloak/accord-realm.json); a deployment sets its own.
    oidc_client_secret: str = "accord-portal-dev-secret"
    oidc_scopes: str = "openid profile email"
    # Refresh this long before the access token expires, so a page's API calls never race it.
    refresh_margin_seconds: int = Field(default=30, ge=0, le=240)

    referral_url: str = "http://127.0.0.1:8101"
    victim_support_url: str = "http://127.0.0.1:8102"
    conference_url: str = "http://127.0.0.1:8103"
    court_url: str = "http://127.0.0.1:8104"
    audit_url: str = "http://127.0.0.1:8105"
    api_timeout_seconds: float = Field(default=10.0, gt=0)

    # postgresql://user:password@host:port/dbname; unset: a SQLite file in the data dir.
    session_database_url: str | None = None
    # A Fernet key (urlsafe base64, 32 bytes); unset: generated once into the data dir.
    session_encryption_key: str | None = None
    idle_timeout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    absolute_lifetime_hours: int = Field(default=10, ge=1, le=24)
    # True behind TLS; false on plain-HTTP loopback, where browsers drop Secure cookies.
    secure_cookies: bool = False

    # GOV.UK Frontend and axe-core, installed by `npm ci` in services/portal.
    node_modules: Path = PACKAGE_ROOT / "node_modules"
    # The deployment's directory of organisations (same file OPA loads).
    organisations_file: Path = Path("policies/accord/organisations/data.json")
    # Which data class each field belongs to (same file OPA loads), to name what was withheld.
    catalogue_file: Path = Path("policies/accord/catalogue/data.json")

    # Victim view (victim.py): its own realm and client, and the enrolment client whose
    # client-credentials token redeems codes and creates the victims' accounts.
    victim_oidc_issuer: str = "http://127.0.0.1:8180/realms/accord-victims"
    victim_oidc_client_id: str = "accord-victim-view"
    victim_oidc_client_secret: str = "accord-victim-view-dev-secret"
    enrolment_client_id: str = "accord-enrolment"
    enrolment_client_secret: str = "accord-enrolment-dev-secret"
    # Shorter than staff sessions: the phone may be picked up by someone else.
    victim_idle_timeout_minutes: int = Field(default=10, ge=1, le=60)
    # Where "Exit this page" goes: a neutral site with nothing to do with abuse or support.
    victim_exit_url: str = "https://www.bbc.co.uk/weather"
    # Wrong codes one browser session may try before it is told to ask its advocate.
    victim_code_attempts: int = Field(default=5, ge=1, le=20)

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
        }
