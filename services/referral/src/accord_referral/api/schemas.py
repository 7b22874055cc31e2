"""Request bodies: strict, bounded, and naming the field on any error."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from accord_kernel.responses import Day, Moment, ReadModel, Records, withheld
from accord_kernel.schemas import StrictModel as Strict
from pydantic import Field, StringConstraints, field_validator, model_validator

from accord_referral import commands
from accord_referral.commands import IncidentReport, SubmitReferral
from accord_referral.domain.dash import QUESTIONS

Jurisdiction = Literal["england-wales", "scotland", "new-zealand", "nova-scotia"]
Initiator = Literal["victim", "victim_advocate", "police", "court", "offender"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
CourtReference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/-]{1,64}$")]
OrganisationId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
DASH_CODES = frozenset(code for code, _ in QUESTIONS)


def _not_future(value: date | None) -> date | None:
    if value is not None and value > datetime.now(UTC).date():
        raise ValueError("date is in the future")
    return value


class Party(Strict):
    name: Name
    date_of_birth: date | None = None

    _past = field_validator("date_of_birth")(_not_future)


class Incident(Strict):
    date: date
    summary: LongText
    offence_type: ShortText

    _past = field_validator("date")(_not_future)


class RiskAssessmentIn(Strict):
    answers: dict[str, bool] = Field(description="All 24 DASH questions, yes (true) or no")
    professional_judgement_high: bool = False

    @field_validator("answers")
    @classmethod
    def _all_24(cls, answers: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(answers) - DASH_CODES)
        missing = sorted(DASH_CODES - set(answers))
        if unknown or missing or len(answers) != len(DASH_CODES):
            raise ValueError(
                f"exactly the {len(DASH_CODES)} DASH questions are required; "
                f"unknown: {unknown[:5]}, missing: {missing[:5]}"
            )
        return answers


class ReferralIn(Strict):
    jurisdiction: Jurisdiction
    initiated_by: Initiator
    incident: Incident
    victim: Party
    offender: Party
    offender_acknowledged: bool
    guilty_plea: bool = False
    court_reference: CourtReference | None = None
    court_org: OrganisationId | None = Field(
        default=None, description="The court (from the directory) that gave the court reference"
    )
    victim_services_org: OrganisationId = Field(
        description="The victim-services organisation (from the directory) that will support "
        "the victim; it is responsible for the case for victim services"
    )
    risk_assessment: RiskAssessmentIn

    def command(
        self,
        *,
        submitted_by: str,
        referring_org: str,
        organisations: Mapping[str, str],
        idempotency_key: str | None,
        request_digest: str,
    ) -> SubmitReferral:
        """The submit command this body asks for, on behalf of the submitting officer."""
        return SubmitReferral(
            jurisdiction=self.jurisdiction,
            initiated_by=self.initiated_by,
            incident=IncidentReport(
                self.incident.date, self.incident.summary, self.incident.offence_type
            ),
            victim=commands.Party(self.victim.name, self.victim.date_of_birth),
            offender=commands.Party(self.offender.name, self.offender.date_of_birth),
            offender_acknowledged=self.offender_acknowledged,
            guilty_plea=self.guilty_plea,
            court_reference=self.court_reference,
            dash_answers=self.risk_assessment.answers,
            professional_judgement_high=self.risk_assessment.professional_judgement_high,
            submitted_by=submitted_by,
            referring_org=referring_org,
            organisations=organisations,
            idempotency_key=idempotency_key,
            request_digest=request_digest,
        )

    @model_validator(mode="after")
    def _court_named_with_reference(self) -> ReferralIn:
        if (self.court_reference is None) != (self.court_org is None):
            raise ValueError("court_reference and court_org are given together or not at all")
        return self


class IncidentIn(Strict):
    date: date
    summary: LongText
    expected_version: int | None = Field(default=None, ge=1)

    _past = field_validator("date")(_not_future)


class RiskReassessmentIn(RiskAssessmentIn):
    expected_version: int | None = Field(default=None, ge=1)


class WithdrawIn(Strict):
    reason: ShortText
    expected_version: int | None = Field(default=None, ge=1)


class ReferralOut(ReadModel):
    """A referral as the caller may see it: the policy withholds fields per data class (for
    example risk detail from other agencies), and a withheld field is absent."""

    case_id: str = withheld()
    status: str = withheld()
    jurisdiction: Jurisdiction = withheld()
    initiated_by: Initiator = withheld()
    submitted_at: Moment = withheld()
    court_reference: str | None = withheld()
    eligibility: str | None = withheld()
    eligibility_reasons: list[str] = withheld()
    deadlines: dict[str, Day] = withheld("Deadline name -> due day")
    overdue: bool = withheld()
    decided_by: str | None = withheld()
    decline_reason: str | None = withheld()
    withdrawn_reason: str | None = withheld()
    screened_at: Moment | None = withheld("When eligibility was decided")
    decided_at: Moment | None = withheld("When an RJ provider accepted or declined it")
    withdrawn_at: Moment | None = withheld("When the police withdrew it")
    version: int = withheld("The aggregate's version, for If-Match")
    reassessment_required: bool = withheld()
    victim_name: str | None = withheld()
    victim_date_of_birth: Day | None = withheld()
    offender_name: str | None = withheld()
    offender_date_of_birth: Day | None = withheld()
    incident_date: Day | None = withheld()
    incident_summary: str | None = withheld()
    offence_type: str | None = withheld()
    offender_acknowledged: bool | None = withheld()
    guilty_plea: bool | None = withheld()
    incidents: Records = withheld("Further incidents reported: date, summary, by, at")
    risk_band: str | None = withheld()
    risk_score: int | None = withheld()
    dash_answers: dict[str, bool] = withheld("DASH question code -> answer")
    red_flags: list[str] = withheld()
    professional_judgement: bool | None = withheld()
    risk_history: Records = withheld("Every assessment: answers, score, band, by, at")
