"""Victim-services endpoints: advocates manage the record, consents, flags and plan; other
agencies read only what policy allows, and supervisors may break glass with a reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from accord_kernel.application import retry_on_conflict
from accord_kernel.identity import Subject, require
from accord_kernel.policy import Change, Purpose, Resource
from accord_kernel.problems import Problem, not_found
from accord_kernel.responses import READ, problems
from accord_kernel.runtime import CurrentSubject, ServiceRuntime, current_runtime
from accord_kernel.versions import IfMatch, expected
from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from accord_victim_support.api.schemas import (
    ClearFlagIn,
    ConsentIn,
    ConsentOut,
    ConsentRecorded,
    ConsentSummaryOut,
    EmergencyAccessIn,
    EmergencyGrantOut,
    FlagIn,
    NotificationOut,
    RefreshIn,
    ReviewIn,
    ReviewTaskOut,
    SafetyFlagsOut,
    SafetyPlanIn,
    SafetyPlanOut,
    SupportNoteIn,
    TransferIn,
    VictimIn,
    VictimOut,
    VictimRegistered,
    WithdrawIn,
)
from accord_victim_support.application import VictimSupportService
from accord_victim_support.fhir import MEDIA_TYPE, from_fhir, to_fhir

log = logging.getLogger("accord.victim_support.api")
router = APIRouter(tags=["victim services"])
ADVOCATES = frozenset({"victim_services"})
Runtime = Annotated[ServiceRuntime[VictimSupportService], Depends(current_runtime)]


def read(
    runtime: Runtime,
    subject: Subject,
    purpose: str,
    type_: str,
    case_id: str,
    document: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    svc = runtime.app
    doc = retry_on_conflict(document)
    case = svc.policy_case(case_id, subject.agency, subject.user)
    grant = case.get("emergency_grant")
    return runtime.pep.read_one(
        subject,
        purpose,
        Resource(type=type_, case_id=case_id, document=doc, case=case),
        justification_ref=grant["grant_id"] if grant else None,
    )


def authorise(
    runtime: Runtime, subject: Subject, case_id: str, command: str, safety_fallback: bool = False
) -> None:
    """Only the case's responsible victim-services organisation changes its records; for
    anyone else the case does not exist (404)."""
    require(subject, ADVOCATES)
    runtime.pep.authorise_change(
        subject,
        Change(
            type="victim_record",
            case_id=case_id,
            command=command,
            case=runtime.app.policy_case(case_id, subject.agency, subject.user),
        ),
        safety_fallback=safety_fallback,
    )


def consent_case(runtime: Runtime, consent_id: str) -> str:
    return retry_on_conflict(runtime.app.consent, consent_id).case_id


# --- victim record ----------------------------------------------------------------------
@router.post(
    "/cases/{case_id}/victim",
    status_code=201,
    summary="Register the victim (advocate)",
    responses=problems(403, 404, 409),
)
def register(
    case_id: str, body: VictimIn, subject: CurrentSubject, runtime: Runtime
) -> VictimRegistered:
    authorise(runtime, subject, case_id, "register_victim")
    victim_id = retry_on_conflict(
        runtime.app.register_victim, case_id[:64], body.model_dump(), subject.user
    )
    log.info("victim registered case=%s", case_id[:64])
    return VictimRegistered(case_id=case_id, victim_id=victim_id)


@router.get(
    "/cases/{case_id}/victim",
    summary="Victim record (field-level policy)",
    response_model=VictimOut,
    responses=problems(403, 404),
    **READ,
)
def read_victim(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    return read(
        runtime,
        subject,
        purpose,
        "victim_record",
        case_id,
        lambda: runtime.app.victim_document(case_id),
    )


@router.post(
    "/cases/{case_id}/support-notes",
    status_code=204,
    summary="Add a support note",
    responses=problems(403, 404, 409, 412),
)
def add_note(
    case_id: str,
    body: SupportNoteIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise(runtime, subject, case_id, "add_support_note")
    retry_on_conflict(
        runtime.app.update_victim,
        case_id,
        "add_support_note",
        {"text": body.text},
        subject.user,
        expected(body.expected_version, if_match),
    )


# --- consents ---------------------------------------------------------------------------
@router.post(
    "/cases/{case_id}/consents",
    status_code=201,
    summary="Record a consent",
    responses=problems(403, 404, 409),
)
def grant(
    case_id: str, body: ConsentIn, subject: CurrentSubject, runtime: Runtime
) -> ConsentRecorded:
    authorise(runtime, subject, case_id, "grant_consent")
    consent_id = retry_on_conflict(
        runtime.app.grant_consent,
        case_id,
        scope=body.scope,
        provisions=[p.model_dump() for p in body.provisions],
        seen_alone=body.seen_alone,
        verified_by=subject.user,
        lawful_basis=body.lawful_basis,
    )
    log.info("consent granted case=%s consent=%s scope=%s", case_id, consent_id, body.scope)
    return ConsentRecorded(consent_id=consent_id)


@router.get(
    "/cases/{case_id}/consents",
    summary="Consents of a case (policy-filtered)",
    response_model=list[ConsentOut],
    responses=problems(404),
    **READ,
)
def list_consents(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> list[dict[str, Any]]:
    svc = runtime.app
    consents = retry_on_conflict(svc.consents, case_id)
    case = svc.policy_case(case_id, subject.agency, subject.user)
    projected = runtime.pep.read(
        subject,
        purpose,
        [
            Resource(type="consent", case_id=case_id, document=svc.consent_document(c), case=case)
            for c in consents
        ],
    )
    return [p for p in projected if p is not None]


# --- consents as HL7 FHIR R5 Consent resources (docs/fhir-consent.md) ----------------------
FHIR_CONSENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An HL7 FHIR R5 Consent resource (https://hl7.org/fhir/R5/consent.html)",
    "properties": {
        "resourceType": {"type": "string", "enum": ["Consent"]},
        "status": {"type": "string"},
        "decision": {"type": "string", "enum": ["deny", "permit"]},
        "provision": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["resourceType", "status"],
}


class FhirResponse(JSONResponse):
    media_type = MEDIA_TYPE


@router.get(
    "/cases/{case_id}/consents/{consent_id}/fhir",
    summary="A consent as an HL7 FHIR R5 Consent resource (policy-filtered)",
    response_class=FhirResponse,
    responses={
        200: {"content": {MEDIA_TYPE: {"schema": FHIR_CONSENT_SCHEMA}}},
        **problems(403, 404),
    },
)
def export_fhir_consent(
    case_id: str,
    consent_id: str,
    subject: CurrentSubject,
    runtime: Runtime,
    purpose: Purpose = "case_management",
) -> FhirResponse:
    # The same decision as every other consent read: the resource is built from the fields the
    # policy returned, so a withheld field is absent from the FHIR resource too.
    if consent_case(runtime, consent_id) != case_id:
        raise not_found("consent")
    document = read(
        runtime,
        subject,
        purpose,
        "consent",
        case_id,
        lambda: runtime.app.consent_document(runtime.app.consent(consent_id)),
    )
    if "status" not in document:
        raise Problem(403, "access_denied", "Access denied by policy")
    return FhirResponse(to_fhir(document))


@router.post(
    "/cases/{case_id}/consents/fhir",
    status_code=201,
    summary="Record a consent given as an HL7 FHIR R5 Consent resource",
    responses=problems(403, 404, 409),
)
def import_fhir_consent(
    case_id: str,
    resource: Annotated[
        dict[str, Any],
        Body(media_type=MEDIA_TYPE, description="An HL7 FHIR R5 Consent resource"),
    ],
    subject: CurrentSubject,
    runtime: Runtime,
) -> ConsentRecorded:
    # Decided as a grant is: only the case's responsible victim-services organisation.
    authorise(runtime, subject, case_id, "grant_consent")
    grant = from_fhir(resource)
    consent_id = retry_on_conflict(
        runtime.app.grant_consent, case_id, verified_by=subject.user, **grant
    )
    log.info(
        "FHIR consent recorded case=%s consent=%s scope=%s", case_id, consent_id, grant["scope"]
    )
    return ConsentRecorded(consent_id=consent_id)


@router.get(
    "/cases/{case_id}/consent-summary",
    summary="Which consent scopes are active",
    response_model=ConsentSummaryOut,
    responses=problems(403, 404),
    **READ,
)
def consent_summary(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    return read(
        runtime,
        subject,
        purpose,
        "consent_summary",
        case_id,
        lambda: runtime.app.consent_summary(case_id),
    )


@router.post(
    "/consents/{consent_id}/withdrawal",
    status_code=204,
    summary="Withdraw a consent: effective at once, everywhere",
    responses=problems(403, 404, 409),
)
def withdraw(consent_id: str, body: WithdrawIn, subject: CurrentSubject, runtime: Runtime) -> None:
    require(subject, ADVOCATES)
    # Safety before availability: a withdrawal by the responsible organisation is applied even
    # while the policy engine is down.
    authorise(
        runtime,
        subject,
        consent_case(runtime, consent_id),
        "withdraw_consent",
        safety_fallback=True,
    )
    retry_on_conflict(runtime.app.withdraw_consent, consent_id, subject.user, body.reason)
    log.info("consent withdrawn consent=%s", consent_id)


@router.post(
    "/consents/{consent_id}/refresh",
    status_code=204,
    summary="Extend a consent",
    responses=problems(403, 404, 409, 412),
)
def refresh(
    consent_id: str,
    body: RefreshIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise(runtime, subject, consent_case(runtime, consent_id), "refresh_consent")
    retry_on_conflict(
        runtime.app.refresh_consent,
        consent_id,
        body.new_end,
        subject.user,
        expected(body.expected_version, if_match),
    )


# --- safety flags and plan ----------------------------------------------------------------
@router.post(
    "/cases/{case_id}/safety-flags",
    status_code=204,
    summary="Raise a safety flag",
    responses=problems(403, 404, 409, 412),
)
def raise_flag(
    case_id: str, body: FlagIn, subject: CurrentSubject, runtime: Runtime, if_match: IfMatch = None
) -> None:
    authorise(runtime, subject, case_id, "raise_flag")
    retry_on_conflict(
        runtime.app.raise_flag,
        case_id,
        body.code,
        body.severity,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.post(
    "/cases/{case_id}/safety-flags/{code}/clearance",
    status_code=204,
    summary="Clear a safety flag",
    responses=problems(403, 404, 409, 412),
)
def clear_flag(
    case_id: str,
    code: str,
    body: ClearFlagIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise(runtime, subject, case_id, "clear_flag")
    retry_on_conflict(
        runtime.app.clear_flag,
        case_id,
        code,
        body.reason,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.get(
    "/cases/{case_id}/safety-flags",
    summary="Safety flags (policy-filtered)",
    response_model=SafetyFlagsOut,
    responses=problems(403, 404),
    **READ,
)
def read_flags(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    return read(
        runtime,
        subject,
        purpose,
        "safety_flags",
        case_id,
        lambda: runtime.app.flags_document(case_id),
    )


@router.put(
    "/cases/{case_id}/safety-plan",
    status_code=204,
    summary="Record the safety plan",
    responses=problems(403, 404, 409, 412),
)
def record_plan(
    case_id: str,
    body: SafetyPlanIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise(runtime, subject, case_id, "record_safety_plan")
    retry_on_conflict(
        runtime.app.record_safety_plan,
        case_id,
        body.content,
        body.review_date,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.get(
    "/cases/{case_id}/safety-plan",
    summary="Safety plan: existence and review date are shareable, content is not",
    response_model=SafetyPlanOut,
    responses=problems(403, 404),
    **READ,
)
def read_plan(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    return read(
        runtime,
        subject,
        purpose,
        "safety_plan",
        case_id,
        lambda: runtime.app.plan_document(case_id),
    )


@router.post(
    "/cases/{case_id}/transfer",
    status_code=204,
    summary="Hand the case to another victim-services organisation",
    responses=problems(403, 404, 409),
)
def transfer(case_id: str, body: TransferIn, subject: CurrentSubject, runtime: Runtime) -> None:
    authorise(runtime, subject, case_id, "transfer")
    svc = runtime.app
    jurisdiction = svc.contexts.get(case_id).jurisdiction or ""
    to_org = runtime.directory.require(body.to_org, "victim_services", jurisdiction, "to_org")
    retry_on_conflict(svc.transfer, case_id, to_org, subject.user)


@router.get(
    "/cases/{case_id}/notifications",
    summary="Agreement completions, breaches and court decisions to tell the victim",
    response_model=list[NotificationOut],
    responses=problems(403, 404),
    **READ,
)
def notifications(case_id: str, subject: CurrentSubject, runtime: Runtime) -> list[dict[str, Any]]:
    require(subject, ADVOCATES)
    case = case_id[:64]
    doc = read(
        runtime,
        subject,
        "case_management",
        "victim_notifications",
        case,
        lambda: {"case_id": case, "items": runtime.app.notifications(case).items},
    )
    return list(doc.get("items", []))


@router.post(
    "/cases/{case_id}/notifications/{index}/told",
    status_code=204,
    summary="Record that the victim has been told",
    responses=problems(403, 404, 409),
)
def told(case_id: str, index: int, subject: CurrentSubject, runtime: Runtime) -> None:
    authorise(runtime, subject, case_id[:64], "mark_told")
    retry_on_conflict(runtime.app.mark_told, case_id[:64], index, subject.user)


# --- emergency access -------------------------------------------------------------------
@router.post(
    "/cases/{case_id}/emergency-access",
    status_code=201,
    summary="Break glass: a supervisor of another agency, with a reason",
    responses=problems(403, 404, 409),
)
def emergency(
    case_id: str, body: EmergencyAccessIn, subject: CurrentSubject, runtime: Runtime
) -> EmergencyGrantOut:
    # Break-glass crosses organisations, so the caller's own must at least be one this
    # deployment knows, of the caller's agency.
    if not runtime.directory.is_member(subject.org, subject.agency):
        raise Problem(
            403,
            "unknown_organisation",
            "Unknown organisation",
            "The token's organisation is not one of this deployment's.",
        )
    grant_ = retry_on_conflict(
        runtime.app.request_emergency_access,
        case_id,
        agency=subject.agency,
        user=subject.user,
        role=subject.role,
        reason_code=body.reason_code,
        justification=body.justification,
        data_classes=body.data_classes,
        duration_minutes=body.duration_minutes,
    )
    return EmergencyGrantOut.model_validate(
        {
            **grant_,
            "read_with": "purpose=emergency",
            "obligations": ["break_glass_audit", "notify_victim_services", "privacy_review"],
        }
    )


@router.get(
    "/emergency-access/reviews",
    summary="Break-glass review tasks (privacy officer)",
    response_model=list[ReviewTaskOut],
    responses=problems(403),
    **READ,
)
def reviews(
    subject: CurrentSubject, runtime: Runtime, pending: bool = True
) -> list[dict[str, Any]]:
    require(subject, {"audit", "victim_services"})
    svc = runtime.app
    tasks = svc.review_tasks(pending_only=pending)
    projected = runtime.pep.read(
        subject,
        "audit" if subject.agency == "audit" else "case_management",
        [
            Resource(
                type="emergency_review",
                case_id=t["case_id"],
                document=t,
                case=svc.policy_case(t["case_id"]),
            )
            for t in tasks
        ],
    )
    return [p for p in projected if p is not None]


@router.post(
    "/emergency-access/{grant_id}/review",
    status_code=204,
    summary="Complete a break-glass review (privacy officer)",
    responses=problems(403, 404, 409),
)
def review(grant_id: str, body: ReviewIn, subject: CurrentSubject, runtime: Runtime) -> None:
    require(subject, {"audit"}, {"privacy_officer"})
    retry_on_conflict(runtime.app.complete_review, grant_id, subject.user, body.outcome, body.notes)
