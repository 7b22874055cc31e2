# The one access decision every service asks before it returns or shares case data.
# SPEC section 4 is encoded in `routes` and `never`; everything not routed is denied.
package accord.access

import data.accord.catalogue
import data.accord.organisations

# Single request: {subject, action, purpose, now, resource, case}.
decision := decide(input)

# One OPA round trip for a list endpoint. Items carry only resource and case, so an item can never
# speak for a different subject, purpose or time than the request it belongs to.
batch := [decide(request) |
	some item in input.items
	request := {
		"subject": object.get(input, "subject", {}),
		"action": object.get(input, "action", null),
		"purpose": object.get(input, "purpose", null),
		"now": object.get(input, "now", null),
		"resource": object.get(as_object(item), "resource", {}),
		"case": object.get(as_object(item), "case", {}),
	}
]

agency_roles := {
	"police": {"officer", "supervisor", "service"},
	"victim_services": {"advocate", "supervisor", "service", "enrolment"},
	"rj_provider": {"coordinator", "facilitator", "supervisor", "service"},
	"court": {"clerk", "judge", "service"},
	"audit": {"privacy_officer", "service"},
	# The harmed person in the victim view: reads only their own case's victim-facing view.
	"victim": {"victim"},
}

# What a victim may read: the victim-facing view of the one case their account is linked to.
victim_resources := {"victim_view", "victim_consent", "victim_access_entry", "victim_agreement"}

purposes := {
	"case_management",
	"safeguarding",
	"compliance_review",
	"offender_communication",
	"emergency",
	"audit",
}

actions := {"read", "share"}

# Letters and exports reach the person who caused harm, so these classes never go into them,
# whatever consent or emergency access would otherwise allow.
offender_forbidden_classes := {"victim.location", "safety.plan", "safety.flags", "support.notes"}

# Break-glass exists to find and protect the victim; it never opens anything else.
emergency_classes := {"victim.location", "safety.flags"}

# The cells SPEC section 4 marks "never": no consent, grant or purpose opens them, and the
# refusal says so rather than suggesting that consent would help.
never := {"court": {"victim.location", "support.notes", "conference.notes"}}

# For each data class and agency, the lawful routes in order of preference. A missing cell is
# "no". The first route that holds supplies the lawful basis, so the least intrusive basis is
# recorded when several hold (consent before statutory safeguarding before break-glass).
# Break-glass follows the table of SPEC section 4 strictly: only the police column names
# emergency access, so an RJ provider reaches location and flags by consent alone.
routes := {
	"case.core": {
		"police": ["public_task"],
		"victim_services": ["public_task"],
		"rj_provider": ["public_task"],
		"court": ["public_task"],
		"audit": ["public_task"],
		"victim": ["data_subject"],
	},
	"party.identity": {
		"police": ["public_task"],
		"victim_services": ["public_task"],
		"rj_provider": ["assigned_facilitator"],
		"court": ["public_task"],
	},
	"victim.location": {
		"police": ["consent", "emergency"],
		"victim_services": ["public_task"],
		"rj_provider": ["consent_for_case_management"],
	},
	"offence.details": {
		"police": ["public_task"],
		"victim_services": ["public_task"],
		"rj_provider": ["assigned_facilitator"],
		"court": ["public_task"],
	},
	"risk.assessment": {
		"police": ["public_task"],
		"victim_services": ["public_task"],
		"rj_provider": ["assigned_facilitator"],
	},
	"risk.band": {
		"police": ["public_task"],
		"victim_services": ["public_task"],
		"rj_provider": ["public_task"],
		"court": ["public_task"],
	},
	"safety.flags": {
		"police": ["consent", "safeguarding", "emergency"],
		"victim_services": ["public_task"],
		"rj_provider": ["consent"],
	},
	"safety.plan": {
		"victim_services": ["public_task"],
		"rj_provider": ["consent"],
	},
	"safety.plan.summary": {
		"police": ["public_task"],
		"victim_services": ["public_task"],
		"rj_provider": ["public_task"],
		"court": ["public_task"],
	},
	"support.notes": {"victim_services": ["public_task"]},
	"consent.summary": {
		"police": ["public_task"],
		"victim_services": ["public_task"],
		"rj_provider": ["public_task"],
		"court": ["public_task"],
		"victim": ["data_subject"],
	},
	"conference.notes": {"rj_provider": ["public_task"]},
	"agreement.items": {
		"police": ["public_task"],
		"victim_services": ["public_task"],
		"rj_provider": ["public_task"],
		"court": ["outcome_consent"],
	},
	"compliance.status": {
		"police": ["public_task"],
		"victim_services": ["public_task"],
		"rj_provider": ["public_task"],
		"court": ["public_task"],
		"victim": ["data_subject"],
	},
}

consent_routes := {"consent", "consent_for_case_management"}

decide(request) := {
	"allowed_fields": sort(allowed),
	"withheld": withheld,
	"lawful_basis": lawful_basis,
	"obligations": sort(obligations(ctx, lawful_basis)),
	"break_glass": "emergency" in {basis | some basis in lawful_basis},
	"decision": verdict(allowed),
} if {
	ctx := context(as_object(request))
	rulings := field_rulings(ctx)
	allowed := {field | some field, ruling in rulings; ruling.allowed}
	withheld := {field: ruling.reason | some field, ruling in rulings; not ruling.allowed}
	lawful_basis := {ruling.class: ruling.basis | some ruling in rulings; ruling.allowed}
}

verdict(allowed) := "permit" if count(allowed) > 0

else := "deny"

# Everything the rules need, with absent or malformed parts replaced by empty values so that the
# decision stays defined (and denying) for any request shape.
context(request) := {
	"agency": object.get(subject, "agency", null),
	"role": object.get(subject, "role", null),
	"user": object.get(subject, "user", null),
	"action": object.get(request, "action", null),
	"purpose": object.get(request, "purpose", null),
	"now_ns": instant(object.get(request, "now", null)),
	"resource_type": object.get(resource, "type", null),
	"fields": {field | some field in as_array(object.get(resource, "fields", [])); is_string(field)},
	"assigned_facilitators": as_array(object.get(resource, "assigned_facilitators", [])),
	"risk_band": object.get(case_facts, "risk_band", null),
	"provisions": [p | some p in as_array(object.get(case_facts, "consent_provisions", [])); is_object(p)],
	"outcome_consent_all_parties": object.get(case_facts, "outcome_consent_all_parties", false),
	"grant": as_object(object.get(case_facts, "emergency_grant", {})),
	"org": object.get(subject, "org", null),
	"responsible": as_object(object.get(case_facts, "responsible", {})),
	"jurisdiction": object.get(case_facts, "jurisdiction", null),
	"victim_accounts": as_array(object.get(case_facts, "victim_accounts", [])),
} if {
	subject := as_object(object.get(request, "subject", {}))
	resource := as_object(object.get(request, "resource", {}))
	case_facts := as_object(object.get(request, "case", {}))
}

# An unknown subject, purpose or action withholds every field for that one reason; otherwise
# each data class is ruled on once, however many of its fields were asked for.
field_rulings(ctx) := {field: refused(reason) | some field in ctx.fields} if {
	reason := subject_refusal(ctx)
} else := {field: field_ruling(ctx, class_rulings, field) | some field in ctx.fields} if {
	class_rulings := {class: class_ruling(ctx, class) |
		some field in ctx.fields
		class := catalogue.resources[ctx.resource_type][field]
	}
}

field_ruling(ctx, class_rulings, field) := object.union(class_rulings[class], {"class": class}) if {
	class := catalogue.resources[ctx.resource_type][field]
} else := refused("unclassified_field")

refused(reason) := {"allowed": false, "reason": reason}

subject_refusal(ctx) := "unknown_agency" if {
	not agency_roles[ctx.agency]
} else := "unknown_role" if {
	not ctx.role in agency_roles[ctx.agency]
} else := "unknown_purpose" if {
	not ctx.purpose in purposes
} else := "unknown_action" if {
	not ctx.action in actions
} else := "audit_reads_no_case_content" if {
	ctx.agency == "audit"
	not ctx.resource_type in audit_resources
} else := "enrolment_reads_no_case" if {
	# The enrolment account redeems codes and links accounts; it reads no case at all.
	ctx.role == "enrolment"
} else := "other_organisation" if {
	# For a victim, everything but their own view does not exist, as another organisation's
	# case does not for staff: nothing is learnt about other cases or staff records.
	ctx.agency == "victim"
	not own_victim_view(ctx)
} else := "other_organisation" if {
	not responsible_for(ctx)
	not break_glass_claimed(ctx)
}

# SPEC section 4a. Privacy officers read the audit trail deployment-wide, and nothing else.
audit_resources := {"audit_entry", "emergency_review"}

# A user reads or changes a case only where the user's organisation is the case's responsible
# organisation for the user's agency; for anyone else the case does not exist.
responsible_for(ctx) if {
	ctx.agency == "audit"
	ctx.resource_type in audit_resources
}

responsible_for(ctx) if {
	ctx.agency != "audit"
	non_empty_string(ctx.org)
	object.get(ctx.responsible, ctx.agency, null) == ctx.org
}

responsible_for(ctx) if own_victim_view(ctx)

# The account is one of those victim services linked to this case and has not revoked.
own_victim_view(ctx) if {
	ctx.agency == "victim"
	ctx.resource_type in victim_resources
	non_empty_string(ctx.user)
	ctx.user in ctx.victim_accounts
}

# Before a provider accepts a referral, every provider serving its jurisdiction sees the intake
# entry (case.core and risk band, which is all the intake resource holds).
responsible_for(ctx) if {
	ctx.agency == "rj_provider"
	ctx.resource_type == "intake"
	not non_empty_string(object.get(ctx.responsible, "rj_provider", null))
	serves(ctx.org, "rj_provider", ctx.jurisdiction)
}

serves(org, agency, jurisdiction) if {
	non_empty_string(org)
	some organisation in organisations.organisations
	organisation.id == org
	organisation.agency == agency
	jurisdiction in organisation.jurisdictions
}

# Break-glass is the one way across organisations; whether the grant holds is ruled per class.
break_glass_claimed(ctx) if {
	ctx.purpose == "emergency"
	count(ctx.grant) > 0
}

non_empty_string(value) if {
	is_string(value)
	value != ""
}

class_ruling(ctx, class) := {"allowed": true, "basis": "emergency"} if {
	# Across organisations only the police column of SPEC section 4 names emergency access.
	not responsible_for(ctx)
	ctx.agency == "police"
	emergency_grant_valid(ctx, class)
} else := refused("other_organisation") if {
	not responsible_for(ctx)
} else := refused("purpose_forbidden") if {
	ctx.purpose == "offender_communication"
	class in offender_forbidden_classes
} else := refused("never_for_agency") if {
	class in object.get(never, ctx.agency, set())
} else := {"allowed": true, "basis": basis} if {
	bases := [basis | some route in cell_routes(ctx, class); basis := route_basis(ctx, class, route)]
	basis := bases[0]
} else := refused(refusal(ctx, class))

cell_routes(ctx, class) := object.get(routes, [class, ctx.agency], [])

route_basis(_, _, "public_task") := "public_task"

# The person the data is about, reading it (UK GDPR Article 15).
route_basis(_, _, "data_subject") := "data_subject_access"

route_basis(ctx, _, "assigned_facilitator") := "public_task" if {
	is_string(ctx.user)
	ctx.user != ""
	ctx.user in ctx.assigned_facilitators
}

route_basis(ctx, class, "consent") := "consent" if consent_permits(ctx, class)

# The RJ provider may hold location data only to contact the victim about the process itself.
route_basis(ctx, class, "consent_for_case_management") := "consent" if {
	ctx.purpose == "case_management"
	consent_permits(ctx, class)
}

# Statutory sharing without consent (SPEC section 3, victim support).
route_basis(ctx, _, "safeguarding") := "safeguarding" if {
	ctx.risk_band == "high"
	ctx.purpose == "safeguarding"
}

route_basis(ctx, class, "emergency") := "emergency" if emergency_grant_valid(ctx, class)

route_basis(ctx, _, "outcome_consent") := "consent" if ctx.outcome_consent_all_parties == true

# The most specific explanation first, so that the caller can tell the user what would change the
# answer (a valid grant, another purpose, the victim's consent, being assigned).
refusal(ctx, class) := "emergency_grant_invalid" if {
	"emergency" in cell_routes(ctx, class)
	ctx.purpose == "emergency"
	count(ctx.grant) > 0
} else := "purpose_not_permitted" if {
	"consent_for_case_management" in cell_routes(ctx, class)
	ctx.purpose != "case_management"
} else := "consent_denied" if {
	some route in cell_routes(ctx, class)
	route in consent_routes
	consent_denied(ctx, class)
} else := "not_assigned_facilitator" if {
	"assigned_facilitator" in cell_routes(ctx, class)
} else := "outcome_consent_missing" if {
	"outcome_consent" in cell_routes(ctx, class)
} else := "no_consent" if {
	some route in cell_routes(ctx, class)
	route in consent_routes
} else := "not_permitted"

consent_permits(ctx, class) if {
	some provision in matching_permits(ctx, class)
	not consent_denied(ctx, class)
}

# Only a `share` consent authorises sharing; consent to participate or to share the outcome does
# not open case data.
matching_permits(ctx, class) := [provision |
	some provision in ctx.provisions
	provision.type == "permit"
	provision.scope == "share"
	provision_matches(ctx, provision, class)
]

# A refusal recorded by the victim wins over any permit, whatever its scope.
consent_denied(ctx, class) if {
	some provision in ctx.provisions
	provision.type == "deny"
	provision_matches(ctx, provision, class)
}

provision_matches(ctx, provision, class) if {
	provision.status == "active"
	provision.agency == ctx.agency
	ctx.purpose in as_array(provision.purposes)
	class in as_array(provision.data_classes)
	in_period(ctx.now_ns, provision)
}

# A provision without a parseable start and end never counts: consent is time-limited by design.
in_period(now_ns, provision) if {
	is_number(now_ns)
	time.parse_rfc3339_ns(provision.start) <= now_ns
	now_ns < time.parse_rfc3339_ns(provision.end)
}

emergency_grant_valid(ctx, class) if {
	ctx.role == "supervisor"
	not ctx.agency in {"victim_services", "court"}
	ctx.grant.agency == ctx.agency
	is_string(ctx.user)
	ctx.user != ""
	ctx.grant.user == ctx.user
	ctx.purpose == "emergency"
	is_string(ctx.grant.reason_code)
	ctx.grant.reason_code != ""
	class in emergency_classes
	class in as_array(ctx.grant.data_classes)
	is_number(ctx.now_ns)
	ctx.now_ns < time.parse_rfc3339_ns(ctx.grant.expires_at)
}

# A recipient must stop using data when the basis it was given under ends: the grant's expiry for
# break-glass, the latest end of the permits that allowed it for consent.
obligations(ctx, lawful_basis) := break_glass_obligations | expiry_obligations if {
	emergency := {class | some class, basis in lawful_basis; basis == "emergency"}
	break_glass_obligations := {{"type": kind} |
		count(emergency) > 0
		some kind in ["break_glass_audit", "notify_victim_services", "privacy_review"]
	}
	emergency_expiry := {{"type": "access_expires", "at": ctx.grant.expires_at, "data_class": class} |
		some class in emergency
	}
	consent_expiry := {{"type": "access_expires", "at": time.format(latest_end), "data_class": class} |
		some class, basis in lawful_basis
		basis == "consent"
		ends := [time.parse_rfc3339_ns(provision.end) | some provision in matching_permits(ctx, class)]
		count(ends) > 0
		latest_end := max(ends)
	}
	expiry_obligations := emergency_expiry | consent_expiry
}

instant(value) := time.parse_rfc3339_ns(value) if is_string(value)

else := null

as_object(value) := value if is_object(value)

else := {}

as_array(value) := value if is_array(value)

else := []

# --- changes -----------------------------------------------------------------------------------
# The write-side decision (SPEC section 4a): {subject, command, resource {type, owner_org,
# monitoring_agency, assigned_facilitators}, case {responsible, jurisdiction}} ->
# {allowed, reason}. `other_organisation` means the case does not exist for the caller (404).
change := change_decision(as_object(input))

change_decision(request) := {"allowed": reason == "permitted", "reason": reason} if {
	reason := change_refusal(change_context(request))
}

change_context(request) := {
	"agency": object.get(subject, "agency", null),
	"role": object.get(subject, "role", null),
	"user": object.get(subject, "user", null),
	"org": object.get(subject, "org", null),
	"resource_type": object.get(resource, "type", null),
	"owner_org": object.get(resource, "owner_org", null),
	"monitoring_agency": object.get(resource, "monitoring_agency", null),
	"assigned_facilitators": as_array(object.get(resource, "assigned_facilitators", [])),
	"responsible": as_object(object.get(case_facts, "responsible", {})),
	"jurisdiction": object.get(case_facts, "jurisdiction", null),
	"victim_accounts": as_array(object.get(case_facts, "victim_accounts", [])),
} if {
	subject := as_object(object.get(request, "subject", {}))
	resource := as_object(object.get(request, "resource", {}))
	case_facts := as_object(object.get(request, "case", {}))
}

# Which agency changes each kind of record; an agreement item belongs to its monitoring agency.
change_owner := {
	"referral": "police",
	"victim_record": "victim_services",
	"intake": "rj_provider",
	"rj_case": "rj_provider",
	"facilitator": "rj_provider",
	"court_case": "court",
	# The victim's own choices in the victim view (withdrawing a consent, what to be told).
	"victim_view": "victim",
}

rj_managers := {"coordinator", "supervisor"}

change_refusal(ctx) := "unknown_agency" if {
	not agency_roles[ctx.agency]
} else := "unknown_role" if {
	not ctx.role in agency_roles[ctx.agency]
} else := "unknown_resource" if {
	not change_owner[ctx.resource_type]
	ctx.resource_type != "agreement_item"
} else := "wrong_agency" if {
	# Privacy officers read the audit trail; they never change a case.
	ctx.agency == "audit"
} else := "wrong_agency" if {
	ctx.role == "enrolment"
} else := "other_organisation" if {
	# Checked before the agency, so that another organisation's user learns nothing, not even
	# that the change would have been another agency's to make.
	not case_member(ctx)
} else := "wrong_agency" if {
	ctx.agency != owning_agency(ctx)
} else := "not_assigned" if {
	ctx.agency == "rj_provider"
	ctx.resource_type in {"rj_case", "agreement_item"}
	not ctx.role in rj_managers
	not assigned(ctx)
} else := "coordinator_only" if {
	ctx.resource_type in {"intake", "facilitator"}
	not ctx.role in rj_managers
} else := "permitted"

owning_agency(ctx) := ctx.monitoring_agency if ctx.resource_type == "agreement_item"

else := change_owner[ctx.resource_type]

# Is the subject's organisation the case's (or the facilitator's) own, for the subject's agency?
case_member(ctx) if {
	ctx.resource_type == "facilitator"
	non_empty_string(ctx.org)
	ctx.owner_org == ctx.org
}

case_member(ctx) if {
	ctx.resource_type != "facilitator"
	non_empty_string(ctx.org)
	object.get(ctx.responsible, ctx.agency, null) == ctx.org
}

# Accepting or declining a referral: before any provider has accepted it, any provider that
# serves its jurisdiction.
case_member(ctx) if {
	ctx.resource_type == "intake"
	ctx.agency == "rj_provider"
	not non_empty_string(object.get(ctx.responsible, "rj_provider", null))
	serves(ctx.org, "rj_provider", ctx.jurisdiction)
}

# A victim's case is the one their (unrevoked) account is linked to.
case_member(ctx) if {
	ctx.agency == "victim"
	non_empty_string(ctx.user)
	ctx.user in ctx.victim_accounts
}

assigned(ctx) if {
	non_empty_string(ctx.user)
	ctx.user in ctx.assigned_facilitators
}
