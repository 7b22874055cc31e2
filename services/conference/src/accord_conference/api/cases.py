"""RJ cases: accept a referral, assign facilitators, prepare, pass the gate, hold the
conference, make and monitor the outcome agreement. Conference notes stay with the provider."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from accord_kernel.application import retry_on_conflict
from accord_kernel.identity import Subject, require
from accord_kernel.policy import Change, Purpose, Resource
from accord_kernel.problems import Problem, not_found
from accord_kernel.responses import READ, problems
from accord_kernel.runtime import CurrentSubject, ServiceRuntime, current_runtime
from accord_kernel.schemas import StrictModel as Strict
from accord_kernel.versions import IfMatch, expected, required
from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, Field, StringConstraints

from accord_conference.api.schemas import (
    Accepted,
    FacilitatorOut,
    FacilitatorRegistered,
    GateOut,
    RJCaseOut,
)
from accord_conference.application import ConferenceService
from accord_conference.commands import (
    DraftAgreement,
    RecordAgreementConsent,
    RecordConferenceHeld,
    RecordOffenderConsent,
    RecordPreparation,
    ReportItem,
    Stop,
    WithdrawOutcomeSharing,
)

router = APIRouter(tags=["RJ cases"])
RJ = frozenset({"rj_provider"})
COORDINATORS = {"coordinator", "supervisor"}
Runtime = Annotated[ServiceRuntime[ConferenceService], Depends(current_runtime)]
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
    expected_version: int | None = Field(default=None, ge=1)


class PreparationIn(Strict):
    participant: Literal["victim", "offender", "victim_support_person", "offender_support_person"]
    seen_alone: bool | None = None
    coercion_screen: Literal["passed", "failed"] | None = None
    support_persons: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=10
    )
    childrens_needs: Annotated[str, StringConstraints(max_length=2000)] | None = None
    notes: Notes = ""
    expected_version: int | None = Field(default=None, ge=1)


class ScheduleIn(Strict):
    modality: Literal["direct", "shuttle", "letter"]
    at_time: AwareDatetime
    expected_version: int | None = Field(default=None, ge=1)


class StopIn(Strict):
    reason: Literal[
        "victim_withdrew",
        "coercion_suspected",
        "continuing_violence",
        "risk_escalated",
        "offender_withdrew",
        "facilitator_judgement",
    ]


class HeldIn(Strict):
    notes: Notes = ""
    expected_version: int | None = Field(default=None, ge=1)


class ItemIn(Strict):
    item_id: ShortId
    what: Text
    owner: Literal["offender", "victim", "other"]
    due_date: date
    monitoring_agency: Literal["rj_provider", "police", "court", "victim_services"]


class AgreementIn(Strict):
    items: list[ItemIn] = Field(min_length=1, max_length=50)
    expected_version: int | None = Field(default=None, ge=1)


class AgreementConsentIn(Strict):
    party: Literal["victim", "offender"]
    agrees: bool
    share_with_court: bool
    expected_version: int | None = Field(default=None, ge=1)


class OutcomeSharingIn(Strict):
    party: Literal["victim", "offender"]
    expected_version: int | None = Field(default=None, ge=1)


class ItemReportIn(Strict):
    status: Literal["completed", "breached"]
    evidence: Text
    expected_version: int | None = Field(default=None, ge=1)


def coordinator(subject: Subject) -> Subject:
    return require(subject, RJ, COORDINATORS)


def practitioner(subject: Subject) -> Subject:
    return require(subject, RJ, COORDINATORS | {"facilitator"})


def authorise_case(
    runtime: Runtime, subject: Subject, case_id: str, command: str, safety_fallback: bool = False
) -> None:
    """Changes to an RJ case are made by its assigned facilitator or co-facilitator, or by a
    coordinator or supervisor of the provider that accepted it; for other organisations the
    case does not exist (SPEC section 4a)."""
    practitioner(subject)
    svc = runtime.app
    rj = retry_on_conflict(svc.rj_case, case_id)
    runtime.pep.authorise_change(
        subject,
        Change(
            type="rj_case",
            case_id=case_id,
            command=command,
            case=svc.policy_case(case_id, subject.agency, subject.user),
            assigned_facilitators=[f for f in (rj.facilitator_id, rj.co_facilitator_id) if f],
        ),
        safety_fallback=safety_fallback,
    )


def authorise_facilitator(
    runtime: Runtime, subject: Subject, facilitator_id: str, command: str
) -> None:
    coordinator(subject)
    owner = retry_on_conflict(runtime.app.facilitator, facilitator_id).org
    runtime.pep.authorise_change(
        subject,
        Change(
            type="facilitator", case_id="-", command=command, owner_org=owner, what="facilitator"
        ),
    )


# --- facilitators -----------------------------------------------------------------------
@router.post(
    "/facilitators",
    status_code=201,
    summary="Register a facilitator",
    responses=problems(403, 409),
)
def register_facilitator(
    body: FacilitatorIn, subject: CurrentSubject, runtime: Runtime
) -> FacilitatorRegistered:
    coordinator(subject)
    if not runtime.directory.is_member(subject.org, "rj_provider"):
        raise Problem(
            403,
            "forbidden",
            "Forbidden",
            "the token's organisation is not an RJ provider of this deployment",
        )
    retry_on_conflict(
        runtime.app.register_facilitator,
        body.facilitator_id,
        body.name,
        subject.org,
        body.accreditation_id,
        body.accredited_until,
        body.endorsement_expires,
    )
    return FacilitatorRegistered(facilitator_id=body.facilitator_id)


@router.get(
    "/facilitators",
    summary="Facilitators, accreditation and endorsement",
    responses=problems(403),
)
def facilitators(subject: CurrentSubject, runtime: Runtime) -> list[FacilitatorOut]:
    require(subject, RJ)
    return [FacilitatorOut.model_validate(f) for f in runtime.app.facilitators(org=subject.org)]


@router.post(
    "/facilitators/{facilitator_id}/endorsement",
    status_code=204,
    summary="Renew the family-violence endorsement",
    responses=problems(403, 404),
)
def renew(facilitator_id: str, body: RenewIn, subject: CurrentSubject, runtime: Runtime) -> None:
    authorise_facilitator(runtime, subject, facilitator_id, "renew_endorsement")
    retry_on_conflict(runtime.app.renew_endorsement, facilitator_id, body.endorsement_expires)


@router.post(
    "/facilitators/{facilitator_id}/supervision",
    status_code=204,
    summary="Log a supervision session",
    responses=problems(403, 404),
)
def supervision(
    facilitator_id: str, body: SupervisionIn, subject: CurrentSubject, runtime: Runtime
) -> None:
    authorise_facilitator(runtime, subject, facilitator_id, "log_supervision")
    retry_on_conflict(runtime.app.log_supervision, facilitator_id, subject.user, body.notes_ref)


# --- cases ------------------------------------------------------------------------------
@router.post(
    "/intake/{case_id}/accept",
    status_code=201,
    summary="Accept an eligible referral",
    responses=problems(403, 404, 409),
)
def accept(case_id: str, subject: CurrentSubject, runtime: Runtime) -> Accepted:
    coordinator(subject)
    svc = runtime.app
    retry_on_conflict(svc.intake, case_id)
    runtime.pep.authorise_change(
        subject,
        Change(
            type="intake",
            case_id=case_id,
            command="accept",
            what="referral in intake",
            case=svc.policy_case(case_id, subject.agency, subject.user),
        ),
    )
    retry_on_conflict(svc.accept, case_id, subject.org, subject.user)
    return Accepted(case_id=case_id, status="open")


def case_resource(svc: ConferenceService, case_id: str, subject: Subject) -> Resource:
    rj = retry_on_conflict(svc.rj_case, case_id)
    facilitators = [f for f in (rj.facilitator_id, rj.co_facilitator_id) if f]
    return Resource(
        type="rj_case",
        case_id=rj.case_id,
        document=svc.case_document(rj),
        case=svc.policy_case(case_id, subject.agency, subject.user),
        assigned_facilitators=facilitators,
    )


@router.get(
    "/cases",
    summary="RJ cases (policy-filtered per row)",
    response_model=list[RJCaseOut],
    responses=problems(),
    **READ,
)
def list_cases(
    subject: CurrentSubject,
    runtime: Runtime,
    purpose: Purpose = "case_management",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    svc = runtime.app
    resources = [
        case_resource(svc, rj.case_id, subject)
        for rj in svc.cases(limit, visible_to=(subject.agency, subject.org))
    ]
    return [p for p in runtime.pep.read(subject, purpose, resources) if p is not None]


@router.get(
    "/cases/{case_id}",
    summary="One RJ case (field-level policy)",
    response_model=RJCaseOut,
    responses=problems(403, 404),
    **READ,
)
def read_case(
    case_id: str, subject: CurrentSubject, runtime: Runtime, purpose: Purpose = "case_management"
) -> dict[str, Any]:
    return runtime.pep.read_one(
        subject, purpose, case_resource(runtime.app, case_id, subject), what="RJ case"
    )


@router.get(
    "/cases/{case_id}/gate",
    summary="Every failed gate condition, direct and indirect",
    response_model=GateOut,
    responses=problems(403, 404),
)
def gate(
    case_id: str,
    subject: CurrentSubject,
    runtime: Runtime,
    on: Annotated[
        date | None,
        Query(
            description="The day to check the gate for; "
            "default the scheduled conference's day, else "
            "today"
        ),
    ] = None,
) -> dict[str, Any]:
    svc = runtime.app
    read_one_case(runtime, subject, case_id)
    return retry_on_conflict(svc.gate, case_id, on)


@router.post(
    "/cases/{case_id}/facilitators",
    status_code=204,
    summary="Assign a facilitator",
    responses=problems(403, 404, 409, 412),
)
def assign(
    case_id: str,
    body: AssignIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    coordinator(subject)
    authorise_case(runtime, subject, case_id, "assign_facilitator")
    svc = runtime.app
    # A provider assigns its own facilitators only; another provider's do not exist for it.
    if retry_on_conflict(svc.facilitator, body.facilitator_id).org != subject.org:
        raise not_found("facilitator")
    retry_on_conflict(
        svc.assign_facilitator,
        case_id,
        body.facilitator_id,
        body.role,
        subject.user,
        expected_version=expected(body.expected_version, if_match),
    )


@router.post(
    "/cases/{case_id}/offender-consent", status_code=204, responses=problems(403, 404, 409, 412)
)
def offender_consent(
    case_id: str,
    body: OffenderConsentIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise_case(runtime, subject, case_id, "record_offender_consent")
    retry_on_conflict(
        runtime.app.command,
        case_id,
        RecordOffenderConsent(body.given, _now()),
        expected_version=expected(body.expected_version, if_match),
    )


@router.post(
    "/cases/{case_id}/preparations",
    status_code=204,
    summary="Record a preparation meeting",
    responses=problems(403, 404, 409, 412),
)
def preparation(
    case_id: str,
    body: PreparationIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise_case(runtime, subject, case_id, "record_preparation")
    retry_on_conflict(
        runtime.app.command,
        case_id,
        RecordPreparation(
            body.participant,
            subject.user,
            _now(),
            seen_alone=body.seen_alone,
            coercion_screen=body.coercion_screen,
            support_persons=body.support_persons,
            childrens_needs=body.childrens_needs,
            notes=body.notes,
        ),
        expected_version=expected(body.expected_version, if_match),
    )


@router.post(
    "/cases/{case_id}/conference",
    status_code=204,
    summary="Schedule a conference (the gate lists every failed condition)",
    responses=problems(403, 404, 409, 412, 428),
)
def schedule(
    case_id: str,
    body: ScheduleIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise_case(runtime, subject, case_id, "schedule")
    # Two coordinators scheduling one case at once must not silently override each other.
    version = required(expected(body.expected_version, if_match))
    retry_on_conflict(
        runtime.app.schedule,
        case_id,
        body.modality,
        body.at_time,
        subject.user,
        expected_version=version,
    )


@router.post(
    "/cases/{case_id}/conference/held", status_code=204, responses=problems(403, 404, 409, 412)
)
def held(
    case_id: str, body: HeldIn, subject: CurrentSubject, runtime: Runtime, if_match: IfMatch = None
) -> None:
    authorise_case(runtime, subject, case_id, "record_conference_held")
    retry_on_conflict(
        runtime.app.command,
        case_id,
        RecordConferenceHeld(_now(), body.notes, subject.user),
        expected_version=expected(body.expected_version, if_match),
    )


@router.post(
    "/cases/{case_id}/stop",
    status_code=204,
    summary="Stop the case, with a reason",
    responses=problems(403, 404, 409),
)
def stop(case_id: str, body: StopIn, subject: CurrentSubject, runtime: Runtime) -> None:
    # A stop always takes effect for the case's own provider, even while the policy engine is
    # down: stopping protects, it never exposes.
    authorise_case(runtime, subject, case_id, "stop", safety_fallback=True)
    retry_on_conflict(runtime.app.command, case_id, Stop(body.reason, subject.user, _now()))


@router.put(
    "/cases/{case_id}/agreement",
    status_code=204,
    summary="Draft the outcome agreement",
    responses=problems(403, 404, 409, 412),
)
def agreement(
    case_id: str,
    body: AgreementIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise_case(runtime, subject, case_id, "draft_agreement")
    items = [{**i.model_dump(), "due_date": i.due_date.isoformat()} for i in body.items]
    retry_on_conflict(
        runtime.app.command,
        case_id,
        DraftAgreement(items, subject.user, _now()),
        expected_version=expected(body.expected_version, if_match),
    )


@router.post(
    "/cases/{case_id}/agreement/consents",
    status_code=204,
    summary="A party's consent to the agreement and to sharing it with the court",
    responses=problems(403, 404, 409, 412),
)
def agreement_consent(
    case_id: str,
    body: AgreementConsentIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    authorise_case(runtime, subject, case_id, "record_agreement_consent")
    retry_on_conflict(
        runtime.app.command,
        case_id,
        RecordAgreementConsent(body.party, body.agrees, body.share_with_court, _now()),
        expected_version=expected(body.expected_version, if_match),
    )


@router.post(
    "/cases/{case_id}/agreement/outcome-sharing-withdrawal",
    status_code=204,
    summary="A party withdraws consent to share the outcome with the court",
    responses=problems(403, 404, 409),
)
def withdraw_sharing(
    case_id: str, body: OutcomeSharingIn, subject: CurrentSubject, runtime: Runtime
) -> None:
    authorise_case(runtime, subject, case_id, "withdraw_outcome_sharing")
    retry_on_conflict(runtime.app.command, case_id, WithdrawOutcomeSharing(body.party, _now()))


@router.post(
    "/cases/{case_id}/agreement/items/{item_id}/report",
    status_code=204,
    summary="Report an item completed or breached, with evidence",
    responses=problems(403, 404, 409, 412),
)
def report_item(
    case_id: str,
    item_id: str,
    body: ItemReportIn,
    subject: CurrentSubject,
    runtime: Runtime,
    if_match: IfMatch = None,
) -> None:
    require(subject, {"rj_provider", "police", "victim_services", "court"})
    svc = runtime.app
    rj = retry_on_conflict(svc.rj_case, case_id)
    item = next((i for i in rj.agreement_items if i.get("item_id") == item_id), None)
    # Reported by the responsible organisation of the item's monitoring agency (SPEC 4a).
    runtime.pep.authorise_change(
        subject,
        Change(
            type="agreement_item",
            case_id=case_id,
            command="report_item",
            case=svc.policy_case(case_id, subject.agency, subject.user),
            monitoring_agency=item["monitoring_agency"] if item else subject.agency,
            assigned_facilitators=[f for f in (rj.facilitator_id, rj.co_facilitator_id) if f],
        ),
    )
    retry_on_conflict(
        runtime.app.command,
        case_id,
        ReportItem(item_id, body.status, body.evidence, subject.agency, _now()),
        expected_version=expected(body.expected_version, if_match),
    )


def read_one_case(runtime: Runtime, subject: Subject, case_id: str) -> dict[str, Any]:
    """The gate is part of the case: whoever may read the case sees it, others get 404."""
    practitioner(subject)
    return runtime.pep.read_one(
        subject,
        "case_management",
        case_resource(runtime.app, case_id, subject),
        what="RJ case",
    )


def _now() -> datetime:
    return datetime.now(UTC)
