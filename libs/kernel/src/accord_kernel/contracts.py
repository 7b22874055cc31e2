"""Versioned integration-event contracts: the published language between agencies.

Every payload field names its data class (SPEC section 4). Events on a service's broadcast
topic may carry only classes that every recipient agency may see; anything else travels
on a policy-routed `accord.share.<agency>` topic, redacted per recipient.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

CORE, RISK_BAND = "case.core", "risk.band"
CONSENT, COMPLIANCE = "consent.summary", "compliance.status"
PLAN_SUMMARY, FLAGS, ITEMS, LOCATION = (
    "safety.plan.summary",
    "safety.flags",
    "agreement.items",
    "victim.location",
)
BROADCAST_CLASSES = frozenset({CORE, RISK_BAND, CONSENT, COMPLIANCE, PLAN_SUMMARY})


def classed(data_class: str, **kwargs: Any) -> Any:
    return Field(json_schema_extra={"data_class": data_class}, **kwargs)


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: ClassVar[str]
    topic: ClassVar[str]
    case_id: str = classed(CORE, min_length=1, max_length=64)

    @classmethod
    def field_classes(cls) -> dict[str, str]:
        return {name: _data_class(f.json_schema_extra) for name, f in cls.model_fields.items()}


def _data_class(extra: object) -> str:
    """The data class that `classed` put on a field ("" for a field without one)."""
    if extra is None:
        return ""
    value = extra.get("data_class", "") if isinstance(extra, dict) else None
    if not isinstance(value, str):
        raise TypeError(f"a field's data_class must be a string given by classed(), not {value!r}")
    return value


def share_topic(agency: str) -> str:
    return f"accord.share.{agency}"


REFERRAL_TOPIC = "accord.referral.events"
VICTIM_SUPPORT_TOPIC = "accord.victim_support.events"
CONFERENCE_TOPIC = "accord.conference.events"
COURT_TOPIC = "accord.court.events"
ACCESS_TOPIC = "accord.audit.access"
DEAD_LETTER_TOPIC = "accord.deadletter"


# --- police: referral service -------------------------------------------------------------
class ReferralSubmitted(Contract):
    type = "accord.referral.submitted.v1"
    topic = REFERRAL_TOPIC
    jurisdiction: str = classed(CORE)
    initiated_by: str = classed(CORE)
    submitted_at: datetime = classed(CORE)
    court_reference: str | None = classed(CORE, default=None)
    referring_org: str = classed(CORE)
    # The case's responsible organisation per agency known at submission (SPEC section 4a):
    # police (the referring force), victim_services, and court where there is a court reference.
    organisations: dict[str, str] = classed(CORE, default_factory=dict)
    deadlines: dict[str, date] = classed(CORE, default_factory=dict)


class ReferralScreened(Contract):
    type = "accord.referral.screened.v1"
    topic = REFERRAL_TOPIC
    outcome: Literal["eligible_direct", "eligible_indirect_only", "ineligible"] = classed(CORE)
    reasons: list[str] = classed(CORE, default_factory=list)
    risk_band: str = classed(RISK_BAND)
    direct_max_band: str | None = classed(CORE, default=None)
    at: datetime = classed(CORE)


class RiskAssessed(Contract):
    type = "accord.referral.risk_assessed.v1"
    topic = REFERRAL_TOPIC
    risk_band: Literal["standard", "medium", "high"] = classed(RISK_BAND)
    at: datetime = classed(CORE)


class IncidentReported(Contract):
    type = "accord.referral.incident_reported.v1"
    topic = REFERRAL_TOPIC
    reassessment_required: bool = classed(CORE)
    at: datetime = classed(CORE)


class ReferralWithdrawn(Contract):
    type = "accord.referral.withdrawn.v1"
    topic = REFERRAL_TOPIC
    reason: str = classed(CORE)
    at: datetime = classed(CORE)


# --- victim services ----------------------------------------------------------------------
class ConsentChanged(Contract):
    """The consent's lifecycle and provisions (who may see which classes): no victim data."""

    type = "accord.victim_support.consent_changed.v1"
    topic = VICTIM_SUPPORT_TOPIC
    consent_id: str = classed(CONSENT)
    scope: Literal["participate", "share", "outcome"] = classed(CONSENT)
    status: Literal["active", "withdrawn", "expired"] = classed(CONSENT)
    party: Literal["victim", "offender"] = classed(CONSENT, default="victim")
    provisions: list[dict[str, Any]] = classed(CONSENT, default_factory=list)
    at: datetime = classed(CORE)


class SafetyPlanChanged(Contract):
    type = "accord.victim_support.safety_plan_changed.v1"
    topic = VICTIM_SUPPORT_TOPIC
    exists: bool = classed(PLAN_SUMMARY)
    review_date: date | None = classed(PLAN_SUMMARY, default=None)
    at: datetime = classed(CORE)


class EmergencyAccessGranted(Contract):
    type = "accord.victim_support.emergency_access_granted.v1"
    topic = VICTIM_SUPPORT_TOPIC
    grant_id: str = classed(CORE)
    agency: str = classed(CORE)
    user: str = classed(CORE)
    data_classes: list[str] = classed(CORE)
    reason_code: str = classed(CORE)
    expires_at: datetime = classed(CORE)


class VictimServicesTransferred(Contract):
    """The case is handed to another victim-services organisation, which is responsible from now."""

    type = "accord.victim_support.transferred.v1"
    topic = VICTIM_SUPPORT_TOPIC
    from_org: str = classed(CORE)
    to_org: str = classed(CORE)
    at: datetime = classed(CORE)


class ShareRevoked(Contract):
    type = "accord.share.revoked.v1"
    topic = "accord.share.{agency}"
    recipient: str = classed(CORE)
    data_classes: list[str] = classed(CORE)
    reason: str = classed(CORE)
    at: datetime = classed(CORE)


# --- RJ provider: conference service ------------------------------------------------------
class ReferralAccepted(Contract):
    type = "accord.conference.referral_accepted.v1"
    topic = CONFERENCE_TOPIC
    provider_org: str = classed(CORE)
    at: datetime = classed(CORE)


class ReferralDeclined(Contract):
    type = "accord.conference.referral_declined.v1"
    topic = CONFERENCE_TOPIC
    provider_org: str = classed(CORE)
    reason: str = classed(CORE)
    at: datetime = classed(CORE)


class FacilitatorsAssigned(Contract):
    """Who facilitates the case: SPEC section 4 opens party identity, offence details and the
    risk assessment to the assigned facilitator, at every service that holds them."""

    type = "accord.conference.facilitators_assigned.v1"
    topic = CONFERENCE_TOPIC
    facilitator_ids: list[str] = classed(CORE)
    at: datetime = classed(CORE)


class CaseStopped(Contract):
    type = "accord.conference.case_stopped.v1"
    topic = CONFERENCE_TOPIC
    reason: str = classed(CORE)
    at: datetime = classed(CORE)


class AgreementMade(Contract):
    type = "accord.conference.agreement_made.v1"
    topic = CONFERENCE_TOPIC
    court_reference: str | None = classed(CORE, default=None)
    items_status: list[dict[str, Any]] = classed(COMPLIANCE)
    outcome_consent_all_parties: bool = classed(CONSENT)
    at: datetime = classed(CORE)


class AgreementItemsShared(Contract):
    """Policy-routed item text (agreement.items), sent to the court only with outcome consent."""

    type = "accord.share.agreement_items.v1"
    topic = "accord.share.{agency}"
    recipient: str = classed(CORE)
    court_reference: str | None = classed(CORE, default=None)
    items_text: list[dict[str, Any]] = classed(ITEMS)
    at: datetime = classed(CORE)


class ItemReported(Contract):
    type = "accord.conference.item_reported.v1"
    topic = CONFERENCE_TOPIC
    item_id: str = classed(CORE)
    status: Literal["completed", "breached"] = classed(COMPLIANCE)
    reported_by_agency: str = classed(CORE)
    court_reference: str | None = classed(CORE, default=None)
    items_status: list[dict[str, Any]] = classed(COMPLIANCE)
    case_status: str = classed(CORE)
    returned_to: str | None = classed(CORE, default=None)
    at: datetime = classed(CORE)


# --- court --------------------------------------------------------------------------------
class ReviewDecided(Contract):
    type = "accord.court.review_decided.v1"
    topic = COURT_TOPIC
    court_reference: str = classed(CORE)
    decision: Literal["compliance_accepted", "returned_for_sentencing", "review_adjourned"] = (
        classed(CORE)
    )
    at: datetime = classed(CORE)


# --- any service -------------------------------------------------------------------------
class CaseChanged(Contract):
    """A change to a case record that no more specific event describes (a conference scheduled,
    a flag raised, a note added): the name of the change and the record's new version, never
    its content, so that every state change of a case reaches the audit log."""

    type = "accord.case.changed.v1"
    topic = "accord.{service}.events"
    service: str = classed(CORE)
    record: str = classed(CORE)
    change: str = classed(CORE)
    version: int = classed(CORE)
    status: str | None = classed(CORE, default=None)
    at: datetime = classed(CORE)


# --- audit --------------------------------------------------------------------------------
class AccessRecorded(Contract):
    """An access decision: ids and field names only, never the values that were read."""

    type = "accord.audit.access_recorded.v1"
    topic = ACCESS_TOPIC
    record_id: str = classed(CORE)
    service: str = classed(CORE)
    user: str = classed(CORE)
    agency: str = classed(CORE)
    role: str = classed(CORE)
    org: str = classed(CORE)
    action: str = classed(CORE)
    resource_type: str = classed(CORE)
    purpose: str = classed(CORE)
    fields_returned: list[str] = classed(CORE)
    fields_withheld: dict[str, str] = classed(CORE)
    lawful_basis: dict[str, str] = classed(CORE)
    decision: str = classed(CORE)
    decision_id: str | None = classed(CORE, default=None)
    break_glass: bool = classed(CORE, default=False)
    justification_ref: str | None = classed(CORE, default=None)
    at: datetime = classed(CORE)


CONTRACTS: dict[str, type[Contract]] = {
    c.type: c
    for c in (
        ReferralSubmitted,
        ReferralScreened,
        RiskAssessed,
        IncidentReported,
        ReferralWithdrawn,
        ConsentChanged,
        SafetyPlanChanged,
        EmergencyAccessGranted,
        VictimServicesTransferred,
        ShareRevoked,
        ReferralAccepted,
        ReferralDeclined,
        FacilitatorsAssigned,
        CaseStopped,
        AgreementMade,
        AgreementItemsShared,
        ItemReported,
        ReviewDecided,
        AccessRecorded,
        CaseChanged,
    )
}


def topic_for(contract: Contract, recipient: str | None = None) -> str:
    if isinstance(contract, CaseChanged):
        return f"accord.{contract.service.replace('-', '_')}.events"
    if "{agency}" in contract.topic:
        if recipient is None:
            raise ValueError(f"{contract.type} is policy-routed: a recipient is required")
        return share_topic(recipient)
    return contract.topic


# --- who publishes what ---------------------------------------------------------------------
SERVICES = ("referral", "victim-support", "conference", "court", "audit")
_TOPIC_OWNERS = {
    REFERRAL_TOPIC: "referral",
    VICTIM_SUPPORT_TOPIC: "victim-support",
    CONFERENCE_TOPIC: "conference",
    COURT_TOPIC: "court",
}
# Where the publisher is not the owner of the event's topic: shares are routed by the service
# that holds the data, every state change without an event of its own is a CaseChanged of its
# service, and every service records the access decisions of its reads.
_PUBLISHED_ELSEWHERE: dict[str, tuple[str, ...]] = {
    ShareRevoked.type: ("conference",),
    AgreementItemsShared.type: ("conference",),
    CaseChanged.type: ("victim-support", "conference"),
    AccessRecorded.type: SERVICES,
}


def publishers(event_type: str) -> tuple[str, ...]:
    """The services whose outbox relays publish `event_type` (the AsyncAPI document's send
    operations; a journey test checks that each event seen on the bus comes from one)."""
    if event_type in _PUBLISHED_ELSEWHERE:
        return _PUBLISHED_ELSEWHERE[event_type]
    return (_TOPIC_OWNERS[CONTRACTS[event_type].topic],)


def version_of(event_type: str) -> int:
    """The major version in an event type's name: `accord.court.review_decided.v1` -> 1."""
    name, _, version = event_type.rpartition(".v")
    if not name or not version.isdigit():
        raise ValueError(f"{event_type} does not end in .v<version>")
    return int(version)
