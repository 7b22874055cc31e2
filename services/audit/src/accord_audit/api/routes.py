"""Audit endpoints: checkpoints and proofs anyone with a token can check; who accessed a
case for privacy officers; a victim's access log for victim services. Reads of the log are
themselves recorded."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from accord_kernel.identity import Subject, require
from accord_kernel.policy import Resource
from accord_kernel.problems import Problem, not_found
from accord_kernel.responses import READ, problems
from accord_kernel.runtime import CurrentSubject, ServiceRuntime, current_runtime
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse, Response

from accord_audit.api.schemas import (
    AuditEntryOut,
    AuditEntryWithLeaf,
    ConsistencyProofOut,
    InclusionProofOut,
)
from accord_audit.application import AuditService

router = APIRouter(tags=["audit log"])
CaseId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
PRIVACY = frozenset({"audit"})
Runtime = Annotated[ServiceRuntime[AuditService], Depends(current_runtime)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _audited(
    runtime: Runtime, subject: Subject, purpose: str, docs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    resources = [
        Resource(type="audit_entry", case_id=str(d.get("case_id", ""))[:64] or "-", document=d)
        for d in docs
    ]
    return [p for p in runtime.pep.read(subject, purpose, resources) if p is not None]


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="Latest signed checkpoint (C2SP signed note)",
    responses=problems(404),
)
def checkpoint(subject: CurrentSubject, runtime: Runtime) -> str:
    note = runtime.app.publish_checkpoint()
    if note is None:
        raise Problem(404, "empty_log", "The log has no entries yet")
    return note


@router.get(
    "/verifier-key",
    response_class=PlainTextResponse,
    summary="The checkpoint signer's verifier key (vkey)",
    responses=problems(),
)
def verifier_key(subject: CurrentSubject, runtime: Runtime) -> str:
    return runtime.app.verifier_key() + "\n"


@router.get(
    "/entries/{index}",
    summary="One log entry (privacy officers)",
    response_model=AuditEntryWithLeaf,
    responses=problems(403, 404),
    **READ,
)
def entry(
    index: Annotated[int, Path(ge=0, le=2**62)], subject: CurrentSubject, runtime: Runtime
) -> dict[str, Any]:
    require(subject, PRIVACY)
    doc = runtime.app.entry_document(index)
    visible = _audited(runtime, subject, "audit", [doc])
    if not visible:
        raise Problem(403, "access_denied", "Access denied by policy")
    (projected,) = visible
    leaf = runtime.app.store.entry(index).leaf_hash
    return {**projected, "leaf_hash": b64(leaf)}


@router.get(
    "/entries/{index}/canonical",
    summary="One log entry's leaf input: its RFC 8785 canonical JSON bytes (privacy officers)",
    description=(
        "The exact bytes whose RFC 6962 leaf hash (SHA-256 of 0x00 followed by these bytes) "
        "is in the Merkle tree, so a verifier that trusts nothing of ours can hash them and "
        "check an inclusion proof against a signed checkpoint. Answered only when the policy "
        "lets the caller read every field of the entry."
    ),
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "The audit record (the fields of AuditEntryOut but "
                        "`index`), in RFC 8785 canonical JSON",
                        "properties": {"kind": {"type": "string", "enum": ["event", "access"]}},
                        "required": ["kind"],
                    }
                }
            }
        },
        **problems(403, 404),
    },
)
def entry_canonical(
    index: Annotated[int, Path(ge=0, le=2**62)], subject: CurrentSubject, runtime: Runtime
) -> Response:
    require(subject, PRIVACY)
    doc = runtime.app.entry_document(index)
    visible = _audited(runtime, subject, "audit", [doc])
    # The bytes cannot be projected: a single withheld field means no bytes at all.
    if not visible or set(visible[0]) != set(doc):
        raise Problem(403, "access_denied", "Access denied by policy")
    return Response(runtime.app.store.entry(index).body, media_type="application/json")


@router.get(
    "/proofs/inclusion",
    summary="Inclusion proof of an entry in a tree size",
    responses=problems(404),
)
def inclusion(
    index: Annotated[int, Query(ge=0, le=2**62)],
    tree_size: Annotated[int, Query(ge=1, le=2**62)],
    subject: CurrentSubject,
    runtime: Runtime,
) -> InclusionProofOut:
    store = runtime.app.store
    proof = store.inclusion_proof(index, tree_size)
    leaf = store.entry(index).leaf_hash
    return InclusionProofOut(
        index=index, tree_size=tree_size, leaf_hash=b64(leaf), hashes=[b64(h) for h in proof]
    )


@router.get(
    "/proofs/consistency",
    summary="Consistency proof between two tree sizes",
    responses=problems(404),
)
def consistency(
    first: Annotated[int, Query(ge=1, le=2**62)],
    second: Annotated[int, Query(ge=1, le=2**62)],
    subject: CurrentSubject,
    runtime: Runtime,
) -> ConsistencyProofOut:
    proof = runtime.app.store.consistency_proof(first, second)
    return ConsistencyProofOut(first=first, second=second, hashes=[b64(h) for h in proof])


@router.get(
    "/cases/{case_id}/access",
    summary="Who accessed a case (privacy officers)",
    response_model=list[AuditEntryOut],
    responses=problems(403),
    **READ,
)
def case_access(case_id: CaseId, subject: CurrentSubject, runtime: Runtime) -> list[dict[str, Any]]:
    require(subject, PRIVACY, {"privacy_officer"})
    return _audited(runtime, subject, "audit", runtime.app.case_entries(case_id, "access"))


@router.get(
    "/cases/{case_id}/events",
    summary="Every recorded event of a case (privacy officers)",
    response_model=list[AuditEntryOut],
    responses=problems(403),
    **READ,
)
def case_events(case_id: CaseId, subject: CurrentSubject, runtime: Runtime) -> list[dict[str, Any]]:
    require(subject, PRIVACY, {"privacy_officer"})
    return _audited(runtime, subject, "audit", runtime.app.case_entries(case_id, "event"))


@router.get(
    "/victims/{case_id}/access-log",
    summary="Who accessed a victim's data, for victim services to show the victim",
    response_model=list[AuditEntryOut],
    responses=problems(403, 404),
    **READ,
)
def victim_access_log(
    case_id: CaseId, subject: CurrentSubject, runtime: Runtime
) -> list[dict[str, Any]]:
    require(subject, {"victim_services"})
    svc = runtime.app
    entries = [
        e for e in svc.case_entries(case_id, "access") if e.get("service") == "victim-support"
    ]
    # Only the victim's own victim-services organisation reads this; for others the case
    # does not exist, whether or not it has entries.
    case = svc.contexts.policy_case(case_id)
    if case["responsible"].get("victim_services") != subject.org:
        raise not_found("case")
    resources = [
        Resource(type="audit_entry", case_id=case_id, document=e, case=case) for e in entries
    ]
    return [p for p in runtime.pep.read(subject, "case_management", resources) if p is not None]
