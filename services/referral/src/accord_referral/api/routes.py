"""Police referral endpoints. Writes are for police; every read is policy-filtered."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Annotated, Any

from accord_kernel.application import VersionConflict, retry_on_conflict
from accord_kernel.identity import Subject, require
from accord_kernel.policy import Change, PolicyUnavailable, Purpose, Resource
from accord_kernel.problems import (
    Problem,
    domain_problem,
    forbidden,
    not_found,
    policy_unavailable,
)
from accord_kernel.runtime import CurrentSubject, Runtime
from accord_kernel.versions import IfMatch, expected
from fastapi import APIRouter, Header, Query, Response

from accord_referral.api.schemas import (
    IncidentIn,
    ReferralIn,
    RiskReassessmentIn,
    WithdrawIn,
)
from accord_referral.application import (
    IdempotencyKeyReused,
    ReferralNotFound,
    ReferralService,
)
from accord_referral.domain.errors import ReferralError

log = logging.getLogger("accord.referral.api")
router = APIRouter(prefix="/referrals", tags=["referrals"])
POLICE = frozenset({"police"})
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


def _service(runtime: Runtime) -> ReferralService:
    app = runtime.app
    assert isinstance(app, ReferralService)
    return app


def _resource(service: ReferralService, doc: dict[str, Any], agency: str, user: str) -> Resource:
    return Resource(
        type="referral",
        case_id=doc["case_id"],
        document=doc,
        case=service.policy_case(doc["case_id"], agency, user, doc["risk_band"]),
    )


def _domain_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return retry_on_conflict(fn, *args, **kwargs)
    except PolicyUnavailable as exc:
        raise policy_unavailable() from exc
    except ReferralNotFound as exc:
        raise not_found("referral") from exc
    except IdempotencyKeyReused as exc:
        raise Problem(
            422,
            "idempotency_key_reused",
            "Idempotency-Key already used",
            "This Idempotency-Key was used for a different referral; use a new key "
            "for a new request.",
        ) from exc
    except VersionConflict as exc:
        raise Problem(
            412,
            "version_conflict",
            "The referral has changed",
            "Re-read the referral and retry with its current version.",
            current_version=exc.current,
        ) from exc
    except ReferralError as exc:
        raise domain_problem(
            exc.http_status, exc.code, "The referral cannot do that now", str(exc), exc.details
        ) from exc


def _authorise(runtime: Runtime, subject: Subject, case_id: str, command: str) -> None:
    """Only the referring force changes a referral; for anyone else it does not exist."""
    require(subject, POLICE)
    service = _service(runtime)
    _domain_call(service.referral, case_id)
    runtime.pep.authorise_change(
        subject,
        Change(
            type="referral",
            case_id=case_id,
            command=command,
            what="referral",
            case=service.policy_case(case_id, subject.agency, subject.user),
        ),
    )


@router.post("", status_code=201, summary="Submit a referral (police)")
def submit(
    body: ReferralIn,
    subject: CurrentSubject,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    require(subject, POLICE)
    service = _service(runtime)
    directory = runtime.directory
    if not directory.is_member(subject.org, "police"):
        raise forbidden("the token's organisation is not a police force of this deployment")
    organisations = {
        "victim_services": directory.require(
            body.victim_services_org, "victim_services", body.jurisdiction, "victim_services_org"
        )
    }
    if body.court_org is not None:
        organisations["court"] = directory.require(
            body.court_org, "court", body.jurisdiction, "court_org"
        )
    digest = hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    case_id, created = _domain_call(
        service.submit,
        details={
            "jurisdiction": body.jurisdiction,
            "initiated_by": body.initiated_by,
            "incident_date": body.incident.date,
            "incident_summary": body.incident.summary,
            "offence_type": body.incident.offence_type,
            "victim_name": body.victim.name,
            "victim_date_of_birth": body.victim.date_of_birth,
            "offender_name": body.offender.name,
            "offender_date_of_birth": body.offender.date_of_birth,
            "offender_acknowledged": body.offender_acknowledged,
            "guilty_plea": body.guilty_plea,
            "court_reference": body.court_reference,
        },
        risk=body.risk_assessment.model_dump(),
        submitted_by=subject.user,
        referring_org=subject.org,
        organisations=organisations,
        idempotency_key=idempotency_key,
        request_digest=digest,
    )
    log.info("referral submitted case=%s created=%s", case_id, created)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/referrals/{case_id}"
    doc = service.referral(case_id)
    return runtime.pep.read_one(
        subject, "case_management", _resource(service, doc, subject.agency, subject.user)
    )


@router.get("", summary="List referrals (policy-filtered per row)")
def list_referrals(
    subject: CurrentSubject,
    runtime: Runtime,
    purpose: Purpose = "case_management",
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    service = _service(runtime)
    docs = service.referrals(
        limit=limit, overdue_only=overdue, visible_to=(subject.agency, subject.org)
    )
    projected = runtime.pep.read(
        subject, purpose, [_resource(service, d, subject.agency, subject.user) for d in docs]
    )
    return [p for p in projected if p is not None]


@router.get("/{case_id}", summary="Read a referral (field-level policy)")
def read_referral(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    service = _service(runtime)
    doc = _domain_call(service.referral, case_id)
    return runtime.pep.read_one(
        subject, purpose, _resource(service, doc, subject.agency, subject.user), what="referral"
    )


@router.post("/{case_id}/risk-assessments", status_code=204, summary="Reassess risk (DASH)")
def reassess(
    case_id: str,
    body: RiskReassessmentIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    _authorise(runtime, subject, case_id, "assess_risk")
    _domain_call(
        _service(runtime).assess_risk,
        case_id,
        body.answers,
        body.professional_judgement_high,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.post("/{case_id}/incidents", status_code=204, summary="Report a new incident")
def report_incident(
    case_id: str,
    body: IncidentIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    _authorise(runtime, subject, case_id, "report_incident")
    _domain_call(
        _service(runtime).report_incident,
        case_id,
        body.date,
        body.summary,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.post("/{case_id}/withdrawal", status_code=204, summary="Withdraw a referral")
def withdraw(
    case_id: str,
    body: WithdrawIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    _authorise(runtime, subject, case_id, "withdraw")
    _domain_call(
        _service(runtime).withdraw,
        case_id,
        body.reason,
        subject.user,
        expected(body.expected_version, if_match),
    )
