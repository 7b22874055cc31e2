"""Victim-services endpoints: advocates manage the record, consents, flags and plan; other
agencies read only what policy allows, and supervisors may break glass with a reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from accord_kernel.application import AlreadyExists, VersionConflict, retry_on_conflict
from accord_kernel.identity import Subject, require
from accord_kernel.policy import Change, Purpose, Resource
from accord_kernel.problems import Problem, domain_problem, not_found
from accord_kernel.runtime import CurrentSubject, Runtime
from accord_kernel.versions import IfMatch, expected
from fastapi import APIRouter

from accord_victim_support.api.schemas import (
    ClearFlagIn,
    ConsentIn,
    EmergencyAccessIn,
    FlagIn,
    RefreshIn,
    ReviewIn,
    SafetyPlanIn,
    SupportNoteIn,
    TransferIn,
    VictimIn,
    WithdrawIn,
)
from accord_victim_support.application import NotFound, VictimSupportService
from accord_victim_support.domain import VictimSupportError

log = logging.getLogger("accord.victim_support.api")
router = APIRouter(tags=["victim services"])
ADVOCATES = frozenset({"victim_services"})
T = TypeVar("T")


def service(runtime: Runtime) -> VictimSupportService:
    app = runtime.app
    assert isinstance(app, VictimSupportService)
    return app


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return retry_on_conflict(fn, *args, **kwargs)  # type: ignore[no-any-return]
    except NotFound as exc:
        raise not_found(exc.what) from exc
    except AlreadyExists as exc:
        raise Problem(409, "already_exists", f"The {exc.what} already exists") from exc
    except VersionConflict as exc:
        raise Problem(
            412, "version_conflict", "The record has changed", current_version=exc.current
        ) from exc
    except VictimSupportError as exc:
        # details name fields and codes only; the domain never puts victim data in them
        raise domain_problem(exc.http_status, exc.code, exc.message, None, exc.details) from exc


def read(
    runtime: Runtime,
    subject: Subject,
    purpose: str,
    type_: str,
    case_id: str,
    document: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    svc = service(runtime)
    doc = call(document)
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
            case=service(runtime).policy_case(case_id, subject.agency, subject.user),
        ),
        safety_fallback=safety_fallback,
    )


def consent_case(runtime: Runtime, consent_id: str) -> str:
    return call(service(runtime).consent, consent_id).case_id


# --- victim record ----------------------------------------------------------------------
@router.post("/cases/{case_id}/victim", status_code=201, summary="Register the victim (advocate)")
def register(
    case_id: str, body: VictimIn, subject: CurrentSubject, runtime: Runtime
) -> dict[str, str]:
    authorise(runtime, subject, case_id, "register_victim")
    victim_id = call(
        service(runtime).register_victim, case_id[:64], body.model_dump(), subject.user
    )
    log.info("victim registered case=%s", case_id[:64])
    return {"case_id": case_id, "victim_id": victim_id}


@router.get("/cases/{case_id}/victim", summary="Victim record (field-level policy)")
def read_victim(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    return read(
        runtime,
        subject,
        purpose,
        "victim_record",
        case_id,
        lambda: service(runtime).victim_document(case_id),
    )


@router.post("/cases/{case_id}/support-notes", status_code=204, summary="Add a support note")
def add_note(
    case_id: str,
    body: SupportNoteIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise(runtime, subject, case_id, "add_support_note")
    call(
        service(runtime).update_victim,
        case_id,
        "add_support_note",
        {"text": body.text},
        subject.user,
        expected(body.expected_version, if_match),
    )


# --- consents ---------------------------------------------------------------------------
@router.post("/cases/{case_id}/consents", status_code=201, summary="Record a consent")
def grant(
    case_id: str, body: ConsentIn, subject: CurrentSubject, runtime: Runtime
) -> dict[str, str]:
    authorise(runtime, subject, case_id, "grant_consent")
    consent_id = call(
        service(runtime).grant_consent,
        case_id,
        scope=body.scope,
        provisions=[p.model_dump() for p in body.provisions],
        seen_alone=body.seen_alone,
        verified_by=subject.user,
        lawful_basis=body.lawful_basis,
    )
    log.info("consent granted case=%s consent=%s scope=%s", case_id, consent_id, body.scope)
    return {"consent_id": consent_id}


@router.get("/cases/{case_id}/consents", summary="Consents of a case (policy-filtered)")
def list_consents(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> list[dict[str, Any]]:
    svc = service(runtime)
    consents = call(svc.consents, case_id)
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


@router.get("/cases/{case_id}/consent-summary", summary="Which consent scopes are active")
def consent_summary(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    return read(
        runtime,
        subject,
        purpose,
        "consent_summary",
        case_id,
        lambda: service(runtime).consent_summary(case_id),
    )


@router.post(
    "/consents/{consent_id}/withdrawal",
    status_code=204,
    summary="Withdraw a consent: effective at once, everywhere",
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
    call(service(runtime).withdraw_consent, consent_id, subject.user, body.reason)
    log.info("consent withdrawn consent=%s", consent_id)


@router.post("/consents/{consent_id}/refresh", status_code=204, summary="Extend a consent")
def refresh(
    consent_id: str,
    body: RefreshIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise(runtime, subject, consent_case(runtime, consent_id), "refresh_consent")
    call(
        service(runtime).refresh_consent,
        consent_id,
        body.new_end,
        subject.user,
        expected(body.expected_version, if_match),
    )


# --- safety flags and plan ----------------------------------------------------------------
@router.post("/cases/{case_id}/safety-flags", status_code=204, summary="Raise a safety flag")
def raise_flag(
    case_id: str, body: FlagIn, subject: CurrentSubject, runtime: Runtime, if_match: IfMatch = None
) -> None:
    authorise(runtime, subject, case_id, "raise_flag")
    call(
        service(runtime).raise_flag,
        case_id,
        body.code,
        body.severity,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.post(
    "/cases/{case_id}/safety-flags/{code}/clearance", status_code=204, summary="Clear a safety flag"
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
    call(
        service(runtime).clear_flag,
        case_id,
        code,
        body.reason,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.get("/cases/{case_id}/safety-flags", summary="Safety flags (policy-filtered)")
def read_flags(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    return read(
        runtime,
        subject,
        purpose,
        "safety_flags",
        case_id,
        lambda: service(runtime).flags_document(case_id),
    )


@router.put("/cases/{case_id}/safety-plan", status_code=204, summary="Record the safety plan")
def record_plan(
    case_id: str,
    body: SafetyPlanIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise(runtime, subject, case_id, "record_safety_plan")
    call(
        service(runtime).record_safety_plan,
        case_id,
        body.content,
        body.review_date,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.get(
    "/cases/{case_id}/safety-plan",
    summary="Safety plan: existence and review date are shareable, content is not",
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
        lambda: service(runtime).plan_document(case_id),
    )


@router.post(
    "/cases/{case_id}/transfer",
    status_code=204,
    summary="Hand the case to another victim-services organisation",
)
def transfer(case_id: str, body: TransferIn, subject: CurrentSubject, runtime: Runtime) -> None:
    authorise(runtime, subject, case_id, "transfer")
    svc = service(runtime)
    jurisdiction = svc.contexts.get(case_id).jurisdiction or ""
    to_org = runtime.directory.require(body.to_org, "victim_services", jurisdiction, "to_org")
    call(svc.transfer, case_id, to_org, subject.user)


@router.get(
    "/cases/{case_id}/notifications",
    summary="Agreement completions, breaches and court decisions to tell the victim",
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
        lambda: {"case_id": case, "items": service(runtime).notifications(case).items},
    )
    return list(doc.get("items", []))


@router.post(
    "/cases/{case_id}/notifications/{index}/told",
    status_code=204,
    summary="Record that the victim has been told",
)
def told(case_id: str, index: int, subject: CurrentSubject, runtime: Runtime) -> None:
    authorise(runtime, subject, case_id[:64], "mark_told")
    call(service(runtime).mark_told, case_id[:64], index, subject.user)


# --- emergency access -------------------------------------------------------------------
@router.post(
    "/cases/{case_id}/emergency-access",
    status_code=201,
    summary="Break glass: a supervisor of another agency, with a reason",
)
def emergency(
    case_id: str, body: EmergencyAccessIn, subject: CurrentSubject, runtime: Runtime
) -> dict[str, Any]:
    # Break-glass crosses organisations, so the caller's own must at least be one this
    # deployment knows, of the caller's agency.
    if not runtime.directory.is_member(subject.org, subject.agency):
        raise Problem(
            403,
            "unknown_organisation",
            "Unknown organisation",
            "The token's organisation is not one of this deployment's.",
        )
    grant_ = call(
        service(runtime).request_emergency_access,
        case_id,
        agency=subject.agency,
        user=subject.user,
        role=subject.role,
        reason_code=body.reason_code,
        justification=body.justification,
        data_classes=body.data_classes,
        duration_minutes=body.duration_minutes,
    )
    return {
        **grant_,
        "read_with": "purpose=emergency",
        "obligations": ["break_glass_audit", "notify_victim_services", "privacy_review"],
    }


@router.get("/emergency-access/reviews", summary="Break-glass review tasks (privacy officer)")
def reviews(
    subject: CurrentSubject, runtime: Runtime, pending: bool = True
) -> list[dict[str, Any]]:
    require(subject, {"audit", "victim_services"})
    svc = service(runtime)
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
)
def review(grant_id: str, body: ReviewIn, subject: CurrentSubject, runtime: Runtime) -> None:
    require(subject, {"audit"}, {"privacy_officer"})
    call(service(runtime).complete_review, grant_id, subject.user, body.outcome, body.notes)
