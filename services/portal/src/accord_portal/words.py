"""Codes the services return, in the plain words the pages show.

The DASH questions are the referral service's (accord_referral.domain.dash.QUESTIONS, the
SafeLives 24-question checklist). The portal keeps a copy, because it is deployed without the
referral service's code; tests/portal/test_words.py fails if the two ever differ. The hints are
the portal's: short prompts for the officer asking the questions.
"""

from __future__ import annotations

from accord_referral.domain import dash

STATUS = {
    "submitted": "Submitted",
    "eligible_direct": "Eligible (direct or indirect)",
    "eligible_indirect_only": "Eligible (indirect only)",
    "ineligible": "Not eligible",
    "accepted": "Accepted by a provider",
    "declined": "Declined by a provider",
    "withdrawn": "Withdrawn",
}
STATUS_TAG = {
    "submitted": "govuk-tag--grey",
    "eligible_direct": "govuk-tag--green",
    "eligible_indirect_only": "govuk-tag--turquoise",
    "ineligible": "govuk-tag--orange",
    "accepted": "govuk-tag--blue",
    "declined": "govuk-tag--yellow",
    "withdrawn": "govuk-tag--grey",
}
ELIGIBILITY_REASONS = {
    "unknown_jurisdiction": "The jurisdiction is not one Accord knows",
    "rj_not_permitted_in_jurisdiction": (
        "Restorative justice in domestic abuse is not permitted in this jurisdiction"
    ),
    "offender_initiated": "The person who caused harm cannot start restorative justice",
    "initiator_not_permitted": "In this jurisdiction only the harmed person, or someone on "
    "their behalf, can ask for restorative justice",
    "no_acknowledgement_of_responsibility": (
        "The person who caused harm has not acknowledged responsibility"
    ),
    "no_guilty_plea": "This jurisdiction requires a guilty plea",
    "unknown_risk_band": "The risk band is not known",
    "risk_too_high_for_direct": "The risk is too high for face-to-face restorative justice",
}
DEADLINES = {
    "victim_information_due": "Information about restorative justice to the victim",
    "victim_support_referral_due": "Referral to victim support",
}
INITIATORS = {
    "victim": "The victim",
    "victim_advocate": "A victim's advocate, on the victim's behalf",
    "police": "Police",
    "court": "A court",
    "offender": "The person who caused harm",
}
JURISDICTIONS = {
    "england-wales": "England and Wales",
    "scotland": "Scotland",
    "new-zealand": "New Zealand",
    "nova-scotia": "Nova Scotia",
}
BANDS = {"standard": "Standard", "medium": "Medium", "high": "High"}
# Data classes (policies/accord/catalogue), for "Withheld" messages.
DATA_CLASSES = {
    "case.core": "case details",
    "party.identity": "names and dates of birth",
    "victim.location": "the victim's location",
    "offence.details": "offence details",
    "risk.assessment": "the risk assessment answers and score",
    "risk.band": "the risk band",
    "safety.flags": "safety flags",
    "safety.plan": "the safety plan",
    "consent.summary": "consents",
    "agreement.items": "agreement items",
    "compliance.status": "compliance status",
}
WITHHELD_REASONS = {
    "never_for_agency": "Your agency never sees this",
    "purpose_forbidden": "Not shared for this purpose",
    "no_consent": "The victim has not consented to share this with your agency",
}


def withheld_reason(data_class: str, reason: str | None = None) -> str:
    if reason and reason in WITHHELD_REASONS:
        return WITHHELD_REASONS[reason]
    what = DATA_CLASSES.get(data_class, "this information")
    return f"Withheld by policy: {what} is not shared with you for this purpose"


# The questions and red flags are the referral service's own (its pure domain module, which
# imports no framework), so the form always asks exactly what the service scores.
QUESTIONS = dash.QUESTIONS
RED_FLAGS = dash.RED_FLAG_CODES
HINTS = {
    "current_injury": "Include injuries that cannot be seen, and any that needed treatment.",
    "very_frightened": "Ask in their own words; record their answer, not your view.",
    "afraid_of_further_injury": "Fear of further violence to them, children or others.",
    "isolated": "Being kept from family, friends, a GP or other support.",
    "feeling_depressed": "If yes, follow your force's procedure for suicide risk.",
    "separation": "Red flag. Separation is a time of higher risk.",
    "conflict_over_child_contact": "Disputes over contact can be used to keep control.",
    "stalking_harassment": "Red flag. Include messages, calls, following and online contact.",
    "pregnant_or_recent_birth": "Abuse often starts or gets worse in pregnancy.",
    "abuse_more_often": "Red flag. Escalation in how often it happens.",
    "abuse_getting_worse": "Red flag. Escalation in how serious it is.",
    "controlling_jealous": "Coercive control: checking, restricting, extreme jealousy.",
    "weapons_used": "Any object used to hurt them counts as a weapon.",
    "threats_to_kill": "Red flag. Only if they believed the threat.",
    "attempted_strangulation": "Red flag. Strangulation strongly predicts homicide.",
    "sexual_abuse": "Ask sensitively; they do not have to give details.",
    "other_person_threatened": "For example family members acting for the abuser.",
    "hurt_others": "Children, other family members, previous partners or others.",
    "hurt_animals": "Harm or threats to pets can be used to control.",
    "financial_issues": "Economic dependence, debt or a recent job loss.",
    "substance_misuse_mental_health": "In the past year, and causing problems in daily life.",
    "threats_of_suicide": "Threats of suicide can be used to control and raise the risk.",
    "breached_bail_or_order": "Bail conditions, injunctions or contact arrangements.",
    "criminal_history": "Any history, not only for domestic abuse.",
}


# Safety flags (victim-support FlagIn codes) and their severities, in words.
SAFETY_FLAGS = {
    "strangulation_history": "History of strangulation",
    "threats_to_kill": "Threats to kill",
    "stalking": "Stalking",
    "weapon_access": "Access to weapons",
    "children_at_risk": "Children at risk",
    "protective_order_in_force": "Protective order in force",
    "address_confidential": "Address confidential",
}
SEVERITIES = {"low": "Low", "medium": "Medium", "high": "High"}


# --- Victim-services advocate (advocate.py) ------------------------------------------------
CONSENT_SCOPES = {
    "participate": "Taking part in restorative justice",
    "share": "Sharing information with another agency",
    "outcome": "Sharing the outcome",
}
CONSENT_SCOPE_HINTS = {
    "participate": "The victim agrees to take part. Restorative justice stops if this is "
    "withdrawn.",
    "share": "The victim agrees that an agency may see some of their information, for a purpose "
    "and a period.",
    "outcome": "The victim agrees that the outcome agreement may be shared.",
}
CONSENT_STATUS = {"active": "Active", "withdrawn": "Withdrawn", "expired": "Expired"}
CONSENT_STATUS_TAG = {
    "active": "govuk-tag--green",
    "withdrawn": "govuk-tag--grey",
    "expired": "govuk-tag--yellow",
}
CONSENT_HISTORY = {
    "granted": "Given",
    "refreshed": "Extended",
    "withdrawn": "Withdrawn",
    "expired": "Expired",
}
PROVISION_TYPES = {"permit": "Allow", "deny": "Do not allow"}
# Agencies a provision can name (the victim's own victim-services organisation needs none).
CONSENT_AGENCIES = {
    "police": "Police",
    "rj_provider": "Restorative justice provider",
    "court": "Court",
}
AGENCIES = {
    **CONSENT_AGENCIES,
    "victim_services": "Victim services",
    "audit": "Privacy office",
}
ROLES = {
    "officer": "Officer",
    "supervisor": "Supervisor",
    "advocate": "Advocate",
    "coordinator": "Coordinator",
    "facilitator": "Facilitator",
    "clerk": "Clerk",
    "judge": "Judge",
    "privacy_officer": "Privacy officer",
}
PURPOSES = {
    "case_management": "Managing the case",
    "safeguarding": "Safeguarding",
    "compliance_review": "Checking an agreement is kept",
    "offender_communication": "Writing to the person who caused harm",
    "emergency": "Emergency access",
    "audit": "Audit",
}
# Purposes a consent can sensibly name; the others are never opened by consent.
CONSENT_PURPOSES = ("case_management", "safeguarding", "compliance_review")
# Data classes whose sharing the victim's consent governs (SPEC section 4).
CONSENT_CLASSES = {
    "victim.location": "Where the victim lives and how to reach them safely",
    "safety.flags": "Safety flags",
    "safety.plan": "The safety plan",
}
LAWFUL_BASES = {
    "consent": "The victim's consent",
    "safeguarding": "Safeguarding",
    "legal_obligation": "A legal obligation",
    "vital_interests": "To protect someone's life",
    "public_task": "A public task",
}
CONTACT_METHODS = {
    "phone": "Phone call",
    "sms": "Text message",
    "email": "Email",
    "letter": "Letter",
    "in_person": "In person",
    "via_advocate": "Only through their advocate",
}
# What was read, in the victim's access log (resource types of the victim-support service).
RESOURCE_TYPES = {
    "victim_record": "Victim's details",
    "consent": "Consents",
    "consent_summary": "Which consents are active",
    "safety_flags": "Safety flags",
    "safety_plan": "Safety plan",
    "safety_plan_summary": "Whether a safety plan exists",
    "victim_notifications": "Updates for the victim",
    "emergency_review": "Emergency access review",
    "share_ledger": "Record of sharing",
}
ACCESS_DECISIONS = {"permit": "Shown", "deny": "Refused"}


# --- RJ provider: coordinator, facilitator, supervisor (rj.py) ------------------------------
INTAKE_STATUS = {
    "received": "Waiting for the police's eligibility decision",
    "eligible_direct": "Eligible (direct or indirect)",
    "eligible_indirect_only": "Eligible (indirect only)",
    "ineligible": "Not eligible",
    "accepted": "Accepted",
    "declined": "Declined",
    "withdrawn": "Withdrawn by the police",
}
INTAKE_STATUS_TAG = {
    "received": "govuk-tag--grey",
    "eligible_direct": "govuk-tag--green",
    "eligible_indirect_only": "govuk-tag--turquoise",
    "ineligible": "govuk-tag--orange",
    "accepted": "govuk-tag--blue",
    "declined": "govuk-tag--yellow",
    "withdrawn": "govuk-tag--grey",
}
RJ_STATUS = {
    "open": "Open: no facilitator assigned yet",
    "preparing": "Preparing",
    "scheduled": "Conference scheduled",
    "conference_held": "Conference held",
    "agreement": "Agreement being drafted",
    "monitoring": "Agreement being monitored",
    "completed": "Completed",
    "returned": "Returned after a breach",
    "stopped": "Stopped",
    "suspended": "Suspended",
}
RJ_STATUS_TAG = {
    "open": "govuk-tag--grey",
    "preparing": "govuk-tag--light-blue",
    "scheduled": "govuk-tag--blue",
    "conference_held": "govuk-tag--purple",
    "agreement": "govuk-tag--purple",
    "monitoring": "govuk-tag--turquoise",
    "completed": "govuk-tag--green",
    "returned": "govuk-tag--orange",
    "stopped": "govuk-tag--red",
    "suspended": "govuk-tag--yellow",
}
STOP_REASONS = {
    "victim_withdrew": "The victim withdrew",
    "coercion_suspected": "Coercion is suspected",
    "continuing_violence": "Violence is continuing",
    "risk_escalated": "The risk has escalated",
    "offender_withdrew": "The person who caused harm withdrew",
    "facilitator_judgement": "The facilitator's professional judgement",
}
MODALITIES = {
    "direct": "Face to face (direct)",
    "shuttle": "Shuttle communication through the facilitator (indirect)",
    "letter": "Letters (indirect)",
}
PARTICIPANTS = {
    "victim": "The victim",
    "offender": "The person who caused harm",
    "victim_support_person": "The victim's support person",
    "offender_support_person": "The support person of the person who caused harm",
}
PARTIES = {"victim": "The victim", "offender": "The person who caused harm"}
ITEM_OWNERS = {
    "offender": "The person who caused harm",
    "victim": "The victim",
    "other": "Someone else",
}
MONITORING_AGENCIES = {
    "rj_provider": "Restorative justice provider",
    "police": "Police",
    "court": "Court",
    "victim_services": "Victim services",
}
ITEM_STATUS = {"open": "Open", "completed": "Completed", "breached": "Breached"}
ITEM_STATUS_TAG = {
    "open": "govuk-tag--grey",
    "completed": "govuk-tag--green",
    "breached": "govuk-tag--red",
}
FACILITATOR_ROLES = {"lead": "Lead facilitator", "co": "Co-facilitator"}
# Each gate condition (conference service, RJCase.direct_gate_failures): what must hold, and
# what is wrong when it does not. Direct order is the service's; indirect is its subset.
GATE_CONDITIONS = {
    "no_endorsed_facilitator": (
        "A facilitator with a valid family-violence endorsement is assigned",
        "No assigned facilitator holds a family-violence endorsement valid today and on the "
        "conference day",
    ),
    "victim_participate_consent_inactive": (
        "The victim's consent to take part is active",
        "The victim has no active consent to take part (victim services record it)",
    ),
    "offender_consent_missing": (
        "The person who caused harm has consented",
        "The consent of the person who caused harm is not recorded",
    ),
    "victim_preparation_missing": (
        "The victim's preparation meeting is recorded",
        "No preparation meeting with the victim is recorded",
    ),
    "offender_preparation_missing": (
        "The preparation meeting with the person who caused harm is recorded",
        "No preparation meeting with the person who caused harm is recorded",
    ),
    "coercion_screen_not_passed": (
        "The victim passed the coercion screen",
        "The victim's latest preparation meeting does not record a passed coercion screen",
    ),
    "victim_not_seen_alone": (
        "The victim was seen alone",
        "The victim's latest preparation meeting does not record that they were seen alone",
    ),
    "risk_band_above_direct_limit": (
        "The risk band is within the limit for meeting face to face",
        "The current risk band is above this jurisdiction's limit for meeting face to face",
    ),
    "reassessment_required": (
        "The risk has been reassessed since the latest incident",
        "A new incident was reported and the police have not reassessed the risk yet",
    ),
    "no_safety_plan": (
        "A safety plan is in place on the conference day",
        "No safety plan is in place (none recorded, or it is due for review before the "
        "conference day)",
    ),
    "eligibility_indirect_only": (
        "The referral is eligible for meeting face to face",
        "The referral is eligible for indirect restorative justice only",
    ),
}
GATE_INDIRECT = (
    "no_endorsed_facilitator",
    "victim_participate_consent_inactive",
    "offender_consent_missing",
    "victim_preparation_missing",
    "coercion_screen_not_passed",
    "reassessment_required",
)
# Why the policy kept back a field of an RJ case (the policy's refusal codes).
RJ_WITHHELD_REASONS = {
    "not_assigned_facilitator": "Only the facilitators assigned to this case see this",
    "consent_denied": "The victim has not consented to share this with your organisation",
    "no_consent": "The victim has not consented to share this with your organisation",
    "purpose_forbidden": "Not shared for this purpose",
    "never_for_agency": "Your agency never sees this",
}


# --- Court clerk and judge (court.py) -------------------------------------------------------
COURT_DECISIONS = {
    "compliance_accepted": "Compliance accepted",
    "returned_for_sentencing": "Returned for sentencing",
    "review_adjourned": "Review adjourned",
}
COURT_DECISION_HINTS = {
    "compliance_accepted": "The agreement has been kept well enough. This closes the review.",
    "returned_for_sentencing": "The agreement has not been kept. This closes the review.",
    "review_adjourned": "Look again later. The review stays open.",
}
COURT_REVIEW_STATUS = {
    "awaiting_review": "Awaiting review",
    "compliance_accepted": "Compliance accepted",
    "returned_for_sentencing": "Returned for sentencing",
}
COURT_REVIEW_STATUS_TAG = {
    "awaiting_review": "govuk-tag--blue",
    "compliance_accepted": "govuk-tag--green",
    "returned_for_sentencing": "govuk-tag--orange",
}
# Why the agreement text is not on the court's page (SPEC section 4: outcome consent).
COURT_TEXT_WITHHELD = (
    "Not every party has consented to share the agreement with the court, so the court sees "
    "only whether each item is kept"
)
COURT_TEXT_NOT_RECEIVED = (
    "Every party may share the agreement with the court, but its text has not reached the court yet"
)


# --- Privacy officer (privacy.py) and supervisors' emergency access (emergency.py) -----------
ACCESS_ACTIONS = {"read": "Read", "list": "Listed", "write": "Changed"}
SERVICES = {
    "referral": "Police referrals",
    "victim-support": "Victim services",
    "conference": "Restorative justice provider",
    "court": "Court",
    "audit": "Audit log",
}
# What was read, across every service (resource types of the policy catalogue).
AUDIT_RESOURCE_TYPES = {
    **RESOURCE_TYPES,
    "referral": "Referral",
    "intake": "Intake entry",
    "rj_case": "Restorative justice case",
    "facilitator": "Facilitator",
    "court_case": "Court case",
    "audit_entry": "Audit log entries",
}
EVENT_TYPES = {
    "accord.referral.submitted.v1": "Referral submitted",
    "accord.referral.screened.v1": "Eligibility decided",
    "accord.referral.risk_assessed.v1": "Risk assessed",
    "accord.referral.incident_reported.v1": "New incident reported",
    "accord.referral.withdrawn.v1": "Referral withdrawn",
    "accord.victim_support.consent_changed.v1": "Consent changed",
    "accord.victim_support.safety_plan_changed.v1": "Safety plan changed",
    "accord.victim_support.emergency_access_granted.v1": "Emergency access granted",
    "accord.victim_support.transferred.v1": "Case handed to another victim-services organisation",
    "accord.share.revoked.v1": "Sharing revoked",
    "accord.conference.referral_accepted.v1": "Accepted by a restorative justice provider",
    "accord.conference.referral_declined.v1": "Declined by a restorative justice provider",
    "accord.conference.facilitators_assigned.v1": "Facilitators assigned",
    "accord.conference.case_stopped.v1": "Restorative justice stopped",
    "accord.conference.agreement_made.v1": "Outcome agreement made",
    "accord.share.agreement_items.v1": "Agreement shared with the court",
    "accord.conference.item_reported.v1": "Agreement item reported",
    "accord.court.review_decided.v1": "Court review decided",
    "accord.case.changed.v1": "Case changed",
    "accord.audit.access_recorded.v1": "Access recorded",
}
BREAK_GLASS_REASONS = {
    "imminent_risk_to_life": "Someone's life is at immediate risk",
    "missing_person": "The victim or a child is missing",
    "safeguarding_child": "A child needs to be safeguarded now",
    "serious_crime_prevention": "To prevent a serious crime",
}
BREAK_GLASS_CLASSES = {
    "victim.location": "Where the victim is: address, safe contact number and refuge",
    "safety.flags": "Safety flags",
}
# Time limits a supervisor may choose (minutes; the service allows at most 240).
BREAK_GLASS_DURATIONS = {
    "30": "30 minutes",
    "60": "1 hour",
    "120": "2 hours",
    "240": "4 hours (the longest allowed)",
}
REVIEW_OUTCOMES = {
    "justified": "Justified",
    "not_justified": "Not justified",
}
REVIEW_OUTCOME_HINTS = {
    "justified": "The reason and justification support using emergency access.",
    "not_justified": "Emergency access should not have been used. Victim services and the "
    "supervisor's agency will need to follow this up.",
}
POLICY_REFUSALS = {
    **WITHHELD_REASONS,
    **RJ_WITHHELD_REASONS,
    "other_organisation": "Another organisation's case",
    "wrong_agency": "Not for this agency",
    "outcome_consent_missing": "Not every party consented to share the outcome",
    "unclassified_field": "A field the policy does not know",
    "emergency_grant_invalid": "No emergency access in force for this",
    "purpose_not_permitted": "Not allowed for this purpose",
    "audit_reads_no_case_content": "Audit never reads case content",
    "not_permitted": "Not permitted",
    "unknown_purpose": "An unknown purpose",
    "unknown_role": "An unknown role",
    "unknown_agency": "An unknown agency",
    "unknown_action": "An unknown action",
    "unknown_resource": "An unknown kind of record",
}
LAWFUL_BASIS_WORDS = {
    **LAWFUL_BASES,
    "public_task": "A public task",
    "emergency": "Emergency access",
}


# --- Victim view (victim.py) and the advocate's invitations ---------------------------------
# The victim's own words: short sentences, no jargon, never "victim" on a page they see (the
# phone may be read over their shoulder). Each value goes through the victim view's message
# catalogue (victim.py's `_`), so these English strings are the message ids: mark them with
# `N_` so that `pybabel extract -k N_` finds them.


def N_(message: str) -> str:  # gettext's name for "translate later"
    return message


VICTIM_STAGES = {
    "referred": N_("Your support service has your case"),
    "being_prepared": N_("Getting ready"),
    "conference_arranged": N_("A meeting is arranged"),
    "agreement_monitored": N_("An agreement was made"),
    "stopped": N_("Stopped"),
    "closed": N_("Finished"),
}
VICTIM_NEXT_STEPS = {
    "referred": N_(
        "Your support worker will talk to you about what you want. Nothing happens unless you"
        " choose it."
    ),
    "being_prepared": N_(
        "Someone is getting everyone ready. They will meet you on your own first. You can stop"
        " at any time."
    ),
    "conference_arranged": N_(
        "Your support worker will tell you when and where. They can come with you."
    ),
    "agreement_monitored": N_("We check that the agreement is kept."),
    "stopped": N_("This has stopped. Your support service is still here for you."),
    "closed": N_("This has finished. Your support service is still here for you."),
}
VICTIM_SCOPES = {
    "participate": N_("To take part"),
    "share": N_("To share what you told us"),
    "outcome": N_("To share how it ended"),
}
VICTIM_CONSENT_STATUS = {
    "active": N_("On"),
    "withdrawn": N_("Stopped"),
    "expired": N_("Ended"),
}
VICTIM_CONSENT_STATUS_TAG = {
    "active": "govuk-tag--green",
    "withdrawn": "govuk-tag--grey",
    "expired": "govuk-tag--grey",
}
VICTIM_AGENCIES = {
    "police": N_("Police"),
    "victim_services": N_("Your support service"),
    "rj_provider": N_("The people who run the meeting"),
    "court": N_("Court"),
    "audit": N_("Privacy team"),
}
VICTIM_ROLES = {
    "officer": N_("Officer"),
    "supervisor": N_("Manager"),
    "advocate": N_("Support worker"),
    "coordinator": N_("Organiser"),
    "facilitator": N_("Meeting leader"),
    "clerk": N_("Court staff"),
    "judge": N_("Judge"),
    "privacy_officer": N_("Privacy officer"),
}
VICTIM_PURPOSES = {
    "case_management": N_("To run your case"),
    "safeguarding": N_("To keep you safe"),
    "compliance_review": N_("To check the agreement is kept"),
    "offender_communication": N_("To write to the other person"),
    "emergency": N_("Emergency"),
    "audit": N_("To check the rules are kept"),
}
VICTIM_DATA_CLASSES = {
    "victim.location": N_("Where you live and how to reach you"),
    "safety.flags": N_("Risks to your safety"),
    "safety.plan": N_("Your safety plan"),
}
VICTIM_WHAT = {
    "victim_record": N_("Your details"),
    "safety_flags": N_("Risks to your safety"),
    "safety_plan": N_("Your safety plan"),
    "consent": N_("Your choices"),
    "consent_summary": N_("Your choices"),
    "victim_notifications": N_("News for you"),
}
VICTIM_ITEM_STATUS = {
    "open": N_("Not done yet"),
    "completed": N_("Done"),
    "breached": N_("Not kept"),
}
VICTIM_ITEM_STATUS_TAG = {
    "open": "govuk-tag--blue",
    "completed": "govuk-tag--green",
    "breached": "govuk-tag--red",
}
# The advocate's list of invitations (staff words: no catalogue needed).
INVITATION_STATUS = {
    "pending": "Code given, not used yet",
    "redeemed": "Code used",
    "expired": "Expired",
    "revoked": "Access ended",
}
INVITATION_STATUS_TAG = {
    "pending": "govuk-tag--blue",
    "redeemed": "govuk-tag--green",
    "expired": "govuk-tag--grey",
    "revoked": "govuk-tag--grey",
}
