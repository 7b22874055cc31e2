# Masking of OPA decision logs. Log pipelines and operators must never receive victim data
# (SPEC section 6). Accord's inputs are designed to carry only ids, codes, instants and field
# names, so this is the second line of defence against a caller that sends more than the
# contract asks for: an allow-list, not a deny-list. Every value is removed unless its key is
# listed below for the decision being logged and it has the listed type.
package system.log

# Leaf types: "string", "boolean", "strings" (array of strings). An object lists its allowed
# keys; {"[]": element} is an array whose elements follow `element`.
access_item := {
	"resource": {
		"type": "string",
		"case_id": "string",
		"fields": "strings",
		"assigned_facilitators": "strings",
	},
	# Consent provisions and the grant's reason code describe the victim's choices and
	# circumstances; they are left out on purpose. The risk band stays, because it explains a
	# `safeguarding` lawful basis in the audit trail.
	"case": {
		"risk_band": "string",
		"outcome_consent_all_parties": "boolean",
		"emergency_grant": {
			"grant_id": "string",
			"agency": "string",
			"user": "string",
			"data_classes": "strings",
			"expires_at": "string",
		},
	},
}

access_schema := object.union(access_item, {
	"subject": {"agency": "string", "role": "string", "org": "string", "user": "string"},
	"action": "string",
	"purpose": "string",
	"now": "string",
	"items": {"[]": access_item},
})

jurisdiction_schema := {
	"jurisdiction": "string",
	"initiated_by": "string",
	"offender_acknowledged": "boolean",
	"guilty_plea": "boolean",
	"risk_band": "string",
}

schema := access_schema if {
	within(input.path, "accord/access")
} else := jurisdiction_schema if {
	within(input.path, "accord/eligibility")
} else := jurisdiction_schema if {
	within(input.path, "accord/packs")
}

within(path, package_path) if path == package_path

within(path, package_path) if startswith(path, concat("", [package_path, "/"]))

# Ad-hoc queries, whole-document reads and any other decision: nothing is known about the input,
# so none of it is logged, nor the result, which may echo it.
mask contains "/input" if not schema

mask contains "/result" if not schema

mask contains "/input" if not accepted(schema, input.input)

mask contains pointer if {
	some path, value in nodes
	count(path) > 0
	every prefix_length in numbers.range(0, count(path) - 1) {
		container(array.slice(path, 0, prefix_length))
	}
	not accepted(schema_at(path), value)
	pointer := removal_pointer(path)
}

nodes[path] := value if walk(input.input, [path, value])

container(path) if {
	is_object(schema_at(path))
	accepted(schema_at(path), nodes[path])
}

schema_at(path) := object.get(schema, [schema_key(key) | some key in path], null)

schema_key(key) := "[]" if is_number(key)

else := key

accepted("string", value) if is_string(value)

accepted("boolean", value) if is_boolean(value)

accepted("strings", value) if {
	is_array(value)
	every element in value {
		is_string(element)
	}
}

accepted(node, value) if {
	is_object(node)
	object.keys(node) == {"[]"}
	is_array(value)
}

accepted(node, value) if {
	is_object(node)
	object.keys(node) != {"[]"}
	is_object(value)
}

# A key containing "/" or "~" cannot be addressed reliably by a JSON pointer, so the object that
# holds it is removed instead. Its ancestors are all allow-listed keys, which contain neither.
removal_pointer(path) := pointer(path) if {
	not regex.match(`[/~]`, sprintf("%v", [path[count(path) - 1]]))
} else := pointer(array.slice(path, 0, count(path) - 1))

pointer(path) := concat("/", array.concat(["/input"], [sprintf("%v", [key]) | some key in path]))
