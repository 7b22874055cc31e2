"""One Settings object per service, read from ACCORD_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    # Each field's docstring is its description: docs/configuration.md is generated from them.
    # populate_by_name: settings built in code name fields, not their environment aliases.
    model_config = SettingsConfigDict(
        env_prefix="ACCORD_", extra="ignore", use_attribute_docstrings=True, populate_by_name=True
    )

    service: str = "accord"
    """The service's name (referral, victim-support, conference, court, audit); set by each
    service's entry point, it names the store, the schema and the consumer group."""
    host: str = "127.0.0.1"
    """Address the HTTP API listens on."""
    port: int = 8000
    """Port the HTTP API listens on; each service has its own default (8101-8105)."""
    data_dir: Path = Path("data")
    """Directory for the embedded SQLite stores and the development keys."""
    database_url: str | None = None
    """PostgreSQL URL (postgresql://user:password@host:port/dbname) of the event store; each
    service uses its own schema. Unset: the embedded SQLite store in the data directory."""
    persistence: str = Field(default="auto", pattern="^(auto|sqlite|postgres|memory)$")
    """Event store kind: auto (PostgreSQL if a database URL is set, else SQLite), sqlite,
    postgres, or memory (fast unit tests only: nothing survives a restart)."""
    kafka_bootstrap: str = "127.0.0.1:9092"
    """Kafka bootstrap servers (host:port, comma-separated)."""
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,60}$")
    """Put before every Kafka topic name this service publishes to, subscribes to and
    dead-letters to (e.g. `training.`), so that deployments sharing a Kafka cluster never
    read each other's events; every service of a deployment sets the same one. Empty: the
    topic names of docs/asyncapi.yaml as they are."""
    cloudevents_mode: Literal["structured", "binary"] = "structured"
    """The CloudEvents Kafka binding's content mode of published events: structured (the
    value is the whole event as JSON) or binary (attributes in ce_ headers, the value is the
    data). Consumers accept both whatever this says."""
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    """How the Kafka clients connect: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL, as
    the options of kafka_client_options() (the Helm chart sets it from kafka.tls and
    kafka.sasl)."""
    kafka_ca_file: Path | None = None
    """PEM file of the CA that signed the brokers' certificates (Strimzi's
    <cluster>-cluster-ca-cert), for SSL and SASL_SSL. Unset: the system's CAs."""
    kafka_sasl_mechanism: str = Field(
        default="SCRAM-SHA-512", pattern="^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512)$"
    )
    """SASL mechanism for SASL_PLAINTEXT and SASL_SSL (Strimzi's scram-sha-512 users)."""
    kafka_sasl_username: str | None = None
    """SASL user name (a Strimzi KafkaUser's name)."""
    kafka_sasl_password: str | None = None
    """SASL password; from a secret (the KafkaUser's Secret, key `password`), never a value
    in a file under version control."""
    opa_url: str = "http://127.0.0.1:8181"
    """Open Policy Agent's base URL; every read and change of case data asks it."""
    opa_timeout_seconds: float = 1.5
    """How long a policy decision may take; no answer in time is a deny (503)."""
    jwks_path: Path | None = None
    """JSON Web Key Set file of the one trusted issuer when no issuer list is set. Unset:
    the development keys in the data directory."""
    token_issuer: str = "accord-dev"
    """The `iss` claim a token must carry when no issuer list is set."""
    token_audience: str = "accord"
    """The `aud` claim every token must carry."""
    enforce_policy: bool = True
    """Ask OPA for every decision. Only the policy benchmark turns it off, to measure what
    enforcement costs; never turn it off in a deployment."""
    consumer_group: str | None = None
    """Kafka consumer group of the service's inbox. Unset: the service's name, shared by all
    replicas of the service so that they share the partitions."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Requests whose body is larger are refused with 413 before anything parses them."""
    token_max_lifetime_seconds: int = Field(default=3600, ge=60)
    """The longest a token may live (exp - iat); longer-lived tokens are refused with 401."""
    organisations_file: Path = Path("policies/accord/organisations/data.json")
    """The deployment's directory of organisations (SPEC 4a), validated at start; OPA loads
    the same file as data."""

    training: bool = False
    """Training mode (SPEC 8): every response carries `Accord-Deployment: training`, only
    training tokens are accepted (claim `deployment: training`, or an issuer marked
    `"training": true` in ACCORD_ISSUERS) and only synthetic referrals are taken. Off: a live
    deployment, which refuses training tokens."""

    problem_base_url: str | None = None
    """Base of the `type` URI of problem documents (RFC 9457), e.g. a documentation site
    that mirrors /problems/. Unset: each service's own /problems/ as the client reached it."""

    def kafka_client_options(self) -> dict[str, object]:
        """Keyword arguments for aiokafka's producers, consumers and admin client: the
        security protocol, TLS context and SASL credentials of the settings above."""
        options: dict[str, object] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol in {"SSL", "SASL_SSL"}:
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(
                cafile=str(self.kafka_ca_file) if self.kafka_ca_file else None
            )
        if self.kafka_security_protocol.startswith("SASL_"):
            if not (self.kafka_sasl_username and self.kafka_sasl_password):
                raise ValueError(
                    "ACCORD_KAFKA_SASL_USERNAME and ACCORD_KAFKA_SASL_PASSWORD are required "
                    f"for {self.kafka_security_protocol}"
                )
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password
        return options

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

    token_issuers: list[dict[str, Any]] = Field(
        default_factory=list,
        validation_alias=AliasChoices("ACCORD_ISSUERS", "ACCORD_TOKEN_ISSUERS", "token_issuers"),
    )
    """Trusted token issuers, as JSON in ACCORD_ISSUERS (or ACCORD_TOKEN_ISSUERS):
    [{"issuer": ..., "jwks_url": ..., "audience": ..., "claims": {...}} or {"issuer": ...,
    "jwks_file": ...}, ...], each validated as accord_kernel.identity.IssuerConfig (see
    docs/identity-providers.md). Empty: the one issuer token_issuer with the keys in
    jwks_path (development keys)."""
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    """Clock skew tolerated when checking a token's exp, iat and nbf."""
    log_format: str = Field(default="json", pattern="^(json|console)$")
    """json: one JSON object per line with service, level, logger, message, trace and span
    ids (for a log collector); console: plain text for a person at a terminal."""
    otlp_endpoint: str | None = None
    """OpenTelemetry collector base URL (OTLP over HTTP, e.g. http://collector:4318): spans
    are sent to <endpoint>/v1/traces. Unset: traces are made (ids in logs and Kafka headers)
    but not exported."""
