"""Police referral endpoints. Writes are for police; every read is policy-filtered."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Annotated, Any

from accord_kernel.application import retry_on_conflict
from accord_kernel.identity import Subject, require
from accord_kernel.policy import Change, Purpose, Resource
from accord_kernel.problems import forbidden
from accord_kernel.responses import READ, problems
from accord_kernel.runtime import CurrentSubject, ServiceRuntime, current_runtime
from accord_kernel.versions import IfMatch, expected
from fastapi import APIRouter, Depends, Header, Query, Response

from accord_referral.api.schemas import (
    IncidentIn,
    ReferralIn,
    ReferralOut,
    RiskReassessmentIn,
    WithdrawIn,
)
from accord_referral.application import ReferralService

log = logging.getLogger("accord.referral.api")
router = APIRouter(prefix="/referrals", tags=["referrals"])
POLICE = frozenset({"police"})
Runtime = Annotated[ServiceRuntime[ReferralService], Depends(current_runtime)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


def _resource(service: ReferralService, doc: dict[str, Any], agency: str, user: str) -> Resource:
    return Resource(
        type="referral",
        case_id=doc["case_id"],
        document=doc,
        case=service.policy_case(doc["case_id"], agency, user, doc["risk_band"]),
    )


def _authorise(runtime: Runtime, subject: Subject, case_id: str, command: str) -> None:
    """Only the referring force changes a referral; for anyone else it does not exist."""
    require(subject, POLICE)
    service = runtime.app
    retry_on_conflict(service.referral, case_id)
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


@router.post(
    "",
    status_code=201,
    summary="Submit a referral (police)",
    response_model=ReferralOut,
    responses={
        200: {
            "model": ReferralOut,
            "description": "The referral this Idempotency-Key and body submitted before",
        },
        **problems(403),
    },
    **READ,
)
def submit(
    body: ReferralIn,
    subject: CurrentSubject,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    require(subject, POLICE)
    service = runtime.app
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
    case_id, created = retry_on_conflict(
        service.submit,
        body.command(
            submitted_by=subject.user,
            referring_org=subject.org,
            organisations=organisations,
            idempotency_key=idempotency_key,
            request_digest=digest,
        ),
    )
    log.info("referral submitted case=%s created=%s", case_id, created)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/referrals/{case_id}"
    doc = service.referral(case_id)
    return runtime.pep.read_one(
        subject, "case_management", _resource(service, doc, subject.agency, subject.user)
    )


@router.get(
    "",
    summary="List referrals (policy-filtered per row)",
    response_model=list[ReferralOut],
    responses=problems(),
    **READ,
)
def list_referrals(
    subject: CurrentSubject,
    runtime: Runtime,
    purpose: Purpose = "case_management",
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    service = runtime.app
    docs = service.referrals(
        limit=limit, overdue_only=overdue, visible_to=(subject.agency, subject.org)
    )
    projected = runtime.pep.read(
        subject, purpose, [_resource(service, d, subject.agency, subject.user) for d in docs]
    )
    return [p for p in projected if p is not None]


@router.get(
    "/{case_id}",
    summary="Read a referral (field-level policy)",
    response_model=ReferralOut,
    responses=problems(403, 404),
    **READ,
)
def read_referral(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    service = runtime.app
    doc = retry_on_conflict(service.referral, case_id)
    return runtime.pep.read_one(
        subject, purpose, _resource(service, doc, subject.agency, subject.user), what="referral"
    )


@router.post(
    "/{case_id}/risk-assessments",
    status_code=204,
    summary="Reassess risk (DASH)",
    responses=problems(403, 404, 409, 412),
)
def reassess(
    case_id: str,
    body: RiskReassessmentIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    _authorise(runtime, subject, case_id, "assess_risk")
    retry_on_conflict(
        runtime.app.assess_risk,
        case_id,
        body.answers,
        body.professional_judgement_high,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.post(
    "/{case_id}/incidents",
    status_code=204,
    summary="Report a new incident",
    responses=problems(403, 404, 409, 412),
)
def report_incident(
    case_id: str,
    body: IncidentIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    _authorise(runtime, subject, case_id, "report_incident")
    retry_on_conflict(
        runtime.app.report_incident,
        case_id,
        body.date,
        body.summary,
        subject.user,
        expected(body.expected_version, if_match),
    )


@router.post(
    "/{case_id}/withdrawal",
    status_code=204,
    summary="Withdraw a referral",
    responses=problems(403, 404, 409, 412),
)
def withdraw(
    case_id: str,
    body: WithdrawIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    _authorise(runtime, subject, case_id, "withdraw")
    retry_on_conflict(
        runtime.app.withdraw,
        case_id,
        body.reason,
        subject.user,
        expected(body.expected_version, if_match),
    )
