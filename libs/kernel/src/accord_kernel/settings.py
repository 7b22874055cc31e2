"""One Settings object per service, read from ACCORD_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCORD_", extra="ignore")

    service: str = "accord"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    # postgresql://user:password@host:port/dbname; unset means the embedded SQLite store.
    database_url: str | None = None
    # "memory" is for fast unit tests only.
    persistence: str = Field(default="auto", pattern="^(auto|sqlite|postgres|memory)$")
    kafka_bootstrap: str = "127.0.0.1:9092"
    # The CloudEvents Kafka binding's content mode of published events: "structured" (the
    # value is the whole event as JSON) or "binary" (attributes in ce_ headers, the value is
    # the data). Consumers accept both whatever this says.
    cloudevents_mode: Literal["structured", "binary"] = "structured"
    opa_url: str = "http://127.0.0.1:8181"
    opa_timeout_seconds: float = 1.5
    jwks_path: Path | None = None
    token_issuer: str = "accord-dev"
    token_audience: str = "accord"
    # Only the policy benchmark turns this off, to measure enforcement cost.
    enforce_policy: bool = True
    consumer_group: str | None = None
    # Requests whose body is larger are refused with 413 before anything parses them.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # The longest a token may live (exp - iat); longer-lived tokens are refused.
    token_max_lifetime_seconds: int = Field(default=3600, ge=60)
    # The deployment's directory of organisations (SPEC 4a); OPA loads the same file as data.
    organisations_file: Path = Path("policies/accord/organisations/data.json")

    # Base of the `type` URI of problem documents (RFC 9457), e.g. a documentation site that
    # mirrors /problems/; unset means each service's own /problems/ as the client reached it.
    problem_base_url: str | None = None

    @property
    def jwks_file(self) -> Path:
        return self.jwks_path or self.data_dir / "dev-keys" / "jwks.json"

    def eventsourcing_env(self) -> dict[str, str]:
        kind = self.persistence
        if kind == "auto":
            kind = "postgres" if self.database_url else "sqlite"
        if kind == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if kind == "sqlite":
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # eventsourcing puts a file database in write-ahead-log mode itself (readers never
            # wait for the writer) and serialises this process's writers; SQLITE_LOCK_TIMEOUT
            # is sqlite3's busy timeout in seconds, for another process writing the same file.
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / f"{self.service}.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        if not self.database_url:
            raise ValueError("ACCORD_DATABASE_URL is required for postgres persistence")
        url = urlsplit(self.database_url)
        return {
            # eventsourcing's PostgreSQL persistence, with broken connections detected on
            # error instead of by a ping before every use (accord_kernel.postgres).
            "PERSISTENCE_MODULE": "accord_kernel.postgres:AccordPostgresFactory",
            "POSTGRES_DBNAME": url.path.lstrip("/"),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            # One schema per service: a service never reads another service's tables.
            "POSTGRES_SCHEMA": self.service.replace("-", "_"),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_PRE_PING": "n",
            "POSTGRES_MAX_OVERFLOW": "5",
        }

    @classmethod
    def for_service(cls, service: str, default_port: int, **overrides: object) -> ServiceSettings:
        """Environment first, then overrides; the service's own port unless one is set."""
        settings = cls(service=service, **overrides)  # type: ignore[arg-type]
        if "port" not in settings.model_fields_set:
            settings.port = default_port
        return settings

    # Trusted token issuers, JSON in ACCORD_TOKEN_ISSUERS: [{"issuer": ..., "jwks_url": ...} or
    # {"issuer": ..., "jwks_file": ...}, ...], each validated as accord_kernel.identity.
    # IssuerConfig. Empty: the one issuer token_issuer with the keys in jwks_file (dev keys).
    token_issuers: list[dict[str, str | float]] = Field(default_factory=list)
    # Clock skew tolerated when checking a token's exp, iat and nbf.
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
