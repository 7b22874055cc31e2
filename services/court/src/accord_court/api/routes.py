"""Court cases: the compliance picture of an outcome agreement under a court reference, and the
court's review decisions. Every read is policy-filtered; the resource holds no conference notes,
support notes or location, so no answer of the policy can put them in front of a court."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from accord_kernel.application import retry_on_conflict
from accord_kernel.identity import Subject, require
from accord_kernel.policy import Change, Purpose, Resource
from accord_kernel.responses import READ, problems
from accord_kernel.runtime import CurrentSubject, ServiceRuntime, current_runtime
from accord_kernel.versions import IfMatch
from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from accord_court.api.schemas import CourtCaseOut
from accord_court.application import CourtService
from accord_court.domain import COURT_REFERENCE_PATTERN

router = APIRouter(prefix="/court-cases", tags=["court cases"])
COURT = frozenset({"court"})
REVIEWERS = {"clerk", "judge"}
Runtime = Annotated[ServiceRuntime[CourtService], Depends(current_runtime)]
# Court references may contain '/', hence the `path` converter in the routes below.
CourtReference = Annotated[
    str, Path(pattern=COURT_REFERENCE_PATTERN, description="The court's own reference for the case")
]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", pattern=r"^[\x21-\x7e]{1,128}$")
]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    decision: Literal["compliance_accepted", "returned_for_sentencing", "review_adjourned"]
    notes: Annotated[str, StringConstraints(max_length=2000)] = ""
    next_review_on: Annotated[
        date | None,
        Strict(False),
        Field(description="The day an adjourned review resumes (review_adjourned only)"),
    ] = None


def court_case_resource(svc: CourtService, document: dict[str, Any], subject: Subject) -> Resource:
    case_id = document["case_id"]
    return Resource(
        type="court_case",
        case_id=case_id,
        document=document,
        case=svc.contexts.policy_case(case_id, subject.agency, subject.user),
    )


@router.get(
    "",
    summary="Court cases of this court (policy-filtered per row)",
    response_model=list[CourtCaseOut],
    responses=problems(403),
    **READ,
)
def list_court_cases(
    subject: CurrentSubject,
    runtime: Runtime,
    purpose: Purpose = "compliance_review",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    case_id: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[A-Za-z0-9-]+$",
            description="Only the court cases of this RJ case (the portal's case page)",
        ),
    ] = None,
) -> list[dict[str, Any]]:
    require(subject, COURT)
    svc = runtime.app
    documents = svc.court_views(limit) if case_id is None else svc.court_views_of_case(case_id)
    resources = [court_case_resource(svc, d, subject) for d in documents[:limit]]
    # The policy decides each row; a page holds only this court's own cases.
    mine = [r for r in resources if r.case.get("responsible", {}).get("court") == subject.org]
    return [p for p in runtime.pep.read(subject, purpose, mine) if p is not None]


@router.get(
    "/{court_reference:path}",
    summary="One court case: item statuses always, item text only with outcome consent",
    response_model=CourtCaseOut,
    responses=problems(403, 404),
    **READ,
)
def read_court_case(
    court_reference: CourtReference,
    subject: CurrentSubject,
    runtime: Runtime,
    purpose: Purpose = "compliance_review",
) -> dict[str, Any]:
    svc = runtime.app
    document = retry_on_conflict(svc.court_view, court_reference)
    return runtime.pep.read_one(
        subject, purpose, court_case_resource(svc, document, subject), what="court case"
    )


@router.post(
    "/{court_reference:path}/decisions",
    status_code=204,
    summary="Record a review decision (court clerks and judges)",
    responses=problems(403, 404, 409, 412),
)
def record_decision(
    court_reference: CourtReference,
    body: DecisionIn,
    subject: CurrentSubject,
    runtime: Runtime,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> None:
    require(subject, COURT, REVIEWERS)
    svc = runtime.app
    document = retry_on_conflict(svc.court_view, court_reference)
    runtime.pep.authorise_change(
        subject,
        Change(
            type="court_case",
            case_id=document["case_id"],
            command="record_review_decision",
            case=svc.contexts.policy_case(document["case_id"]),
            what="court case",
        ),
    )
    retry_on_conflict(
        svc.record_review_decision,
        court_reference,
        body.decision,
        subject.user,
        body.notes,
        next_review_on=body.next_review_on,
        idempotency_key=idempotency_key,
        expected_version=if_match,
    )
