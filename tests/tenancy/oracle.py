"""The expected answer of every read, written out from SPEC sections 4 and 4a.

Deliberately independent of the code: nothing here is read from `policies/` or from a service.
If the policy data, the catalogue or a route disagrees with this file, the matrix tests fail,
and whichever side is wrong gets fixed. A new field in a response fails the tests until it is
classified here.
"""

from __future__ import annotations

from dataclasses import dataclass

Y, ASSIGNED, CONSENT, NO = "yes", "assigned facilitator", "consent", "no"
OUTCOME = "only with outcome consent from all parties"
AGENCIES = ("police", "victim_services", "rj_provider", "court")

# SPEC section 4, column by column ("never" is a stronger "no": nothing opens it).
SECTION_4: dict[str, dict[str, str]] = {
    "case.core": {"police": Y, "victim_services": Y, "rj_provider": Y, "court": Y},
    "party.identity": {"police": Y, "victim_services": Y, "rj_provider": ASSIGNED, "court": Y},
    "victim.location": {
        "police": CONSENT,
        "victim_services": Y,
        "rj_provider": CONSENT,
        "court": NO,
    },
    "offence.details": {"police": Y, "victim_services": Y, "rj_provider": ASSIGNED, "court": Y},
    "risk.assessment": {"police": Y, "victim_services": Y, "rj_provider": ASSIGNED, "court": NO},
    # "court: band only": the band is shareable with every agency of the case.
    "risk.band": {"police": Y, "victim_services": Y, "rj_provider": Y, "court": Y},
    "safety.flags": {"police": CONSENT, "victim_services": Y, "rj_provider": CONSENT, "court": NO},
    "safety.plan": {"police": NO, "victim_services": Y, "rj_provider": CONSENT, "court": NO},
    # SPEC section 3: a safety plan's existence and review date are shareable facts.
    "safety.plan.summary": {"police": Y, "victim_services": Y, "rj_provider": Y, "court": Y},
    "support.notes": {"police": NO, "victim_services": Y, "rj_provider": NO, "court": NO},
    "consent.summary": {"police": Y, "victim_services": Y, "rj_provider": Y, "court": Y},
    "conference.notes": {"police": NO, "victim_services": NO, "rj_provider": Y, "court": NO},
    "agreement.items": {"police": Y, "victim_services": Y, "rj_provider": Y, "court": OUTCOME},
    "compliance.status": {"police": Y, "victim_services": Y, "rj_provider": Y, "court": Y},
}

CORE, IDENTITY, LOCATION, OFFENCE = (
    "case.core",
    "party.identity",
    "victim.location",
    "offence.details",
)
RISK, BAND, FLAGS, PLAN = "risk.assessment", "risk.band", "safety.flags", "safety.plan"
PLAN_SUMMARY, NOTES, CONSENTS = "safety.plan.summary", "support.notes", "consent.summary"
CONFERENCE, ITEMS, COMPLIANCE = "conference.notes", "agreement.items", "compliance.status"

# What each response field is, in the words of SPEC section 4's examples.
FIELDS: dict[str, dict[str, str]] = {
    "referral": {
        "case_id": CORE,
        "status": CORE,
        "jurisdiction": CORE,
        "initiated_by": CORE,
        "submitted_at": CORE,
        "screened_at": CORE,
        "decided_at": CORE,
        "withdrawn_at": CORE,
        "court_reference": CORE,
        "eligibility": CORE,
        "eligibility_reasons": CORE,
        "deadlines": CORE,
        "overdue": CORE,
        "decided_by": CORE,
        "decline_reason": CORE,
        "withdrawn_reason": CORE,
        "version": CORE,
        "reassessment_required": CORE,
        "victim_name": IDENTITY,
        "victim_date_of_birth": IDENTITY,
        "offender_name": IDENTITY,
        "offender_date_of_birth": IDENTITY,
        "incident_date": OFFENCE,
        "incident_summary": OFFENCE,
        "offence_type": OFFENCE,
        "offender_acknowledged": OFFENCE,
        "guilty_plea": OFFENCE,
        "incidents": OFFENCE,
        "risk_band": BAND,
        "risk_score": RISK,
        "dash_answers": RISK,
        "red_flags": RISK,
        "professional_judgement": RISK,
        "risk_history": RISK,
    },
    "victim_record": {
        "case_id": CORE,
        "victim_id": CORE,
        "version": CORE,
        "name": IDENTITY,
        "date_of_birth": IDENTITY,
        "preferred_contact_method": IDENTITY,
        "language": IDENTITY,
        "interpreter_needed": IDENTITY,
        "children": IDENTITY,
        "address": LOCATION,
        "safe_contact_number": LOCATION,
        "refuge": LOCATION,
        "safe_contact_method": LOCATION,
        "support_notes": NOTES,
    },
    "safety_flags": {"case_id": CORE, "lawful_basis": CORE, "flags": FLAGS},
    "safety_plan": {
        "case_id": CORE,
        "exists": PLAN_SUMMARY,
        "review_date": PLAN_SUMMARY,
        "content": PLAN,
    },
    "consent_summary": {
        "case_id": CORE,
        "participate_active": CONSENTS,
        "outcome_active": CONSENTS,
        "share_grants": CONSENTS,
    },
    "consent": {
        "case_id": CORE,
        "version": CORE,
        "consent_id": CONSENTS,
        "scope": CONSENTS,
        "status": CONSENTS,
        "grantor": CONSENTS,
        "verified_by": CONSENTS,
        "seen_alone": CONSENTS,
        "provisions": CONSENTS,
        "lawful_basis": CONSENTS,
        "history": CONSENTS,
    },
    "rj_case": {
        "case_id": CORE,
        "status": CORE,
        "stage": CORE,
        "modality": CORE,
        "jurisdiction": CORE,
        "opened_at": CORE,
        "stop_reason": CORE,
        "suspended": CORE,
        "facilitator_id": CORE,
        "co_facilitator_id": CORE,
        "gate": CORE,
        "conference_at": CORE,
        "version": CORE,
        "reassessment_required": CORE,
        "risk_band": BAND,
        "participate_consent_active": CONSENTS,
        "offender_consent": CONSENTS,
        "agreement_consents": CONSENTS,
        "preparation": CONFERENCE,
        "conference_notes": CONFERENCE,
        "agreement_items": ITEMS,
        "compliance": COMPLIANCE,
    },
    "intake": {
        "case_id": CORE,
        "status": CORE,
        "jurisdiction": CORE,
        "eligibility": CORE,
        "received_at": CORE,
        "reassessment_required": CORE,
        "risk_band": BAND,
    },
    "court_case": {
        "case_id": CORE,
        "court_reference": CORE,
        "decisions": CORE,
        "version": CORE,
        "items_status": COMPLIANCE,
        "items_text": ITEMS,
    },
}


@dataclass(frozen=True)
class Reader:
    """A user as the matrix sees them: agency, role, and how they stand to the case."""

    agency: str
    role: str
    relation: str  # "own" organisation, "other" organisation, or for facilitators "unassigned"

    @property
    def label(self) -> str:
        return f"{self.agency}/{self.role}/{self.relation}"


def allowed_classes(reader: Reader, outcome_consent: bool = False) -> set[str]:
    """SPEC section 4 for purpose case_management, a standard-risk case, no share consent, no
    break-glass: the classes this reader may see of a case of their own organisation."""
    found = set()
    for data_class, column in SECTION_4.items():
        cell = column.get(reader.agency, NO)
        if (
            cell == Y
            or (cell == ASSIGNED and reader.relation == "own" and reader.role == "facilitator")
            or (cell == OUTCOME and outcome_consent)
        ):
            found.add(data_class)
    return found


def expected_read(
    reader: Reader,
    resource_type: str,
    route_agencies: frozenset[str] | None,
    outcome_consent: bool = False,
) -> tuple[int, set[str]]:
    """(status, fields) for a single read. Route agencies None means every agency may ask."""
    if route_agencies is not None and reader.agency not in route_agencies:
        return 403, set()
    if reader.agency == "audit":
        return 403, set()  # privacy officers read the audit trail, never case content
    if reader.relation == "other":
        return 404, set()  # SPEC 4a: for anyone else the case does not exist
    classes = allowed_classes(reader, outcome_consent)
    fields = {f for f, c in FIELDS[resource_type].items() if c in classes}
    return (200, fields) if fields else (403, set())
