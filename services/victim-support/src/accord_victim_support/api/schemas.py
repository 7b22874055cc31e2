"""Request bodies for victim services: bounded, with unknown fields refused."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from accord_kernel.responses import Body, Day, Moment, ReadModel, Records, withheld
from accord_kernel.schemas import StrictModel as Strict
from pydantic import AwareDatetime, Field, StringConstraints

from accord_victim_support.domain.vocabulary import (
    Agency,
    ContactMethod,
    DataClass,
    FlagCode,
    PurposeName,
)

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text2000 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Text8000 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]


class Child(Strict):
    age: int = Field(ge=0, le=17)
    needs: Annotated[str, StringConstraints(max_length=1000)] | None = None


class VictimIn(Strict):
    name: Text200
    date_of_birth: date | None = None
    address: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = None
    safe_contact_number: (
        Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{2,39}$")] | None
    ) = None
    refuge: bool = False
    preferred_contact_method: ContactMethod
    safe_contact_method: ContactMethod | None = None
    language: Annotated[str, StringConstraints(min_length=2, max_length=35)] = "en"
    interpreter_needed: bool = False
    children: list[Child] = Field(default_factory=list, max_length=20)


class ProvisionIn(Strict):
    type: Literal["permit", "deny"] = "permit"
    agency: Agency
    purposes: list[PurposeName] = Field(min_length=1, max_length=6)
    data_classes: list[DataClass] = Field(default_factory=list, max_length=14)
    start: AwareDatetime
    end: AwareDatetime


class ConsentIn(Strict):
    scope: Literal["participate", "share", "outcome"]
    seen_alone: bool = Field(description="Advocate attests the victim was seen alone")
    provisions: list[ProvisionIn] = Field(min_length=1, max_length=20)
    lawful_basis: Literal[
        "consent", "safeguarding", "legal_obligation", "vital_interests", "public_task"
    ] = "consent"


class WithdrawIn(Strict):
    reason: Text2000 | None = None


class RefreshIn(Strict):
    new_end: AwareDatetime
    expected_version: int | None = Field(default=None, ge=1)


class FlagIn(Strict):
    code: FlagCode
    severity: Literal["low", "medium", "high"]
    expected_version: int | None = Field(default=None, ge=1)


class ClearFlagIn(Strict):
    reason: Text2000
    expected_version: int | None = Field(default=None, ge=1)


class SafetyPlanIn(Strict):
    content: Text8000
    review_date: date
    expected_version: int | None = Field(default=None, ge=1)


class SupportNoteIn(Strict):
    text: Text8000
    expected_version: int | None = Field(default=None, ge=1)


class EmergencyAccessIn(Strict):
    reason_code: (
        Literal[
            "imminent_risk_to_life",
            "missing_person",
            "safeguarding_child",
            "serious_crime_prevention",
        ]
        | None
    ) = None
    justification: Annotated[str, StringConstraints(max_length=4000)] | None = None
    data_classes: list[Literal["victim.location", "safety.flags"]] = Field(
        min_length=1, max_length=2
    )
    duration_minutes: int = Field(default=60, ge=1, le=240)


class TransferIn(Strict):
    to_org: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")] = Field(
        description="The victim-services organisation (from the directory) taking the case"
    )


class ReviewIn(Strict):
    outcome: Literal["justified", "not_justified"]
    notes: Text2000 | None = None


# --- answers ------------------------------------------------------------------------------
class VictimRegistered(Body):
    case_id: str
    victim_id: str


class ConsentRecorded(Body):
    consent_id: str


class EmergencyGrantOut(Body):
    """A break-glass grant: read the named data classes with `purpose=emergency` until
    `expires_at`; every read is audited and reviewed."""

    grant_id: str
    expires_at: Moment
    data_classes: list[str]
    read_with: Literal["purpose=emergency"]
    obligations: list[str]


class VictimOut(ReadModel):
    """The victim record as the caller may see it; location, contact details and support
    notes are withheld (absent) unless policy and the victim's consent allow them."""

    case_id: str = withheld()
    victim_id: str = withheld()
    version: int = withheld("The record's version, for If-Match")
    name: str = withheld()
    date_of_birth: Day | None = withheld()
    preferred_contact_method: str = withheld()
    language: str = withheld()
    interpreter_needed: bool = withheld()
    children: Records = withheld()
    address: str | None = withheld()
    safe_contact_number: str | None = withheld()
    refuge: bool = withheld()
    safe_contact_method: str | None = withheld()
    support_notes: Records = withheld()


class ConsentOut(ReadModel):
    consent_id: str = withheld()
    case_id: str = withheld()
    scope: str = withheld()
    status: str = withheld()
    grantor: str = withheld()
    verified_by: str = withheld()
    seen_alone: bool = withheld()
    provisions: Records = withheld()
    lawful_basis: str = withheld()
    history: Records = withheld("granted, refreshed, withdrawn, expired: by whom and when")
    version: int = withheld()


class ConsentSummaryOut(ReadModel):
    case_id: str = withheld()
    participate_active: bool = withheld()
    outcome_active: bool = withheld()
    share_grants: Records = withheld("agency -> data classes it may receive")


class SafetyFlagsOut(ReadModel):
    case_id: str = withheld()
    flags: Records = withheld("Raised flags: code, severity, raised_by, raised_at")
    lawful_basis: str | None = withheld()


class SafetyPlanOut(ReadModel):
    case_id: str = withheld()
    exists: bool = withheld()
    review_date: Day | None = withheld()
    content: str | None = withheld("Never shared outside victim services")


class NotificationOut(ReadModel):
    """An agreement completion or breach (`item_<status>`, `case_completed`: item, status,
    reporting agency), a stop (`case_stopped`: reason) or a court decision (`court_review`:
    decision) to tell the victim; or the victim's own withdrawal in the victim view
    (`victim_withdrew_consent`: consent, scope) for the advocate to know."""

    kind: str = withheld()
    item_id: str | None = withheld()
    status: str | None = withheld()
    reported_by_agency: str | None = withheld()
    case_status: str | None = withheld()
    returned_to: str | None = withheld()
    reason: str | None = withheld()
    decision: str | None = withheld()
    consent_id: str | None = withheld("victim_withdrew_consent: the consent the victim withdrew")
    scope: str | None = withheld("victim_withdrew_consent: its scope")
    source_event_id: str = withheld()
    at: Moment = withheld()
    told_victim: bool = withheld()
    told_by: str | None = withheld()
    told_at: Moment | None = withheld()


class ReviewTaskOut(ReadModel):
    grant_id: str = withheld()
    case_id: str = withheld()
    agency: str = withheld()
    user: str = withheld()
    reason_code: str | None = withheld()
    justification: str | None = withheld()
    data_classes: list[str] = withheld()
    requested_at: Moment = withheld()
    expires_at: Moment = withheld()
    review: dict[str, Any] = withheld("pending, reviewer, outcome, at")


# --- victim view ----------------------------------------------------------------------------
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Sub = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^\S+$")
]


class InvitationCreated(Body):
    """The one-time code: shown to the advocate once, to give to the victim in person. It is
    stored nowhere (only a salted hash), so it cannot be shown again."""

    invitation_id: str
    code: str = Field(description="12 Crockford base32 characters as XXXX-XXXX-XXXX")
    expires_at: Moment


class InvitationOut(ReadModel):
    invitation_id: str = withheld()
    case_id: str = withheld()
    status: Literal["pending", "redeemed", "expired", "revoked"] = withheld()
    created_at: Moment = withheld()
    expires_at: Moment = withheld()
    redeemed_at: Moment | None = withheld()
    account_linked: bool = withheld()
    revoked_at: Moment | None = withheld()


class RedemptionIn(Strict):
    code: Code


class Redeemed(Body):
    invitation_id: str
    username: str = Field(description="Random, e.g. victim-7k3q9x: create the account with it")
    org: str = Field(description="The victim-services organisation: the account's org attribute")


class AccountIn(Strict):
    sub: Sub = Field(description="The new account's subject at the victims' identity provider")


class HelpLine(Body):
    name: str
    number: str
    note: str


class AdvocateContact(Body):
    organisation: str
    how: str


class VictimCaseOut(ReadModel):
    """The victim's own case, in the victim's terms."""

    stage: Literal[
        "referred",
        "being_prepared",
        "conference_arranged",
        "agreement_monitored",
        "stopped",
        "closed",
    ] = withheld()
    stage_changed_at: Moment | None = withheld()
    next_step: str = withheld("What happens next, in plain words")
    supporting_org: str | None = withheld()
    supporting_org_name: str | None = withheld()
    advocate_contact: AdvocateContact = withheld()
    jurisdiction: str | None = withheld()
    tell_me_about_agreement: bool = withheld()
    help: list[HelpLine] = withheld("Emergency and helpline numbers of the jurisdiction")


class VictimConsentOut(ReadModel):
    consent_id: str = withheld()
    scope: str = withheld("participate, share or outcome")
    status: str = withheld("active, withdrawn or expired")
    with_whom: Records = withheld("type (permit/deny), agency, purposes, data_classes, from, until")
    until: Moment | None = withheld()
    granted_at: Moment | None = withheld()
    can_withdraw: bool = withheld()


class VictimAccessOut(ReadModel):
    """One look at the victim's information: which agency and organisation, in which role,
    for which purpose, when; `break_glass` marks an emergency read without consent."""

    at: Moment = withheld()
    agency: str = withheld()
    org: str = withheld()
    role: str = withheld()
    purpose: str = withheld()
    what: str = withheld()
    break_glass: bool = withheld()


class VictimAgreementOut(ReadModel):
    items: Records = withheld("item_id, status (open, completed, breached), due_date")


class VictimWithdrawIn(Strict):
    reason: Text2000 | None = None


class PreferencesIn(Strict):
    tell_me_about_agreement: bool
