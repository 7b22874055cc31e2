"""The RJ provider's intake of referrals, and accepting or declining them."""

from __future__ import annotations

from typing import Annotated, Any

from accord_kernel.identity import require
from accord_kernel.policy import Change, Resource
from accord_kernel.problems import Problem
from accord_kernel.responses import READ, problems
from accord_kernel.runtime import CurrentSubject, ServiceRuntime, current_runtime
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from accord_conference.api.schemas import IntakeOut
from accord_conference.application import ConferenceService

router = APIRouter(prefix="/intake", tags=["intake"])
RJ = frozenset({"rj_provider"})
Runtime = Annotated[ServiceRuntime[ConferenceService], Depends(current_runtime)]


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def intake_resource(
    svc: ConferenceService, doc: dict[str, Any], agency: str, user: str
) -> Resource:
    return Resource(
        type="intake",
        case_id=doc["case_id"],
        document=doc,
        case=svc.policy_case(doc["case_id"], agency, user),
    )


@router.get(
    "",
    summary="Referrals known to the RJ provider (policy-filtered)",
    response_model=list[IntakeOut],
    responses=problems(403),
    **READ,
)
def list_intake(
    subject: CurrentSubject,
    runtime: Runtime,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    require(subject, RJ)
    svc = runtime.app
    docs = svc.intake_list(limit=limit, status=status)
    projected = runtime.pep.read(
        subject,
        "case_management",
        [intake_resource(svc, d, subject.agency, subject.user) for d in docs],
    )
    return [p for p in projected if p is not None]


@router.get(
    "/{case_id}",
    summary="One referral in the intake",
    response_model=IntakeOut,
    responses=problems(403, 404),
    **READ,
)
def read_intake(case_id: str, subject: CurrentSubject, runtime: Runtime) -> dict[str, Any]:
    require(subject, RJ)
    svc = runtime.app
    doc = svc.intake_document(svc.intake(case_id))
    return runtime.pep.read_one(
        subject,
        "case_management",
        intake_resource(svc, doc, subject.agency, subject.user),
        what="referral in intake",
    )


@router.post(
    "/{case_id}/decline",
    status_code=204,
    summary="Decline a referral, with a reason",
    responses=problems(403, 404, 409),
)
def decline(case_id: str, body: DeclineIn, subject: CurrentSubject, runtime: Runtime) -> None:
    require(subject, RJ, {"coordinator", "supervisor"})
    svc = runtime.app
    intake = svc.intake(case_id)
    runtime.pep.authorise_change(
        subject,
        Change(
            type="intake",
            case_id=case_id,
            command="decline",
            what="referral in intake",
            case=svc.policy_case(case_id, subject.agency, subject.user),
        ),
    )
    if intake.status not in ("eligible_direct", "eligible_indirect_only"):
        raise Problem(
            409, "invalid_state", "Only an eligible referral can be declined", state=intake.status
        )
    intake.decide("declined", subject.org, body.reason)
    svc.save(intake)
