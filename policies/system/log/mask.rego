# Masking of OPA decision logs. Log pipelines and operators must never receive victim data
# (SPEC section 6). Accord's inputs are designed to carry only ids, codes, instants and field
# names, so this is the second line of defence against a caller that sends more than the
# contract asks for: an allow-list, not a deny-list. Every value is removed unless its key is
# listed below for the decision being logged and it has the listed type.
#
# OPA evaluates this mask for every logged decision, so each object of the input is checked once,
# against the shape of its own level, and the cost grows linearly with the input.
package system.log

# Types: "string", "boolean", "strings" (array of strings), "object" (an object checked key by key
# against its own shape by one of the `mask` rules below), "object_or_null" and "objects" (array
# of objects).
subject_shape := {"agency": "string", "role": "string", "org": "string", "user": "string"}

resource_shape := {
	"type": "string",
	"case_id": "string",
	"fields": "strings",
	"assigned_facilitators": "strings",
}

# Consent provisions and the grant's reason code describe the victim's choices and circumstances;
# they are left out on purpose. The risk band stays, because it explains a `safeguarding` lawful
# basis in the audit trail.
case_shape := {
	"risk_band": "string",
	"outcome_consent_all_parties": "boolean",
	"emergency_grant": "object_or_null",
}

grant_shape := {
	"grant_id": "string",
	"agency": "string",
	"user": "string",
	"data_classes": "strings",
	"expires_at": "string",
}

# One decision's own part: the whole input of `decision`, or one element of a batch's `items`.
item_shape := {"resource": "object", "case": "object"}

access_shape := object.union(item_shape, {
	"subject": "object",
	"action": "string",
	"purpose": "string",
	"now": "string",
	"items": "objects",
})

jurisdiction_shape := {
	"jurisdiction": "string",
	"initiated_by": "string",
	"offender_acknowledged": "boolean",
	"guilty_plea": "boolean",
	"risk_band": "string",
}

decision_family := "access" if {
	within(input.path, "accord/access")
} else := "jurisdiction" if {
	within(input.path, "accord/eligibility")
} else := "jurisdiction" if {
	within(input.path, "accord/packs")
}

within(path, package_path) if path == package_path

within(path, package_path) if startswith(path, concat("", [package_path, "/"]))

# Ad-hoc queries, whole-document reads and any other decision: nothing is known about the input,
# so none of it is logged, nor the result, which may echo it.
mask contains "/input" if not decision_family

mask contains "/result" if not decision_family

mask contains "/input" if {
	decision_family
	not is_object(input.input)
}

# Each level of the input is checked against its own shape, key by key: the decision itself (the
# whole input, or one batch item), then its subject, resource, case and emergency grant.
mask contains pointer if {
	some [at, holder, shape, decision] in decisions
	some key, member in decision
	not fits(object.get(shape, key, null), member)
	pointer := removal(at, holder, key)
}

mask contains pointer if {
	decision_family == "access"
	is_object(input.input.subject)
	some key, member in input.input.subject
	not fits(object.get(subject_shape, key, null), member)
	pointer := removal("/input/subject", "/input/subject", key)
}

mask contains pointer if {
	decision_family == "access"
	some [at, _, _, decision] in decisions
	some part, shape in decision_parts
	is_object(decision[part])
	some key, member in decision[part]
	not fits(object.get(shape, key, null), member)
	part_at := concat("/", [at, part])
	pointer := removal(part_at, part_at, key)
}

mask contains pointer if {
	decision_family == "access"
	some [at, _, _, decision] in decisions
	is_object(decision.case)
	is_object(decision.case.emergency_grant)
	some key, member in decision.case.emergency_grant
	not fits(object.get(grant_shape, key, null), member)
	grant_at := concat("", [at, "/case/emergency_grant"])
	pointer := removal(grant_at, grant_at, key)
}

decision_parts := {"resource": resource_shape, "case": case_shape}

# The decisions in the input, as [pointer, holder, shape, decision]. `holder` is what goes instead
# of a key that a pointer cannot address (see `removal`). For a batch item that is the whole of
# `items`, never the item alone: OPA applies removals one after the other, so removing one element
# would shift the index of every later one, and later removals would miss their target.
decisions := [["/input", "/input", jurisdiction_shape, input.input]] if {
	decision_family == "jurisdiction"
	is_object(input.input)
} else := array.concat(
	[["/input", "/input", access_shape, input.input]],
	[[sprintf("/input/items/%d", [index]), "/input/items", item_shape, item] | some index, item in batch_items],
) if {
	decision_family == "access"
	is_object(input.input)
}

# The items are only looked into when every one is an object; otherwise `items` does not fit its
# type and is removed whole, for the same reason.
batch_items := input.input.items if fits("objects", input.input.items)

else := []

fits("string", value) if is_string(value)

fits("boolean", value) if is_boolean(value)

fits("strings", value) if {
	is_array(value)
	every element in value {
		is_string(element)
	}
}

fits("object", value) if is_object(value)

fits("object_or_null", value) if is_object(value)

fits("object_or_null", null)

fits("objects", value) if {
	is_array(value)
	every element in value {
		is_object(element)
	}
}

# OPA splits a mask pointer at "/" and URL-escapes each segment before looking the key up, so a
# key holding any character that escaping changes (a space, "%", "/", non-ASCII, ...) is never
# found and its removal silently does nothing. Such a key takes its holder with it. "~" is left
# out too, because it is an escape in JSON pointers.
removal(at, holder, key) := concat("/", [at, key]) if {
	is_string(key)
	regex.match(`^[A-Za-z0-9_.-]+$`, key)
} else := holder
