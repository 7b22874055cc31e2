package accord.packs_test

import data.accord.jurisdiction
import data.accord.packs

pack_names := {"england-wales", "scotland", "new-zealand", "nova-scotia"}

# The jurisdiction package names each pack by hand; a pack added to the data but not there would
# silently be an unknown jurisdiction.
test_every_pack_in_the_data_is_known if {
	{name | some name, pack in data.accord.packs; is_object(pack)} == pack_names
	object.keys(jurisdiction.packs) == pack_names
}

test_every_pack_is_complete_and_safe if {
	every name, pack in jurisdiction.packs {
		is_string(pack.name)
		is_boolean(pack.rj_in_domestic_abuse_permitted)
		not "offender" in pack.permitted_initiators
		every initiator in pack.permitted_initiators {
			initiator in {"victim", "victim_advocate", "police", "court"}
		}
		pack.requires_acknowledgement == true
		is_boolean(pack.requires_guilty_plea)
		is_boolean(pack.indirect_permitted)
		object.keys(pack.deadlines) == {"victim_information_working_days", "victim_support_referral_working_days"}
		every days in pack.deadlines {
			is_number(days)
			days > 0
		}
		name in pack_names
	}
}

test_pack_values if {
	data.accord.packs["england-wales"].deadlines == {"victim_information_working_days": 5, "victim_support_referral_working_days": 2}
	data.accord.packs["england-wales"].direct_max_band == "medium"
	data.accord.packs.scotland.direct_max_band == "standard"
	data.accord.packs.scotland.permitted_initiators == ["victim", "victim_advocate"]
	data.accord.packs["new-zealand"].direct_max_band == "medium"
	data.accord.packs["nova-scotia"].rj_in_domestic_abuse_permitted == false
	data.accord.packs["nova-scotia"].indirect_permitted == false
	data.accord.packs["nova-scotia"].direct_max_band == null
	every name in pack_names - {"nova-scotia"} {
		data.accord.packs[name].rj_in_domestic_abuse_permitted == true
		data.accord.packs[name].indirect_permitted == true
	}
	every name in pack_names - {"scotland"} {
		data.accord.packs[name].permitted_initiators == ["victim", "victim_advocate", "police", "court"]
	}
}

band_rows := [
	{"j": "england-wales", "band": "standard", "want": true},
	{"j": "england-wales", "band": "medium", "want": true},
	{"j": "england-wales", "band": "high", "want": false},
	{"j": "scotland", "band": "standard", "want": true},
	{"j": "scotland", "band": "medium", "want": false},
	{"j": "scotland", "band": "high", "want": false},
	{"j": "new-zealand", "band": "standard", "want": true},
	{"j": "new-zealand", "band": "medium", "want": true},
	{"j": "new-zealand", "band": "high", "want": false},
	{"j": "nova-scotia", "band": "standard", "want": false},
	{"j": "nova-scotia", "band": "medium", "want": false},
	{"j": "atlantis", "band": "standard", "want": false},
	{"j": "england-wales", "band": null, "want": false},
	{"j": "england-wales", "band": "Standard", "want": false},
	{"j": "direct_band_allowed", "band": "standard", "want": false},
]

test_direct_band_allowed if {
	found := [failure |
		some row in band_rows
		got := packs.direct_band_allowed with input as {"jurisdiction": row.j, "risk_band": row.band}
		got != row.want
		failure := {"row": row, "got": got}
	]
	print("direct band failures:", found)
	count(found) == 0
}

test_direct_band_allowed_without_input if {
	not packs.direct_band_allowed
}

test_direct_max_band if {
	found := [failure |
		some row in [
			{"j": "england-wales", "want": "medium"},
			{"j": "scotland", "want": "standard"},
			{"j": "new-zealand", "want": "medium"},
			{"j": "nova-scotia", "want": null},
		]
		got := packs.direct_max_band with input as {"jurisdiction": row.j}
		got != row.want
		failure := {"row": row, "got": got}
	]
	print("direct max band failures:", found)
	count(found) == 0
}

test_direct_max_band_is_undefined_for_unknown_jurisdictions if {
	every jurisdiction in ["atlantis", null, "direct_band_allowed", "direct_max_band"] {
		not packs.direct_max_band with input as {"jurisdiction": jurisdiction}
	}
}

test_every_pack_has_an_emergency_number_and_a_helpline if {
	every _, pack in jurisdiction.packs {
		count(pack.help) >= 2
		pack.help[0].name == "Emergency"
		every line in pack.help {
			object.keys(line) == {"name", "number", "note"}
			regex.match(`^[0-9][0-9 ]{1,15}$`, line.number)
		}
	}
}

test_help_numbers_of_spec_section_7 if {
	numbers := {name: {line.number | some line in packs.help with input as {"jurisdiction": name}} |
		some name in pack_names
	}
	numbers["england-wales"] == {"999", "0808 2000 247"}
	numbers.scotland == {"999", "0800 027 1234"}
	numbers["new-zealand"] == {"111", "0800 733 843"}
	numbers["nova-scotia"] == {"911", "211"}
}

test_help_is_empty_for_unknown_jurisdictions if {
	packs.help == [] with input as {"jurisdiction": "atlantis"}
	packs.help == [] with input as {}
}
