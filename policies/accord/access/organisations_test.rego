package accord.organisations_test

# SPEC section 4a, written out here rather than taken from the policy: a user reads or changes a
# case only where the user's organisation is the case's responsible organisation for the user's
# agency; for anyone else the case does not exist. The organisation ids are the shipped directory's.

import data.accord.access

now := "2026-11-23T10:00:00Z"

decide(request) := result if {
	result := access.decision with input as request
}

changed(request) := result if {
	result := access.change with input as request
}

responsible := {
	"police": "north-police",
	"victim_services": "north-advocacy",
	"rj_provider": "north-rj",
	"court": "north-court",
}

others := {
	"police": "south-police",
	"victim_services": "south-advocacy",
	"rj_provider": "south-rj",
	"court": "south-court",
}

# One resource per agency with a case.core field every agency of the column may read.
home_resource := {
	"police": {"type": "referral", "fields": ["case_id", "status", "victim_name"]},
	"victim_services": {"type": "victim_record", "fields": ["case_id", "address"]},
	"rj_provider": {"type": "rj_case", "fields": ["case_id", "status"]},
	"court": {"type": "court_case", "fields": ["case_id", "items_status"]},
}

first_role := {"police": "officer", "victim_services": "advocate", "rj_provider": "coordinator", "court": "clerk"}

read_request(agency, org, resource, case_facts) := {
	"subject": {"agency": agency, "role": first_role[agency], "org": org, "user": "user-1"},
	"action": "read",
	"purpose": "case_management",
	"now": now,
	"resource": object.union(resource, {"case_id": "case-1"}),
	"case": case_facts,
}

test_own_organisation_reads_case_core if {
	every agency, resource in home_resource {
		result := access.decision with input as read_request(agency, responsible[agency], resource, {"responsible": responsible})
		"case_id" in result.allowed_fields
		result.decision == "permit"
	}
}

test_other_organisation_reads_nothing_and_is_told_why if {
	every agency, resource in home_resource {
		result := access.decision with input as read_request(agency, others[agency], resource, {"responsible": responsible})
		result.allowed_fields == []
		result.decision == "deny"
		every field in resource.fields {
			result.withheld[field] == "other_organisation"
		}
	}
}

test_unknown_responsibility_denies if {
	every agency, resource in home_resource {
		some facts in [{}, {"responsible": {}}, {"responsible": null}, {"responsible": {agency: ""}}]
		result := access.decision with input as read_request(agency, responsible[agency], resource, facts)
		result.decision == "deny"
	}
}

test_empty_or_missing_org_denies if {
	every org in [null, "", 7] {
		result := access.decision with input as read_request("police", org, home_resource.police, {"responsible": responsible})
		result.decision == "deny"
	}
}

# Another agency's responsible organisation does not open the case: a force named where the RJ
# provider belongs is still not the case's police force.
test_responsibility_is_per_agency if {
	facts := {"responsible": {"rj_provider": "north-police", "court": "north-police"}}
	result := access.decision with input as read_request("police", "north-police", home_resource.police, facts)
	result.decision == "deny"
}

intake := {"type": "intake", "fields": ["case_id", "status", "risk_band", "jurisdiction"]}

test_intake_before_acceptance_is_seen_by_providers_serving_the_jurisdiction if {
	facts := {"responsible": {"police": "north-police"}, "jurisdiction": "england-wales"}
	every org in ["north-rj", "south-rj"] {
		result := access.decision with input as read_request("rj_provider", org, intake, facts)
		result.allowed_fields == ["case_id", "jurisdiction", "risk_band", "status"]
	}
	every org in ["scotland-rj", "nz-rj", "north-police", "unknown-rj"] {
		result := access.decision with input as read_request("rj_provider", org, intake, facts)
		result.decision == "deny"
	}
}

test_intake_after_acceptance_is_the_accepting_providers_alone if {
	facts := {"responsible": {"police": "north-police", "rj_provider": "north-rj"}, "jurisdiction": "england-wales"}
	decide(read_request("rj_provider", "north-rj", intake, facts)).decision == "permit"
	decide(read_request("rj_provider", "south-rj", intake, facts)).decision == "deny"
}

# Serving the jurisdiction opens only the intake entry, never the RJ case itself.
test_serving_the_jurisdiction_does_not_open_the_rj_case if {
	facts := {"responsible": {"police": "north-police"}, "jurisdiction": "england-wales"}
	result := access.decision with input as read_request("rj_provider", "north-rj", home_resource.rj_provider, facts)
	result.decision == "deny"
}

privacy := {"agency": "audit", "role": "privacy_officer", "org": "privacy-office", "user": "po-1"}

test_privacy_officers_read_audit_records_deployment_wide if {
	every type in ["audit_entry", "emergency_review"] {
		result := access.decision with input as {
			"subject": privacy, "action": "read", "purpose": "audit", "now": now,
			"resource": {"type": type, "case_id": "any-case", "fields": ["case_id"]}, "case": {},
		}
		result.allowed_fields == ["case_id"]
	}
}

test_privacy_officers_read_no_case_content if {
	every type in ["court_case", "referral", "victim_record", "rj_case", "consent"] {
		result := access.decision with input as {
			"subject": privacy, "action": "read", "purpose": "audit", "now": now,
			"resource": {"type": type, "case_id": "case-1", "fields": ["case_id", "decisions"]},
			"case": {"responsible": object.union(responsible, {"audit": "privacy-office"})},
		}
		result.decision == "deny"
		result.withheld.case_id == "audit_reads_no_case_content"
	}
}

grant_for(user) := {
	"grant_id": "g-1", "agency": "police", "user": user, "data_classes": ["victim.location"],
	"reason_code": "imminent_risk_to_life", "expires_at": "2026-11-23T12:00:00Z",
}

break_glass_request(user, case_facts) := {
	"subject": {"agency": "police", "role": "supervisor", "org": "south-police", "user": user},
	"action": "read",
	"purpose": "emergency",
	"now": now,
	"resource": {"type": "victim_record", "case_id": "case-1", "fields": ["case_id", "address", "support_notes"]},
	"case": case_facts,
}

test_break_glass_is_the_one_way_across_organisations if {
	result := access.decision with input as break_glass_request("sup-9", {
		"responsible": responsible,
		"emergency_grant": grant_for("sup-9"),
	})
	result.allowed_fields == ["address"]
	result.lawful_basis == {"victim.location": "emergency"}
	result.break_glass == true
	result.withheld.case_id == "other_organisation"
	result.withheld.support_notes == "other_organisation"
}

test_break_glass_needs_the_users_own_valid_grant if {
	every grant in [null, grant_for("someone-else"), object.union(grant_for("sup-9"), {"expires_at": "2026-11-23T09:00:00Z"})] {
		result := access.decision with input as break_glass_request("sup-9", {"responsible": responsible, "emergency_grant": grant})
		result.decision == "deny"
	}
}

# --- changes -----------------------------------------------------------------------------------

change_request(subject, resource, case_facts) := {"subject": subject, "resource": resource, "case": case_facts}

subject_of(agency, role, org) := {"agency": agency, "role": role, "org": org, "user": concat("-", [agency, role])}

case_facts := {"responsible": responsible, "jurisdiction": "england-wales"}

# [agency, role, resource type, organisation, expected reason]
change_rows := [
	["police", "officer", "referral", "north-police", "permitted"],
	["police", "supervisor", "referral", "south-police", "other_organisation"],
	["victim_services", "advocate", "victim_record", "north-advocacy", "permitted"],
	["victim_services", "advocate", "victim_record", "south-advocacy", "other_organisation"],
	["court", "judge", "court_case", "north-court", "permitted"],
	["court", "clerk", "court_case", "south-court", "other_organisation"],
	["rj_provider", "coordinator", "rj_case", "north-rj", "permitted"],
	["rj_provider", "supervisor", "rj_case", "north-rj", "permitted"],
	["rj_provider", "coordinator", "rj_case", "south-rj", "other_organisation"],
	["rj_provider", "facilitator", "rj_case", "north-rj", "not_assigned"],
	["police", "officer", "victim_record", "north-police", "wrong_agency"],
	["police", "officer", "victim_record", "south-police", "other_organisation"],
	["court", "judge", "referral", "north-court", "wrong_agency"],
	["court", "judge", "referral", "south-court", "other_organisation"],
	["audit", "privacy_officer", "court_case", "privacy-office", "wrong_agency"],
	["press", "officer", "referral", "north-police", "unknown_agency"],
	["police", "judge", "referral", "north-police", "unknown_role"],
	["police", "officer", "diary", "north-police", "unknown_resource"],
]

test_change_matrix if {
	failures := [{"row": row, "got": got} |
		some row in change_rows
		got := changed(change_request(subject_of(row[0], row[1], row[3]), {"type": row[2]}, case_facts)).reason
		got != row[4]
	]
	print("change failures:", failures)
	count(failures) == 0
}

permitted(reason) if reason == "permitted"

else := false

test_change_allowed_only_when_permitted if {
	wrong := [row |
		some row in change_rows
		result := changed(change_request(subject_of(row[0], row[1], row[3]), {"type": row[2]}, case_facts))
		result.allowed != permitted(row[4])
	]
	count(wrong) == 0
}

test_assigned_facilitator_changes_the_case if {
	subject := {"agency": "rj_provider", "role": "facilitator", "org": "north-rj", "user": "fac-1"}
	changed(change_request(subject, {"type": "rj_case", "assigned_facilitators": ["fac-1"]}, case_facts)).allowed
	not changed(change_request(subject, {"type": "rj_case", "assigned_facilitators": ["fac-2"]}, case_facts)).allowed
	other := object.union(subject, {"org": "south-rj"})
	changed(change_request(other, {"type": "rj_case", "assigned_facilitators": ["fac-1"]}, case_facts)).reason == "other_organisation"
}

item(agency) := {"type": "agreement_item", "monitoring_agency": agency}

test_agreement_items_are_reported_by_the_monitoring_agencys_responsible_organisation if {
	changed(change_request(subject_of("police", "officer", "north-police"), item("police"), case_facts)).allowed
	changed(change_request(subject_of("police", "officer", "south-police"), item("police"), case_facts)).reason == "other_organisation"
	changed(change_request(subject_of("police", "officer", "north-police"), item("rj_provider"), case_facts)).reason == "wrong_agency"
	changed(change_request(subject_of("rj_provider", "facilitator", "north-rj"), item("rj_provider"), case_facts)).reason == "not_assigned"
	changed(change_request(subject_of("rj_provider", "coordinator", "north-rj"), item("rj_provider"), case_facts)).allowed
	changed(change_request(subject_of("court", "clerk", "north-court"), item("court"), case_facts)).allowed
	changed(change_request(subject_of("victim_services", "advocate", "north-advocacy"), item("victim_services"), case_facts)).allowed
}

test_intake_decided_by_a_manager_of_a_provider_serving_the_jurisdiction_before_acceptance if {
	before := {"responsible": {"police": "north-police"}, "jurisdiction": "england-wales"}
	after := {"responsible": {"police": "north-police", "rj_provider": "north-rj"}, "jurisdiction": "england-wales"}
	changed(change_request(subject_of("rj_provider", "coordinator", "south-rj"), {"type": "intake"}, before)).allowed
	changed(change_request(subject_of("rj_provider", "facilitator", "south-rj"), {"type": "intake"}, before)).reason == "coordinator_only"
	changed(change_request(subject_of("rj_provider", "coordinator", "scotland-rj"), {"type": "intake"}, before)).reason == "other_organisation"
	changed(change_request(subject_of("rj_provider", "coordinator", "south-rj"), {"type": "intake"}, after)).reason == "other_organisation"

	# The accepting provider still reaches its entry; the domain then says what state it is in.
	changed(change_request(subject_of("rj_provider", "coordinator", "north-rj"), {"type": "intake"}, after)).allowed
}

test_facilitators_are_managed_by_their_own_provider if {
	resource := {"type": "facilitator", "owner_org": "north-rj"}
	changed(change_request(subject_of("rj_provider", "coordinator", "north-rj"), resource, {})).allowed
	changed(change_request(subject_of("rj_provider", "coordinator", "south-rj"), resource, {})).reason == "other_organisation"
	changed(change_request(subject_of("rj_provider", "facilitator", "north-rj"), resource, {})).reason == "coordinator_only"
}

test_change_is_defined_for_any_input if {
	every junk in [{}, {"subject": "x"}, {"subject": {}, "resource": [], "case": 3}] {
		result := access.change with input as junk
		result.allowed == false
	}
}

# SPEC section 4 names emergency access in the police column only: another RJ provider's
# supervisor holding a grant still reads nothing of the case.
test_break_glass_across_organisations_is_for_police_only if {
	request := object.union(
		break_glass_request("sup-9", {
			"responsible": responsible,
			"emergency_grant": object.union(grant_for("sup-9"), {"agency": "rj_provider"}),
		}),
		{"subject": {"agency": "rj_provider", "role": "supervisor", "org": "south-rj", "user": "sup-9"}},
	)
	result := access.decision with input as request
	result.decision == "deny"
}
