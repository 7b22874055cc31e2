package system.log_test

import data.system.log

grant := {
	"grant_id": "grant-1", "agency": "police", "user": "sup-1",
	"data_classes": ["victim.location"], "reason_code": "imminent_risk_to_life",
	"expires_at": "2026-11-23T11:00:00Z",
}

access_input := {
	"subject": {"agency": "police", "role": "supervisor", "org": "met", "user": "sup-1"},
	"action": "read",
	"purpose": "emergency",
	"now": "2026-11-23T10:00:00Z",
	"resource": {
		"type": "victim_record", "case_id": "case-1",
		"fields": ["case_id", "address"], "assigned_facilitators": ["facilitator-7"],
	},
	"case": {
		"risk_band": "high",
		"consent_provisions": [{"consent_id": "consent-1", "type": "permit", "data_classes": ["victim.location"]}],
		"outcome_consent_all_parties": false,
		"emergency_grant": grant,
	},
}

# What may be logged of access_input: ids, subject, purpose, field names; no consent provisions,
# no reason for the emergency.
access_input_logged := json.remove(access_input, ["/case/consent_provisions", "/case/emergency_grant/reason_code"])

# The decision log event after masking, as OPA applies it (JSON pointer removals).
logged(event) := json.remove(event, [pointer | some pointer in log.mask with input as event])

test_access_decision_keeps_ids_and_drops_victim_choices if {
	event := {"path": "accord/access/decision", "input": access_input, "result": {"decision": "permit"}}
	log.mask == {"/input/case/consent_provisions", "/input/case/emergency_grant/reason_code"} with input as event
	logged(event) == {"path": "accord/access/decision", "input": access_input_logged, "result": {"decision": "permit"}}
}

test_whole_access_package_is_masked_like_the_decision if {
	event := {"path": "accord/access", "input": access_input}
	logged(event).input == access_input_logged
}

test_unexpected_keys_and_types_are_removed if {
	event := {"path": "accord/access/decision", "input": object.union(access_input, {
		"victim": {"name": "A. Person", "address": "1 High Street"},
		"subject": {"name": "A. Person", "user": {"email": "a@example.org"}},
		"resource": {"fields": ["case_id", {"address": "1 High Street"}], "notes": "sensitive"},
		"case": {"risk_band": ["high", "stalking"], "emergency_grant": {"justification": "free text"}},
		"now": 1764000000,
	})}
	logged(event).input == {
		"subject": {"agency": "police", "role": "supervisor", "org": "met"},
		"action": "read",
		"purpose": "emergency",
		"resource": {"type": "victim_record", "case_id": "case-1", "assigned_facilitators": ["facilitator-7"]},
		"case": {"outcome_consent_all_parties": false, "emergency_grant": json.remove(grant, ["/reason_code"])},
	}
}

test_batch_items_are_masked_one_by_one if {
	event := {"path": "accord/access/batch", "input": {
		"subject": access_input.subject,
		"action": "read",
		"purpose": "case_management",
		"now": access_input.now,
		"items": [
			{"resource": access_input.resource, "case": access_input.case},
			"A. Person",
			{"resource": access_input.resource, "case": {"risk_band": "high"}, "victim_name": "A. Person"},
		],
	}}
	log.mask == {
		"/input/items/0/case/consent_provisions",
		"/input/items/0/case/emergency_grant/reason_code",
		"/input/items/1",
		"/input/items/2/victim_name",
	} with input as event
	logged(event).input.items == [
		{"resource": access_input.resource, "case": access_input_logged.case},
		{"resource": access_input.resource, "case": {"risk_band": "high"}},
	]
}

test_items_that_are_not_a_list_are_removed if {
	event := {"path": "accord/access/batch", "input": {"subject": access_input.subject, "items": {"0": {"case": {}}}}}
	log.mask == {"/input/items"} with input as event
}

# A key that a JSON pointer cannot address takes its whole parent with it.
test_unaddressable_key_removes_its_parent if {
	event := {"path": "accord/access/decision", "input": {
		"subject": access_input.subject,
		"case": {"risk_band": "high", "address/line1": "1 High Street"},
	}}
	log.mask == {"/input/case"} with input as event
	logged(event).input == {"subject": access_input.subject}
}

test_unaddressable_top_level_key_removes_the_input if {
	event := {"path": "accord/access/decision", "input": {"subject": access_input.subject, "a~b": "x"}}
	log.mask == {"/input"} with input as event
}

eligibility_input := {
	"jurisdiction": "england-wales", "initiated_by": "victim",
	"offender_acknowledged": true, "guilty_plea": false, "risk_band": "medium",
}

test_eligibility_and_packs_keep_their_codes if {
	every path in ["accord/eligibility/decision", "accord/packs/direct_band_allowed", "accord/packs"] {
		event := {"path": path, "input": object.union(eligibility_input, {"victim_name": "A. Person"})}
		log.mask == {"/input/victim_name"} with input as event
		logged(event).input == eligibility_input
	}
}

test_input_that_is_not_an_object_is_removed if {
	every path in ["accord/access/decision", "accord/eligibility/decision"] {
		log.mask == {"/input"} with input as {"path": path, "input": "A. Person"}
	}
}

# Ad-hoc queries, whole-document reads and lookalike paths: nothing is known about the input, and
# the result may echo it.
test_other_decisions_drop_the_input if {
	every event in [
		{"path": "accord/catalogue", "input": eligibility_input, "result": {}},
		{"path": "accord/accessories", "input": eligibility_input, "result": {}},
		{"path": "", "input": eligibility_input, "result": {}},
		{"query": "x := input.name", "input": {"name": "A. Person"}, "result": [{"x": "A. Person"}]},
	] {
		log.mask == {"/input", "/result"} with input as event
		object.keys(logged(event)) == object.keys(event) - {"input", "result"}
	}
}
