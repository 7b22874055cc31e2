"""RJ cases: accept a referral, assign facilitators, prepare, pass the gate, hold the
conference, make and monitor the outcome agreement. Conference notes stay with the provider."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from accord_kernel.application import retry_on_conflict
from accord_kernel.identity import Subject, require
from accord_kernel.policy import Purpose, Resource
from accord_kernel.problems import Problem, domain_problem, not_found
from accord_kernel.runtime import CurrentSubject, Runtime
from accord_kernel.schemas import StrictModel as Strict
from fastapi import APIRouter, Query
from pydantic import AwareDatetime, Field, StringConstraints

from accord_conference.application import (
    AlreadyExists,
    ConferenceService,
    NotEligible,
    NotFound,
    VersionConflict,
)
from accord_conference.domain import ConferenceError

router = APIRouter(tags=["RJ cases"])
RJ = frozenset({"rj_provider"})
COORDINATORS = {"coordinator", "supervisor"}
T = TypeVar("T")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Notes = Annotated[str, StringConstraints(max_length=20000)]
ShortId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{1,100}$")]


class FacilitatorIn(Strict):
    facilitator_id: ShortId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    accreditation_id: ShortId
    accredited_until: date
    endorsement_expires: date | None = None


class RenewIn(Strict):
    endorsement_expires: date


class SupervisionIn(Strict):
    notes_ref: ShortId


class AssignIn(Strict):
    facilitator_id: ShortId
    role: Literal["lead", "co"] = "lead"
    expected_version: int | None = Field(default=None, ge=1)


class OffenderConsentIn(Strict):
    given: bool


class PreparationIn(Strict):
    participant: Literal["victim", "offender", "victim_support_person",
                         "offender_support_person"]
    seen_alone: bool | None = None
    coercion_screen: Literal["passed", "failed"] | None = None
    support_persons: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=10)
    childrens_needs: Annotated[str, StringConstraints(max_length=2000)] | None = None
    notes: Notes = ""


class ScheduleIn(Strict):
    modality: Literal["direct", "shuttle", "letter"]
    at_time: AwareDatetime


class StopIn(Strict):
    reason: Literal["victim_withdrew", "coercion_suspected", "continuing_violence",
                    "risk_escalated", "offender_withdrew", "facilitator_judgement"]


class HeldIn(Strict):
    notes: Notes = ""


class ItemIn(Strict):
    item_id: ShortId
    what: Text
    owner: Literal["offender", "victim", "other"]
    due_date: date
    monitoring_agency: Literal["rj_provider", "police", "court", "victim_services"]


class AgreementIn(Strict):
    items: list[ItemIn] = Field(min_length=1, max_length=50)


class AgreementConsentIn(Strict):
    party: Literal["victim", "offender"]
    agrees: bool
    share_with_court: bool


class OutcomeSharingIn(Strict):
    party: Literal["victim", "offender"]


class ItemReportIn(Strict):
    status: Literal["completed", "breached"]
    evidence: Text


def service(runtime: Runtime) -> ConferenceService:
    app = runtime.app
    assert isinstance(app, ConferenceService)
    return app


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return retry_on_conflict(fn, *args, **kwargs)  # type: ignore[no-any-return]
    except NotFound as exc:
        raise not_found(str(exc) or "case") from exc
    except NotEligible as exc:
        raise Problem(409, "invalid_state", "Only an eligible referral can be accepted",
                      state=exc.state) from exc
    except AlreadyExists as exc:
        raise Problem(409, "already_exists", f"The {exc.what} already exists") from exc
    except VersionConflict as exc:
        raise Problem(412, "version_conflict", "The case has changed",
                      current_version=exc.current) from exc
    except ConferenceError as exc:
        details = dict(getattr(exc, "details", {}))
        raise domain_problem(exc.http_status, exc.code, str(exc), None, details) from exc


def coordinator(subject: Subject) -> Subject:
    return require(subject, RJ, COORDINATORS)


def practitioner(subject: Subject) -> Subject:
    return require(subject, RJ, COORDINATORS | {"facilitator"})


# --- facilitators -----------------------------------------------------------------------
@router.post("/facilitators", status_code=201, summary="Register a facilitator")
def register_facilitator(body: FacilitatorIn, subject: CurrentSubject,
                         runtime: Runtime) -> dict[str, str]:
    coordinator(subject)
    call(service(runtime).register_facilitator, body.facilitator_id, body.name, subject.org,
         body.accreditation_id, body.accredited_until, body.endorsement_expires)
    return {"facilitator_id": body.facilitator_id}


@router.get("/facilitators", summary="Facilitators, accreditation and endorsement")
def facilitators(subject: CurrentSubject, runtime: Runtime) -> list[dict[str, Any]]:
    require(subject, RJ)
    return service(runtime).facilitators()


@router.post("/facilitators/{facilitator_id}/endorsement", status_code=204,
             summary="Renew the family-violence endorsement")
def renew(facilitator_id: str, body: RenewIn, subject: CurrentSubject, runtime: Runtime) -> None:
    coordinator(subject)
    call(service(runtime).renew_endorsement, facilitator_id, body.endorsement_expires)


@router.post("/facilitators/{facilitator_id}/supervision", status_code=204,
             summary="Log a supervision session")
def supervision(facilitator_id: str, body: SupervisionIn, subject: CurrentSubject,
                runtime: Runtime) -> None:
    require(subject, RJ, {"supervisor", "coordinator"})
    call(service(runtime).log_supervision, facilitator_id, subject.user, body.notes_ref)


# --- cases ------------------------------------------------------------------------------
@router.post("/intake/{case_id}/accept", status_code=201, summary="Accept an eligible referral")
def accept(case_id: str, subject: CurrentSubject, runtime: Runtime) -> dict[str, str]:
    coordinator(subject)
    call(service(runtime).accept, case_id, subject.org, subject.user)
    return {"case_id": case_id, "status": "open"}


def case_resource(svc: ConferenceService, case_id: str, subject: Subject) -> Resource:
    rj = call(svc.rj_case, case_id)
    facilitators = [f for f in (rj.facilitator_id, rj.co_facilitator_id) if f]
    return Resource(type="rj_case", case_id=rj.case_id, document=svc.case_document(rj),
                    case=svc.contexts.policy_case(case_id, subject.agency, subject.user),
                    assigned_facilitators=facilitators)


@router.get("/cases", summary="RJ cases (policy-filtered per row)")
def list_cases(subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management",
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    svc = service(runtime)
    resources = [case_resource(svc, rj.case_id, subject) for rj in svc.cases(limit)]
    return [p for p in runtime.pep.read(subject, purpose, resources) if p is not None]


@router.get("/cases/{case_id}", summary="One RJ case (field-level policy)")
def read_case(case_id: str, subject: CurrentSubject, runtime: Runtime,
              purpose: Purpose = "case_management") -> dict[str, Any]:
    return runtime.pep.read_one(subject, purpose,
                                case_resource(service(runtime), case_id, subject))


@router.get("/cases/{case_id}/gate", summary="Every failed gate condition, direct and indirect")
def gate(case_id: str, subject: CurrentSubject, runtime: Runtime) -> dict[str, list[str]]:
    practitioner(subject)
    return call(service(runtime).gate, case_id)


@router.post("/cases/{case_id}/facilitators", status_code=204, summary="Assign a facilitator")
def assign(case_id: str, body: AssignIn, subject: CurrentSubject, runtime: Runtime) -> None:
    coordinator(subject)
    call(service(runtime).assign_facilitator, case_id, body.facilitator_id, body.role,
         subject.user)


@router.post("/cases/{case_id}/offender-consent", status_code=204)
def offender_consent(case_id: str, body: OffenderConsentIn, subject: CurrentSubject,
                     runtime: Runtime) -> None:
    practitioner(subject)
    call(service(runtime).command, case_id, "record_offender_consent", body.given, _now())


@router.post("/cases/{case_id}/preparations", status_code=204,
             summary="Record a preparation meeting")
def preparation(case_id: str, body: PreparationIn, subject: CurrentSubject,
                runtime: Runtime) -> None:
    practitioner(subject)
    call(service(runtime).command, case_id, "record_preparation", body.participant,
         subject.user, _now(), seen_alone=body.seen_alone, coercion_screen=body.coercion_screen,
         support_persons=body.support_persons, childrens_needs=body.childrens_needs,
         notes=body.notes)


@router.post("/cases/{case_id}/conference", status_code=204,
             summary="Schedule a conference (the gate lists every failed condition)")
def schedule(case_id: str, body: ScheduleIn, subject: CurrentSubject, runtime: Runtime) -> None:
    practitioner(subject)
    call(service(runtime).schedule, case_id, body.modality, body.at_time, subject.user)


@router.post("/cases/{case_id}/conference/held", status_code=204)
def held(case_id: str, body: HeldIn, subject: CurrentSubject, runtime: Runtime) -> None:
    practitioner(subject)
    call(service(runtime).command, case_id, "record_conference_held", _now(), body.notes,
         subject.user)


@router.post("/cases/{case_id}/stop", status_code=204, summary="Stop the case, with a reason")
def stop(case_id: str, body: StopIn, subject: CurrentSubject, runtime: Runtime) -> None:
    practitioner(subject)
    call(service(runtime).command, case_id, "stop", body.reason, subject.user, _now())


@router.put("/cases/{case_id}/agreement", status_code=204, summary="Draft the outcome agreement")
def agreement(case_id: str, body: AgreementIn, subject: CurrentSubject,
              runtime: Runtime) -> None:
    practitioner(subject)
    items = [{**i.model_dump(), "due_date": i.due_date.isoformat()} for i in body.items]
    call(service(runtime).command, case_id, "draft_agreement", items, subject.user, _now())


@router.post("/cases/{case_id}/agreement/consents", status_code=204,
             summary="A party's consent to the agreement and to sharing it with the court")
def agreement_consent(case_id: str, body: AgreementConsentIn, subject: CurrentSubject,
                      runtime: Runtime) -> None:
    practitioner(subject)
    call(service(runtime).command, case_id, "record_agreement_consent", body.party,
         body.agrees, body.share_with_court, _now())


@router.post("/cases/{case_id}/agreement/outcome-sharing-withdrawal", status_code=204,
             summary="A party withdraws consent to share the outcome with the court")
def withdraw_sharing(case_id: str, body: OutcomeSharingIn, subject: CurrentSubject,
                     runtime: Runtime) -> None:
    practitioner(subject)
    call(service(runtime).command, case_id, "withdraw_outcome_sharing", body.party, _now())


@router.post("/cases/{case_id}/agreement/items/{item_id}/report", status_code=204,
             summary="Report an item completed or breached, with evidence")
def report_item(case_id: str, item_id: str, body: ItemReportIn, subject: CurrentSubject,
                runtime: Runtime) -> None:
    require(subject, {"rj_provider", "police", "victim_services"})
    command = "complete_item" if body.status == "completed" else "breach_item"
    call(service(runtime).command, case_id, command, item_id, body.evidence, subject.agency,
         _now())


def _now() -> datetime:
    return datetime.now(UTC)
