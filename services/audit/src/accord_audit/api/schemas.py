"""What the audit endpoints answer: log entries (policy-filtered), proofs as base64 hashes."""

from __future__ import annotations

from accord_kernel.responses import Body, MomentText, ReadModel, withheld
from pydantic import Field


class AuditEntryOut(ReadModel):
    """One entry of the log: an integration event (`kind` = event: its type, topic and the
    names of its fields, never their values) or an access decision (`kind` = access: who read
    what, for which purpose, which fields were returned or withheld and why)."""

    index: int = withheld("The entry's index in the log")
    kind: str = withheld("event or access")
    case_id: str = withheld()
    at: MomentText = withheld()
    event_id: str = withheld()
    source: str = withheld()
    type: str = withheld()
    topic: str = withheld()
    fields: list[str] = withheld()
    record_id: str = withheld()
    service: str = withheld()
    user: str = withheld()
    agency: str = withheld()
    role: str = withheld()
    org: str = withheld()
    action: str = withheld()
    resource_type: str = withheld()
    purpose: str = withheld()
    fields_returned: list[str] = withheld()
    fields_withheld: dict[str, str] = withheld("field -> reason")
    lawful_basis: dict[str, str] = withheld("data class -> lawful basis")
    decision: str = withheld("permit or deny")
    decision_id: str | None = withheld()
    break_glass: bool = withheld()
    justification_ref: str | None = withheld()


class AuditEntryWithLeaf(AuditEntryOut):
    leaf_hash: str = Field(description="base64 RFC 6962 leaf hash")


class InclusionProofOut(Body):
    index: int
    tree_size: int
    leaf_hash: str = Field(description="base64")
    hashes: list[str] = Field(description="base64 audit path, RFC 6962")


class ConsistencyProofOut(Body):
    first: int
    second: int
    hashes: list[str] = Field(description="base64 consistency proof, RFC 6962")
