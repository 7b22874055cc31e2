from pathlib import Path

from accord_kernel.settings import ServiceSettings

SERVICE = "audit"
DEFAULT_PORT = 8105


class AuditSettings(ServiceSettings):
    audit_log_url: str | None = None
    """SQLAlchemy URL of the audit log; in production a role that may only SELECT and
    INSERT. Unset: the event store's PostgreSQL database, or a SQLite file in the data
    directory."""
    audit_admin_url: str | None = None
    """SQLAlchemy URL used once at start-up to create the log's tables and grant the
    append-only role; unset: the log URL itself creates them."""
    audit_append_role: str | None = None
    """The database role granted only SELECT and INSERT on the log (with the admin URL)."""
    audit_signing_key: str | None = None
    """The checkpoint signing key: a note signer key (PRIVATE+KEY+...), a PEM Ed25519 key,
    or a file holding one. Unset: a development key generated once into the data
    directory. Mount it as a secret; never bake it into an image."""
    audit_origin: str = "accord.example/audit-log"
    """The log's origin line in signed checkpoints; verifiers check it."""
    audit_checkpoint_interval_seconds: float = 1.0
    """How often a new checkpoint is signed when the log has grown."""

    def log_url(self) -> str:
        if self.audit_log_url:
            return self.audit_log_url
        if self.database_url:
            return self.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'audit-log.sqlite'}"

    def signing_key_source(self) -> str:
        if self.audit_signing_key:
            return self.audit_signing_key
        return str(self.data_dir / "dev-keys" / "audit-log.key")


def load_settings(**overrides: object) -> ServiceSettings:
    return AuditSettings.for_service(SERVICE, DEFAULT_PORT, **overrides)


def ensure_dev_signing_key(path: Path, origin: str) -> None:
    """A development signing key for the log, made once; production configures its own."""
    from accord_audit.checkpoint import generate_signing_key

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generate_signing_key(origin).signer_key + "\n")
    path.chmod(0o600)
