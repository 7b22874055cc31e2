"""Errors of the audit log, each with a stable machine code for RFC 9457 problem documents."""

from __future__ import annotations

from typing import Any, ClassVar

from accord_kernel.domain_rules import DomainError


class AuditError(DomainError):
    """A request the log cannot answer (422), or a fault of the log itself (500)."""

    code: ClassVar[str] = "audit_error"
    http_status: ClassVar[int] = 422

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, details)


class InvalidProof(AuditError):
    """An inclusion or consistency proof does not establish what it claims."""

    code: ClassVar[str] = "invalid_proof"


class InvalidCheckpoint(AuditError):
    """A checkpoint or signed note is malformed or its signature does not verify."""

    code: ClassVar[str] = "invalid_checkpoint"


class InvalidKey(AuditError):
    """A signing or verifier key could not be loaded from its configured value."""

    code: ClassVar[str] = "invalid_key"
    http_status: ClassVar[int] = 500


class InvalidRecord(AuditError):
    """An audit record cannot be encoded, or a stored body is not canonical JSON."""

    code: ClassVar[str] = "invalid_record"


class OutOfRange(AuditError):
    """A requested index or tree size lies outside the log as it stands."""

    code: ClassVar[str] = "out_of_range"
    http_status: ClassVar[int] = 404


class LogCorrupted(AuditError):
    """Stored data the log relies on is missing or contradicts itself."""

    code: ClassVar[str] = "log_corrupted"
    http_status: ClassVar[int] = 500
