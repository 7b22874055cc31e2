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

# The decision log event after masking. OPA applies the removals one after the other; json.remove
# applies them all at once, which gives the same event only if no removal shifts an array, i.e.
# every pointer names a key of an object. `logged` is undefined otherwise, so every test that
# uses it checks that too.
logged(event) := json.remove(event, pointers) if {
	pointers := log.mask with input as event
	every pointer in pointers {
		names_object_key(event, pointer)
	}
}

names_object_key(event, pointer) if {
	path := [path_key(segment) | some segment in split(trim_prefix(pointer, "/"), "/")]
	is_object(object.get(event, array.slice(path, 0, count(path) - 1), null))
}

path_key(segment) := to_number(segment) if regex.match(`^[0-9]+$`, segment)

else := segment

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
			{"resource": access_input.resource, "case": {"risk_band": "high"}, "victim_name": "A. Person"},
			{"resource": access_input.resource, "case": access_input.case},
		],
	}}
	log.mask == {
		"/input/items/0/case/consent_provisions",
		"/input/items/0/case/emergency_grant/reason_code",
		"/input/items/1/victim_name",
		"/input/items/2/case/consent_provisions",
		"/input/items/2/case/emergency_grant/reason_code",
	} with input as event
	logged(event).input.items == [
		{"resource": access_input.resource, "case": access_input_logged.case},
		{"resource": access_input.resource, "case": {"risk_band": "high"}},
		{"resource": access_input.resource, "case": access_input_logged.case},
	]
}

# Removing the odd element alone would shift the later ones under OPA's removals that follow it.
test_an_item_that_is_not_an_object_removes_all_items if {
	event := {"path": "accord/access/batch", "input": {
		"subject": access_input.subject,
		"items": [
			{"resource": access_input.resource, "case": access_input.case},
			"A. Person",
			{"resource": access_input.resource, "case": access_input.case, "victim_name": "A. Person"},
		],
	}}
	log.mask == {"/input/items"} with input as event
	logged(event).input == {"subject": access_input.subject}
}

# A stray key is removed at every level of an access input, in a single decision and in each item.
test_stray_keys_are_removed_at_every_level if {
	stray := {"victim_name": "A. Person"}
	decision := {
		"resource": object.union(access_input.resource, stray),
		"case": object.union(access_input_logged.case, {"emergency_grant": object.union(access_input_logged.case.emergency_grant, stray)}),
	}
	event := {"path": "accord/access/batch", "input": object.union(decision, {
		"subject": object.union(access_input.subject, stray),
		"items": [object.union(decision, stray), object.union(decision, stray)],
		"victim_name": "A. Person",
	})}
	log.mask == {
		"/input/victim_name",
		"/input/subject/victim_name",
		"/input/resource/victim_name",
		"/input/case/emergency_grant/victim_name",
		"/input/items/0/victim_name",
		"/input/items/0/resource/victim_name",
		"/input/items/0/case/emergency_grant/victim_name",
		"/input/items/1/victim_name",
		"/input/items/1/resource/victim_name",
		"/input/items/1/case/emergency_grant/victim_name",
	} with input as event
	not contains(json.marshal(logged(event)), "A. Person")
}

test_a_null_emergency_grant_is_kept if {
	event := {"path": "accord/access/decision", "input": {"case": {"risk_band": "high", "emergency_grant": null}}}
	log.mask == set() with input as event
}

# OPA URL-escapes each pointer segment before looking the key up, so a removal of any of these keys
# would silently do nothing.
test_keys_opa_cannot_address_remove_their_holder if {
	every key in ["victim name", "victim%20name", "victïm", "a/b", "a~b", "a?b", "a#b", ""] {
		stray := {key: "A. Person"}
		event := {"path": "accord/access/batch", "input": {
			"subject": object.union(access_input.subject, stray),
			"case": object.union(access_input_logged.case, {"emergency_grant": object.union(grant, stray)}),
			"items": [{"resource": access_input.resource}, {"resource": object.union(access_input.resource, stray)}],
		}}
		log.mask == {
			"/input/subject",
			"/input/case/emergency_grant",
			"/input/case/emergency_grant/reason_code",
			"/input/items/1/resource",
		} with input as event
		logged(event).input == {"case": json.remove(access_input_logged.case, ["/emergency_grant"]), "items": [
			{"resource": access_input.resource},
			{},
		]}
	}
}

# An item's own key that OPA cannot address could only go with the item, so `items` goes whole.
test_an_unaddressable_key_of_an_item_removes_all_items if {
	event := {"path": "accord/access/batch", "input": {
		"subject": access_input.subject,
		"items": [{"resource": access_input.resource}, {"resource": access_input.resource, "victim name": "A. Person"}],
	}}
	log.mask == {"/input/items"} with input as event
}

batch_fields := [sprintf("field_%d", [number]) | some number in numbers.range(1, 31)]

batch_item(index) := {
	"resource": {
		"type": "referral", "case_id": sprintf("case-%d", [index]),
		"fields": batch_fields, "assigned_facilitators": ["facilitator-7"],
	},
	"case": {
		"risk_band": "high",
		"consent_provisions": [{"consent_id": sprintf("consent-%d", [index]), "type": "permit"}],
		"outcome_consent_all_parties": false,
		"emergency_grant": grant,
	},
}

batch_stray(index) := {"victim_name": "A. Person"} if index % 10 == 0

else := {}

# A batch as large as the services send: every item loses its consent provisions and the reason
# code, and every tenth a stray key; nothing else is removed.
test_a_batch_of_100_items_is_masked_item_by_item if {
	items := [item |
		some index in numbers.range(0, 99)
		item := object.union(batch_item(index), batch_stray(index))
	]
	event := {"path": "accord/access/batch", "input": {
		"subject": access_input.subject, "action": "read", "purpose": "case_management",
		"now": access_input.now, "items": items,
	}}
	expected_mask := {pointer |
		some index in numbers.range(0, 99)
		some suffix in ["case/consent_provisions", "case/emergency_grant/reason_code"]
		pointer := sprintf("/input/items/%d/%s", [index, suffix])
	} | {sprintf("/input/items/%d/victim_name", [index]) | some index in numbers.range(0, 99); index % 10 == 0}
	count(expected_mask) == 210
	log.mask == expected_mask with input as event
	logged(event).input.items == [json.remove(batch_item(index), ["/case/consent_provisions", "/case/emergency_grant/reason_code"]) |
		some index in numbers.range(0, 99)
	]
	logged(event).input.subject == access_input.subject
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
