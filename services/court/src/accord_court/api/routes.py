"""Court cases: the compliance picture of an outcome agreement under a court reference, and the
court's review decisions. Every read is policy-filtered; the resource holds no conference notes,
support notes or location, so no answer of the policy can put them in front of a court."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from accord_kernel.application import VersionConflict
from accord_kernel.identity import Subject, require
from accord_kernel.policy import Change, Purpose, Resource
from accord_kernel.problems import Problem, domain_problem, not_found
from accord_kernel.runtime import CurrentSubject, Runtime
from accord_kernel.versions import IfMatch
from fastapi import APIRouter, Header, Path, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from accord_court.application import (
    ConcurrentDecision,
    CourtCaseNotFound,
    CourtService,
    IdempotencyKeyReused,
)
from accord_court.domain import COURT_REFERENCE_PATTERN, CourtError

router = APIRouter(prefix="/court-cases", tags=["court cases"])
COURT = frozenset({"court"})
REVIEWERS = {"clerk", "judge"}
T = TypeVar("T")
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


def service(runtime: Runtime) -> CourtService:
    app = runtime.app
    assert isinstance(app, CourtService)
    return app


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except CourtCaseNotFound as exc:
        raise not_found("court case") from exc
    except IdempotencyKeyReused as exc:
        raise Problem(
            422,
            "idempotency_key_reused",
            "Idempotency-Key already used",
            "This Idempotency-Key was used for a different decision; use a new key "
            "for a new request.",
        ) from exc
    except VersionConflict as exc:
        raise Problem(
            412,
            "version_conflict",
            "The court case has changed",
            "Read the court case and retry with its current version.",
            current_version=exc.current,
        ) from exc
    except ConcurrentDecision as exc:
        raise Problem(
            409,
            "concurrent_update",
            "The court case has changed",
            "Another change was saved first; read the court case and retry.",
        ) from exc
    except CourtError as exc:
        raise domain_problem(exc.http_status, exc.code, exc.message, None, exc.details) from exc


def court_case_resource(svc: CourtService, document: dict[str, Any], subject: Subject) -> Resource:
    case_id = document["case_id"]
    return Resource(
        type="court_case",
        case_id=case_id,
        document=document,
        case=svc.contexts.policy_case(case_id, subject.agency, subject.user),
    )


@router.get("", summary="Court cases of this court (policy-filtered per row)")
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
    svc = service(runtime)
    documents = svc.court_views(limit) if case_id is None else svc.court_views_of_case(case_id)
    resources = [court_case_resource(svc, d, subject) for d in documents[:limit]]
    # The policy decides each row; a page holds only this court's own cases.
    mine = [r for r in resources if r.case.get("responsible", {}).get("court") == subject.org]
    return [p for p in runtime.pep.read(subject, purpose, mine) if p is not None]


@router.get(
    "/{court_reference:path}",
    summary="One court case: item statuses always, item text only with outcome consent",
)
def read_court_case(
    court_reference: CourtReference,
    subject: CurrentSubject,
    runtime: Runtime,
    purpose: Purpose = "compliance_review",
) -> dict[str, Any]:
    svc = service(runtime)
    document = call(svc.court_view, court_reference)
    return runtime.pep.read_one(
        subject, purpose, court_case_resource(svc, document, subject), what="court case"
    )


@router.post(
    "/{court_reference:path}/decisions",
    status_code=204,
    summary="Record a review decision (court clerks and judges)",
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
    svc = service(runtime)
    document = call(svc.court_view, court_reference)
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
    call(
        svc.record_review_decision,
        court_reference,
        body.decision,
        subject.user,
        body.notes,
        idempotency_key=idempotency_key,
        expected_version=if_match,
    )
