package accord.access_test

import data.accord.access
import data.accord.catalogue

now := "2026-11-23T10:00:00Z"

# The subjects of these tests all belong to the case's responsible organisations; the organisation
# rules of SPEC section 4a have their own tests in organisations_test.rego.
home := {"police": "org-1", "victim_services": "org-1", "rj_provider": "org-1", "court": "org-1"}

# Written out from SPEC section 4 rather than taken from the policy, so that a mistake in either
# shows up as a failing cell. "by_consent" cells follow `consent_outcome` for each consent state.
section_4 := {
	"case.core": {
		"police": "public_task", "victim_services": "public_task", "rj_provider": "public_task",
		"court": "public_task", "audit": "public_task",
	},
	"party.identity": {
		"police": "public_task", "victim_services": "public_task",
		"rj_provider": "not_assigned_facilitator", "court": "public_task", "audit": "not_permitted",
	},
	"victim.location": {
		"police": "by_consent", "victim_services": "public_task", "rj_provider": "by_consent",
		"court": "never_for_agency", "audit": "not_permitted",
	},
	"offence.details": {
		"police": "public_task", "victim_services": "public_task",
		"rj_provider": "not_assigned_facilitator", "court": "public_task", "audit": "not_permitted",
	},
	"risk.assessment": {
		"police": "public_task", "victim_services": "public_task",
		"rj_provider": "not_assigned_facilitator", "court": "not_permitted", "audit": "not_permitted",
	},
	"risk.band": {
		"police": "public_task", "victim_services": "public_task", "rj_provider": "public_task",
		"court": "public_task", "audit": "not_permitted",
	},
	"safety.flags": {
		"police": "by_consent", "victim_services": "public_task", "rj_provider": "by_consent",
		"court": "not_permitted", "audit": "not_permitted",
	},
	"safety.plan": {
		"police": "not_permitted", "victim_services": "public_task", "rj_provider": "by_consent",
		"court": "not_permitted", "audit": "not_permitted",
	},
	"safety.plan.summary": {
		"police": "public_task", "victim_services": "public_task", "rj_provider": "public_task",
		"court": "public_task", "audit": "not_permitted",
	},
	"support.notes": {
		"police": "not_permitted", "victim_services": "public_task", "rj_provider": "not_permitted",
		"court": "never_for_agency", "audit": "not_permitted",
	},
	"consent.summary": {
		"police": "public_task", "victim_services": "public_task", "rj_provider": "public_task",
		"court": "public_task", "audit": "not_permitted",
	},
	"conference.notes": {
		"police": "not_permitted", "victim_services": "not_permitted", "rj_provider": "public_task",
		"court": "never_for_agency", "audit": "not_permitted",
	},
	"agreement.items": {
		"police": "public_task", "victim_services": "public_task", "rj_provider": "public_task",
		"court": "outcome_consent_missing", "audit": "not_permitted",
	},
	"compliance.status": {
		"police": "public_task", "victim_services": "public_task", "rj_provider": "public_task",
		"court": "public_task", "audit": "not_permitted",
	},
}

# Consent provisions offered to a cell, as overrides of a provision that matches it exactly.
consent_states := {
	"none": [],
	"active": [{}],
	"withdrawn": [{"status": "withdrawn"}],
	"expired": [{"status": "expired", "end": "2026-11-20T00:00:00Z"}],
	"lapsed": [{"end": "2026-11-20T00:00:00Z"}],
	"not_started": [{"start": "2026-12-01T00:00:00Z"}],
	"deny": [{}, {"type": "deny"}],
}

consent_outcome := {
	"none": "no_consent",
	"active": "consent",
	"withdrawn": "no_consent",
	"expired": "no_consent",
	"lapsed": "no_consent",
	"not_started": "no_consent",
	"deny": "consent_denied",
}

subject_roles := {
	"police": ["officer", "supervisor", "service"],
	"victim_services": ["advocate", "supervisor", "service"],
	"rj_provider": ["coordinator", "facilitator", "supervisor", "service"],
	"court": ["clerk", "judge", "service"],
	"audit": ["privacy_officer", "service"],
}

all_purposes := [
	"case_management", "safeguarding", "compliance_review",
	"offender_communication", "emergency", "audit",
]

offender_forbidden := {"victim.location", "safety.plan", "safety.flags", "support.notes"}

# Real catalogue fields that between them cover every data class, one decision per resource type.
probe_fields := {
	"referral": ["case_id", "victim_name", "incident_summary", "risk_score", "risk_band"],
	"victim_record": ["address", "support_notes"],
	"safety_flags": ["flags"],
	"safety_plan": ["content", "review_date"],
	"rj_case": ["conference_notes", "agreement_items", "compliance", "offender_consent"],
}

probe_classes(type) := [catalogue.resources[type][field] | some field in probe_fields[type]]

provision(agency, purpose, classes, overrides) := object.union(
	{
		"consent_id": "consent-1", "scope": "share", "status": "active", "type": "permit",
		"agency": agency, "purposes": [purpose], "data_classes": classes,
		"start": "2026-11-01T00:00:00Z", "end": "2027-05-01T00:00:00Z",
	},
	overrides,
)

# A group is one request: a subject, purpose, consent state and situation, for one resource type.
group(agency, role, purpose, consent, type) := {
	"agency": agency, "role": role, "user": "user-1", "purpose": purpose, "action": "read",
	"consent": consent, "risk_band": "medium", "outcome_consent": false, "type": type,
}

group_request(g) := {
	"subject": {"agency": g.agency, "role": g.role, "org": "org-1", "user": g.user},
	"action": g.action,
	"purpose": g.purpose,
	"now": now,
	"resource": {
		"type": g.type,
		"case_id": "case-1",
		"fields": probe_fields[g.type],
		"assigned_facilitators": ["facilitator-9"],
	},
	"case": {
		"responsible": home,
		"risk_band": g.risk_band,
		"consent_provisions": [provision(g.agency, g.purpose, probe_classes(g.type), overrides) |
			some overrides in consent_states[g.consent]
		],
		"outcome_consent_all_parties": g.outcome_consent,
		"emergency_grant": null,
	},
}

# Always defined, so that a missing result is reported as a failure rather than skipped.
decision_for(request) := result if {
	result := access.decision with input as request
} else := "<undefined>"

# The lawful basis when the field is allowed, the reason code when it is withheld.
field_outcome(result, field, class) := result.lawful_basis[class] if {
	field in result.allowed_fields
	not result.withheld[field]
} else := result.withheld[field] if {
	not field in result.allowed_fields
} else := "<missing>"

# SPEC sections 3 and 4 as one ordered list of expectations for a cell (a group and one class).
expected(cell) := "audit_reads_no_case_content" if {
	# Privacy officers read the audit trail, never case content (SPEC section 4a).
	cell.agency == "audit"
} else := "purpose_forbidden" if {
	cell.purpose == "offender_communication"
	cell.class in offender_forbidden
} else := "consent" if {
	# Consent is preferred as the recorded basis when it holds, even where safeguarding would do.
	police_high_risk_safeguarding(cell)
	cell.consent == "active"
} else := "safeguarding" if {
	police_high_risk_safeguarding(cell)
} else := "purpose_not_permitted" if {
	# The RJ provider may hold location data only to contact the victim about the process.
	cell.agency == "rj_provider"
	cell.class == "victim.location"
	cell.purpose != "case_management"
} else := "public_task" if {
	cell.agency == "rj_provider"
	cell.user == "facilitator-9"
	cell.class in {"party.identity", "offence.details", "risk.assessment"}
} else := "consent" if {
	cell.agency == "court"
	cell.class == "agreement.items"
	cell.outcome_consent == true
} else := consent_outcome[cell.consent] if {
	section_4[cell.class][cell.agency] == "by_consent"
} else := section_4[cell.class][cell.agency]

police_high_risk_safeguarding(cell) if {
	cell.agency == "police"
	cell.class == "safety.flags"
	cell.purpose == "safeguarding"
	cell.risk_band == "high"
}

mismatches(groups) := [object.union(cell, {"got": got, "want": want}) |
	some g in groups
	result := decision_for(group_request(g))
	some field in probe_fields[g.type]
	cell := object.union(g, {"class": catalogue.resources[g.type][field], "field": field})
	got := field_outcome(result, field, cell.class)
	want := expected(cell)
	got != want
]

test_probes_cover_every_catalogue_class if {
	classes := [class | some type, _ in probe_fields; some class in probe_classes(type)]
	count(classes) == count({class | some class in classes})
	{class | some class in classes} == {class | some class in catalogue.classes}
	object.keys(section_4) == {class | some class in catalogue.classes}
}

# Every data class and consent state for one agency, purpose case_management, at medium risk.
section_4_groups(agency) := [group(agency, subject_roles[agency][0], "case_management", consent, type) |
	some consent, _ in consent_states
	some type, _ in probe_fields
]

test_section_4_police if {
	found := mismatches(section_4_groups("police"))
	print("mismatches:", found)
	count(found) == 0
}

test_section_4_victim_services if {
	found := mismatches(section_4_groups("victim_services"))
	print("mismatches:", found)
	count(found) == 0
}

test_section_4_rj_provider if {
	found := mismatches(section_4_groups("rj_provider"))
	print("mismatches:", found)
	count(found) == 0
}

test_section_4_court if {
	found := mismatches(section_4_groups("court"))
	print("mismatches:", found)
	count(found) == 0
}

test_section_4_audit if {
	found := mismatches(section_4_groups("audit"))
	print("mismatches:", found)
	count(found) == 0
}

# Every other purpose for every agency and class, with and without consent for that purpose.
purpose_groups(purpose) := [group(agency, roles[0], purpose, consent, type) |
	some agency, roles in subject_roles
	some consent in ["none", "active"]
	some type, _ in probe_fields
]

test_purpose_safeguarding if {
	found := mismatches(purpose_groups("safeguarding"))
	print("mismatches:", found)
	count(found) == 0
}

test_purpose_compliance_review if {
	found := mismatches(purpose_groups("compliance_review"))
	print("mismatches:", found)
	count(found) == 0
}

test_purpose_emergency_without_grant if {
	found := mismatches(purpose_groups("emergency"))
	print("mismatches:", found)
	count(found) == 0
}

test_purpose_audit if {
	found := mismatches(purpose_groups("audit"))
	print("mismatches:", found)
	count(found) == 0
}

# Letters and exports to the offender side: the four victim classes are refused whatever the
# consent says, and nothing else changes.
test_offender_communication_hard_deny if {
	groups := [group(agency, roles[0], "offender_communication", consent, type) |
		some agency, roles in subject_roles
		some consent in ["none", "active", "deny"]
		some type, _ in probe_fields
	]
	found := mismatches(groups)
	print("mismatches:", found)
	count(found) == 0
}

# Location data reaches the RJ provider only under consent and only for case management.
test_rj_provider_location_needs_consent_for_case_management if {
	groups := [group("rj_provider", role, purpose, consent, "victim_record") |
		some role in ["coordinator", "facilitator"]
		some purpose in all_purposes
		some consent, _ in consent_states
	]
	found := mismatches(groups)
	print("mismatches:", found)
	count(found) == 0
}

# Roles within an agency see the same (break-glass aside), for reads and shares alike.
test_every_role_and_action if {
	groups := [object.union(group(agency, role, "case_management", "active", type), {"action": action}) |
		some agency, roles in subject_roles
		some role in roles
		some action in ["read", "share"]
		some type, _ in probe_fields
	]
	found := mismatches(groups)
	print("mismatches:", found)
	count(found) == 0
}

# Statutory sharing of safety flags with the police at high risk, for purpose safeguarding only,
# and with no other agency; a victim's deny provision does not stop statutory sharing.
test_high_risk_safeguarding_police if {
	groups := [object.union(group("police", "officer", purpose, consent, "safety_flags"), {"risk_band": band}) |
		some purpose in ["safeguarding", "case_management", "offender_communication"]
		some consent, _ in consent_states
		some band in [null, "standard", "medium", "high", "HIGH"]
	]
	found := mismatches(groups)
	print("mismatches:", found)
	count(found) == 0
}

test_high_risk_safeguarding_is_police_only if {
	groups := [object.union(group(agency, roles[0], "safeguarding", consent, "safety_flags"), {"risk_band": "high"}) |
		some agency, roles in subject_roles
		agency != "police"
		some consent in ["none", "active", "deny"]
	]
	found := mismatches(groups)
	print("mismatches:", found)
	count(found) == 0
}

test_assigned_facilitator if {
	groups := [object.union(group(agency, role, purpose, "none", "referral"), {"user": user}) |
		some agency in ["rj_provider", "court", "audit"]
		some role in subject_roles[agency]
		some user in ["facilitator-9", "facilitator-7", "", null]
		some purpose in ["case_management", "offender_communication"]
	]
	found := mismatches(groups)
	print("mismatches:", found)
	count(found) == 0
}

test_court_sees_agreement_items_only_with_outcome_consent if {
	groups := [object.union(group(agency, role, purpose, "none", "rj_case"), {"outcome_consent": outcome}) |
		some agency in ["court", "police"]
		some role in subject_roles[agency]
		some purpose in ["compliance_review", "case_management"]
		some outcome in [true, false, null, "true"]
	]
	found := mismatches(groups)
	print("mismatches:", found)
	count(found) == 0
}

# Court never sees location data, not with consent and not with a grant in its name.
test_court_never_sees_location_even_with_consent_and_grant if {
	request := {
		"subject": {"agency": "court", "role": "judge", "org": "org-1", "user": "judge-1"},
		"action": "read",
		"purpose": "emergency",
		"now": now,
		"resource": {"type": "victim_record", "case_id": "case-1", "fields": ["address", "refuge"]},
		"case": {
			"responsible": home,
			"consent_provisions": [provision("court", "emergency", ["victim.location"], {})],
			"emergency_grant": grant("court", "judge-1", {}),
		},
	}
	result := access.decision with input as request
	result.withheld == {"address": "never_for_agency", "refuge": "never_for_agency"}
	result.decision == "deny"
	not result.break_glass
}

grant(agency, user, overrides) := object.union(
	{
		"grant_id": "grant-1", "agency": agency, "user": user,
		"data_classes": ["victim.location", "safety.flags"],
		"reason_code": "imminent_risk_to_life", "expires_at": "2026-11-23T11:00:00Z",
	},
	overrides,
)

emergency_rows := [
	{"name": "police supervisor, location", "agency": "police", "role": "supervisor", "class": "victim.location", "want": "emergency"},
	{"name": "police supervisor, flags", "agency": "police", "role": "supervisor", "class": "safety.flags", "want": "emergency"},
	{"name": "rj supervisor, location", "agency": "rj_provider", "role": "supervisor", "class": "victim.location", "want": "purpose_not_permitted"},
	{"name": "rj supervisor, flags", "agency": "rj_provider", "role": "supervisor", "class": "safety.flags", "want": "no_consent"},
	{"name": "expired", "agency": "police", "role": "supervisor", "class": "victim.location", "grant": {"expires_at": "2026-11-23T09:59:59Z"}, "want": "emergency_grant_invalid"},
	{"name": "expires now", "agency": "police", "role": "supervisor", "class": "victim.location", "grant": {"expires_at": now}, "want": "emergency_grant_invalid"},
	{"name": "expiry in another offset", "agency": "police", "role": "supervisor", "class": "victim.location", "grant": {"expires_at": "2026-11-23T11:30:00+01:00"}, "want": "emergency"},
	{"name": "unparseable expiry", "agency": "police", "role": "supervisor", "class": "victim.location", "grant": {"expires_at": "soon"}, "want": "emergency_grant_invalid"},
	{"name": "no expiry", "agency": "police", "role": "supervisor", "class": "victim.location", "grant": {"expires_at": null}, "want": "emergency_grant_invalid"},
	{"name": "no clock", "agency": "police", "role": "supervisor", "class": "victim.location", "now": null, "want": "emergency_grant_invalid"},
	{"name": "officer", "agency": "police", "role": "officer", "class": "victim.location", "want": "emergency_grant_invalid"},
	{"name": "service", "agency": "police", "role": "service", "class": "safety.flags", "want": "emergency_grant_invalid"},
	{"name": "rj facilitator", "agency": "rj_provider", "role": "facilitator", "class": "victim.location", "want": "purpose_not_permitted"},
	{"name": "court clerk location", "agency": "court", "role": "clerk", "class": "victim.location", "want": "never_for_agency"},
	{"name": "court judge flags", "agency": "court", "role": "judge", "class": "safety.flags", "want": "not_permitted"},
	{"name": "victim services supervisor", "agency": "victim_services", "role": "supervisor", "class": "victim.location", "want": "public_task"},
	{"name": "audit privacy officer", "agency": "audit", "role": "privacy_officer", "class": "victim.location", "want": "audit_reads_no_case_content"},
	{"name": "grant of another agency", "agency": "police", "role": "supervisor", "class": "victim.location", "grant": {"agency": "rj_provider"}, "want": "emergency_grant_invalid"},
	{"name": "grant of another user", "agency": "police", "role": "supervisor", "class": "victim.location", "grant": {"user": "sup-2"}, "want": "emergency_grant_invalid"},
	{"name": "subject without user", "agency": "police", "role": "supervisor", "class": "victim.location", "user": null, "grant": {"user": null}, "want": "emergency_grant_invalid"},
	{"name": "class outside grant", "agency": "police", "role": "supervisor", "class": "safety.flags", "grant": {"data_classes": ["victim.location"]}, "want": "emergency_grant_invalid"},
	{"name": "grant naming support notes", "agency": "police", "role": "supervisor", "class": "support.notes", "grant": {"data_classes": ["support.notes"]}, "want": "not_permitted"},
	{"name": "grant naming identity", "agency": "rj_provider", "role": "supervisor", "class": "party.identity", "grant": {"data_classes": ["party.identity"]}, "want": "not_assigned_facilitator"},
	{"name": "no reason code", "agency": "police", "role": "supervisor", "class": "victim.location", "grant": {"reason_code": null}, "want": "emergency_grant_invalid"},
	{"name": "empty reason code", "agency": "police", "role": "supervisor", "class": "victim.location", "grant": {"reason_code": ""}, "want": "emergency_grant_invalid"},
	{"name": "case management purpose", "agency": "police", "role": "supervisor", "class": "victim.location", "purpose": "case_management", "want": "no_consent"},
	{"name": "safeguarding purpose", "agency": "police", "role": "supervisor", "class": "victim.location", "purpose": "safeguarding", "want": "no_consent"},
	{"name": "offender communication", "agency": "police", "role": "supervisor", "class": "victim.location", "purpose": "offender_communication", "want": "purpose_forbidden"},
	{"name": "no grant", "agency": "police", "role": "supervisor", "class": "victim.location", "no_grant": true, "want": "no_consent"},
	{"name": "no grant, rj", "agency": "rj_provider", "role": "supervisor", "class": "victim.location", "no_grant": true, "want": "purpose_not_permitted"},
	{"name": "victim's deny does not stop break-glass", "agency": "police", "role": "supervisor", "class": "victim.location", "deny": true, "want": "emergency"},
]

# Where a class can be found: [resource type, field].
class_probe(class) := [type, field] if {
	some type, fields in probe_fields
	some field in fields
	catalogue.resources[type][field] == class
}

observed(request, field, class) := field_outcome(decision_for(request), field, class)

emergency_request(row) := {
	"subject": {"agency": row.agency, "role": row.role, "org": "org-1", "user": object.get(row, "user", "sup-1")},
	"action": "read",
	"purpose": object.get(row, "purpose", "emergency"),
	"now": object.get(row, "now", now),
	"resource": {"type": class_probe(row.class)[0], "case_id": "case-1", "fields": [class_probe(row.class)[1]]},
	"case": {
		"responsible": home,
		"risk_band": "high",
		"consent_provisions": [provision(row.agency, "emergency", [row.class], {"type": "deny"}) | row.deny],
		"emergency_grant": emergency_grant(row),
	},
}

emergency_grant(row) := null if row.no_grant

else := grant(row.agency, "sup-1", object.get(row, "grant", {}))

test_emergency_access if {
	found := [failure |
		some row in emergency_rows
		request := emergency_request(row)
		result := decision_for(request)
		got := {
			"outcome": observed(request, class_probe(row.class)[1], row.class),
			"break_glass": object.get(result, "break_glass", "<undefined>"),
		}
		want := {"outcome": row.want, "break_glass": row.want == "emergency"}
		got != want
		failure := {"row": row.name, "got": got, "want": want}
	]
	print("emergency failures:", found)
	count(found) == 0
}

test_emergency_result_carries_break_glass_obligations if {
	request := {
		"subject": {"agency": "police", "role": "supervisor", "org": "org-1", "user": "sup-1"},
		"action": "read",
		"purpose": "emergency",
		"now": now,
		"resource": {"type": "victim_record", "case_id": "case-1", "fields": ["case_id", "address", "safe_contact_number", "name"]},
		"case": {"responsible": home, "risk_band": "high", "emergency_grant": grant("police", "sup-1", {"data_classes": ["victim.location"]})},
	}
	result := access.decision with input as request
	result == {
		"allowed_fields": ["address", "case_id", "name", "safe_contact_number"],
		"withheld": {},
		"lawful_basis": {"case.core": "public_task", "party.identity": "public_task", "victim.location": "emergency"},
		"obligations": [
			{"type": "access_expires", "at": "2026-11-23T11:00:00Z", "data_class": "victim.location"},
			{"type": "break_glass_audit"},
			{"type": "notify_victim_services"},
			{"type": "privacy_review"},
		],
		"break_glass": true,
		"decision": "permit",
	}
}

consent_rows := [
	{"name": "matching permit", "provisions": [{}], "want": "consent"},
	{"name": "permit for another agency", "provisions": [{"agency": "rj_provider"}], "want": "no_consent"},
	{"name": "purpose not listed", "provisions": [{"purposes": ["case_management"]}], "want": "no_consent"},
	{"name": "class not listed", "provisions": [{"data_classes": ["safety.flags"]}], "want": "no_consent"},
	{"name": "listed among others", "provisions": [{"purposes": ["case_management", "safeguarding"], "data_classes": ["safety.flags", "victim.location"]}], "want": "consent"},
	{"name": "starts now", "provisions": [{"start": now}], "want": "consent"},
	{"name": "ends now", "provisions": [{"end": now}], "want": "no_consent"},
	{"name": "period in another offset", "provisions": [{"start": "2026-11-23T11:00:00+02:00"}], "want": "consent"},
	{"name": "unparseable start", "provisions": [{"start": "last week"}], "want": "no_consent"},
	{"name": "open ended", "provisions": [{"end": null}], "want": "no_consent"},
	{"name": "scope participate", "provisions": [{"scope": "participate"}], "want": "no_consent"},
	{"name": "scope outcome", "provisions": [{"scope": "outcome"}], "want": "no_consent"},
	{"name": "unknown type", "provisions": [{"type": "maybe"}], "want": "no_consent"},
	{"name": "purposes not a list", "provisions": [{"purposes": "safeguarding"}], "want": "no_consent"},
	{"name": "expired status inside its period", "provisions": [{"status": "expired"}], "want": "no_consent"},
	{"name": "draft status", "provisions": [{"status": "draft"}], "want": "no_consent"},
	{"name": "withdrawn and active permits", "provisions": [{"status": "withdrawn"}, {}], "want": "consent"},
	{"name": "deny overrides permit", "provisions": [{}, {"type": "deny"}], "want": "consent_denied"},
	{"name": "deny of any scope overrides", "provisions": [{}, {"type": "deny", "scope": "participate"}], "want": "consent_denied"},
	{"name": "deny alone", "provisions": [{"type": "deny"}], "want": "consent_denied"},
	{"name": "withdrawn deny", "provisions": [{}, {"type": "deny", "status": "withdrawn"}], "want": "consent"},
	{"name": "lapsed deny", "provisions": [{}, {"type": "deny", "end": "2026-11-01T00:00:01Z"}], "want": "consent"},
	{"name": "deny for another agency", "provisions": [{}, {"type": "deny", "agency": "rj_provider"}], "want": "consent"},
	{"name": "deny for another purpose", "provisions": [{}, {"type": "deny", "purposes": ["case_management"]}], "want": "consent"},
	{"name": "deny for another class", "provisions": [{}, {"type": "deny", "data_classes": ["safety.flags"]}], "want": "consent"},
	{"name": "no clock", "provisions": [{}], "now": null, "want": "no_consent"},
	{"name": "unparseable clock", "provisions": [{}], "now": "now", "want": "no_consent"},
]

test_consent_provisions if {
	found := [failure |
		some row in consent_rows
		request := {
			"subject": {"agency": "police", "role": "officer", "org": "org-1", "user": "officer-1"},
			"action": "share",
			"purpose": "safeguarding",
			"now": object.get(row, "now", now),
			"resource": {"type": "victim_record", "case_id": "case-1", "fields": ["address"]},
			"case": {
				"responsible": home,
				"risk_band": "medium",
				"consent_provisions": [provision("police", "safeguarding", ["victim.location"], o) | some o in row.provisions],
			},
		}
		got := observed(request, "address", "victim.location")
		got != row.want
		failure := {"row": row.name, "got": got, "want": row.want}
	]
	print("consent failures:", found)
	count(found) == 0
}

test_malformed_consent_provisions_are_ignored if {
	every provisions in [null, "all", {"consent_id": "c"}, ["permit", 7, null]] {
		result := access.decision with input as {
			"subject": {"agency": "police", "role": "officer", "org": "org-1", "user": "officer-1"},
			"action": "read",
			"purpose": "safeguarding",
			"now": now,
			"resource": {"type": "victim_record", "fields": ["address", "case_id"]},
			"case": {"responsible": home, "consent_provisions": provisions},
		}
		result.withheld == {"address": "no_consent"}
		result.allowed_fields == ["case_id"]
	}
}

# Access under consent lasts as long as the longest matching permit; the recipient is told when.
test_consent_basis_carries_expiry if {
	result := access.decision with input as {
		"subject": {"agency": "rj_provider", "role": "facilitator", "org": "org-1", "user": "facilitator-7"},
		"action": "share",
		"purpose": "case_management",
		"now": now,
		"resource": {"type": "safety_plan", "case_id": "case-1", "fields": ["content", "exists"]},
		"case": {"responsible": home, "consent_provisions": [
			provision("rj_provider", "case_management", ["safety.plan"], {}),
			provision("rj_provider", "case_management", ["safety.plan"], {"end": "2027-06-30T12:00:00+02:00"}),
		]},
	}
	result == {
		"allowed_fields": ["content", "exists"],
		"withheld": {},
		"lawful_basis": {"safety.plan": "consent", "safety.plan.summary": "public_task"},
		"obligations": [{"type": "access_expires", "at": "2027-06-30T10:00:00Z", "data_class": "safety.plan"}],
		"break_glass": false,
		"decision": "permit",
	}
}

test_court_outcome_consent_has_no_expiry_obligation if {
	result := access.decision with input as {
		"subject": {"agency": "court", "role": "clerk", "org": "org-1", "user": "clerk-1"},
		"action": "read",
		"purpose": "compliance_review",
		"now": now,
		"resource": {"type": "court_case", "case_id": "case-1", "fields": ["items_text", "items_status"]},
		"case": {"responsible": home, "outcome_consent_all_parties": true},
	}
	result.lawful_basis == {"agreement.items": "consent", "compliance.status": "public_task"}
	result.obligations == []
}

test_mixed_request_result if {
	result := access.decision with input as {
		"subject": {"agency": "police", "role": "officer", "org": "org-1", "user": "officer-1"},
		"action": "read",
		"purpose": "safeguarding",
		"now": now,
		"resource": {
			"type": "referral", "case_id": "case-1",
			"fields": ["case_id", "status", "victim_name", "risk_band", "dash_answers", "case_id", "shoe_size", 7],
		},
		"case": {"responsible": home, "risk_band": "high"},
	}
	result == {
		"allowed_fields": ["case_id", "dash_answers", "risk_band", "status", "victim_name"],
		"withheld": {"shoe_size": "unclassified_field"},
		"lawful_basis": {
			"case.core": "public_task", "party.identity": "public_task",
			"risk.band": "public_task", "risk.assessment": "public_task",
		},
		"obligations": [],
		"break_glass": false,
		"decision": "permit",
	}
}

test_safeguarding_basis_is_recorded if {
	result := access.decision with input as {
		"subject": {"agency": "police", "role": "officer", "org": "org-1", "user": "officer-1"},
		"action": "share",
		"purpose": "safeguarding",
		"now": now,
		"resource": {"type": "safety_flags", "case_id": "case-1", "fields": ["flags", "lawful_basis"]},
		"case": {"responsible": home, "risk_band": "high"},
	}
	result.lawful_basis == {"safety.flags": "safeguarding", "case.core": "public_task"}
	result.obligations == []
	result.decision == "permit"
}

# Replaces whole top-level members, unlike object.union, which merges nested objects.
replaced(base, patch) := object.union(object.remove(base, object.keys(patch)), patch)

valid_request := {
	"subject": {"agency": "victim_services", "role": "advocate", "org": "org-1", "user": "advocate-1"},
	"action": "read",
	"purpose": "case_management",
	"now": now,
	"resource": {"type": "victim_record", "case_id": "case-1", "fields": ["case_id", "address"]},
	"case": {"responsible": home},
}

subject_rows := [
	{"name": "unknown agency", "patch": {"subject": {"agency": "press", "role": "advocate"}}, "want": "unknown_agency"},
	{"name": "no subject", "patch": {"subject": null}, "want": "unknown_agency"},
	{"name": "role of another agency", "patch": {"subject": {"agency": "victim_services", "role": "judge"}}, "want": "unknown_role"},
	{"name": "no role", "patch": {"subject": {"agency": "police"}}, "want": "unknown_role"},
	{"name": "audit supervisor", "patch": {"subject": {"agency": "audit", "role": "supervisor"}}, "want": "unknown_role"},
	{"name": "unknown purpose", "patch": {"purpose": "marketing"}, "want": "unknown_purpose"},
	{"name": "no purpose", "patch": {"purpose": null}, "want": "unknown_purpose"},
	{"name": "unknown action", "patch": {"action": "delete"}, "want": "unknown_action"},
	{"name": "no action", "patch": {"action": null}, "want": "unknown_action"},
]

test_unknown_subject_purpose_or_action_withholds_everything if {
	found := [failure |
		some row in subject_rows
		result := decision_for(replaced(valid_request, row.patch))
		want := {
			"allowed_fields": [], "withheld": {"case_id": row.want, "address": row.want},
			"lawful_basis": {}, "obligations": [], "break_glass": false, "decision": "deny",
		}
		result != want
		failure := {"row": row.name, "got": result}
	]
	print("unknown subject failures:", found)
	count(found) == 0
}

test_unknown_resource_type_withholds_everything if {
	result := access.decision with input as replaced(valid_request, {"resource": {"type": "diary", "fields": ["case_id", "entry"]}})
	result.withheld == {"case_id": "unclassified_field", "entry": "unclassified_field"}
	result.decision == "deny"
}

test_request_without_fields_is_denied if {
	every resource in [{}, {"type": "referral"}, {"type": "referral", "fields": "case_id"}, null] {
		result := access.decision with input as replaced(valid_request, {"resource": resource})
		result == {
			"allowed_fields": [], "withheld": {}, "lawful_basis": {},
			"obligations": [], "break_glass": false, "decision": "deny",
		}
	}
}

test_batch_keeps_order_and_matches_single_decisions if {
	items := [
		{"resource": {"type": "victim_record", "case_id": "case-1", "fields": ["address"]}, "case": {"responsible": home}},
		{"resource": {"type": "referral", "case_id": "case-2", "fields": ["case_id", "risk_score"]}, "case": {"responsible": home, "risk_band": "high"}},
		{"resource": {"type": "diary", "case_id": "case-3", "fields": ["entry"]}, "case": {"responsible": home}},
		{
			"resource": {"type": "safety_flags", "case_id": "case-4", "fields": ["flags"]},
			"case": {"responsible": home, "consent_provisions": [provision("police", "case_management", ["safety.flags"], {})]},
		},
	]
	common := {
		"subject": {"agency": "police", "role": "officer", "org": "org-1", "user": "officer-1"},
		"action": "read", "purpose": "case_management", "now": now,
	}
	results := access.batch with input as object.union(common, {"items": items})
	count(results) == 4
	results[0].withheld == {"address": "no_consent"}
	results[1].allowed_fields == ["case_id", "risk_score"]
	results[2].withheld == {"entry": "unclassified_field"}
	results[3].lawful_basis == {"safety.flags": "consent"}
	every i, item in items {
		results[i] == access.decision with input as object.union(common, item)
	}
}

# An item speaks only for its resource and case; whatever else it carries is ignored.
test_batch_item_cannot_change_subject_or_purpose if {
	results := access.batch with input as {
		"subject": {"agency": "court", "role": "clerk", "org": "org-1", "user": "clerk-1"},
		"action": "read",
		"purpose": "compliance_review",
		"now": now,
		"items": [{
			"subject": {"agency": "victim_services", "role": "advocate", "user": "a-1"},
			"purpose": "case_management",
			"resource": {"type": "victim_record", "case_id": "case-1", "fields": ["address", "support_notes"]},
			"case": {"responsible": home},
		}],
	}
	results == [{
		"allowed_fields": [], "withheld": {"address": "never_for_agency", "support_notes": "never_for_agency"},
		"lawful_basis": {}, "obligations": [], "break_glass": false, "decision": "deny",
	}]
}

test_batch_malformed_items_keep_their_place if {
	results := access.batch with input as {
		"subject": {"agency": "police", "role": "officer", "org": "org-1", "user": "officer-1"},
		"action": "read",
		"purpose": "case_management",
		"now": now,
		"items": ["junk", {"resource": {"type": "referral", "fields": ["case_id"]}, "case": {"responsible": home}}, {}, null],
	}
	count(results) == 4
	[r.decision | some r in results] == ["deny", "permit", "deny", "deny"]
}

test_empty_batch if {
	results := access.batch with input as {"subject": {}, "items": []}
	results == []
}
