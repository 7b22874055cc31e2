package accord.reporting_test

import data.accord.reporting

manager(agency, org) := {"user": "m1", "agency": agency, "role": "manager", "org": org}

commissioner := {"user": "c1", "agency": "commissioner", "role": "commissioner", "org": "north-commissioner"}

test_a_manager_sees_their_own_organisation if {
	d := reporting.decision with input as {"subject": manager("police", "north-police"), "scope": "organisation"}
	d.allow
	d.organisation == "north-police"
}

test_every_agency_has_managers if {
	every pair in [["victim_services", "north-advocacy"], ["rj_provider", "north-rj"], ["court", "north-court"]] {
		reporting.decision.allow with input as {"subject": manager(pair[0], pair[1]), "scope": "organisation"}
	}
}

test_a_manager_of_an_unknown_organisation_is_refused if {
	not reporting.decision.allow with input as {"subject": manager("police", "nowhere"), "scope": "organisation"}
}

test_a_manager_naming_another_agencys_organisation_is_refused if {
	not reporting.decision.allow with input as {"subject": manager("police", "north-rj"), "scope": "organisation"}
}

test_other_roles_see_no_figures if {
	officer := {"user": "o1", "agency": "police", "role": "officer", "org": "north-police"}
	d := reporting.decision with input as {"subject": officer, "scope": "organisation"}
	not d.allow
	d.reason == "not_a_reporting_role"
}

test_a_manager_does_not_see_the_region if {
	d := reporting.decision with input as {"subject": manager("police", "north-police"), "scope": "region"}
	not d.allow
	d.reason == "region_is_for_commissioners"
}

test_a_commissioner_sees_the_jurisdictions_of_their_region if {
	d := reporting.decision with input as {"subject": commissioner, "scope": "region"}
	d.allow
	d.organisation == null
	d.jurisdictions == ["england-wales"]
}

test_a_pack_without_a_named_lawful_basis_needs_consent if {
	d := reporting.decision with input as {"subject": commissioner, "scope": "region"}
		with data.accord.jurisdiction.packs as {"england-wales": {}}
	d.needs_consent == ["england-wales"]
}

test_a_pack_naming_a_lawful_basis_counts_every_case if {
	d := reporting.decision with input as {"subject": commissioner, "scope": "region"}
		with data.accord.jurisdiction.packs as {"england-wales": {"statistics": {"basis": "lawful_basis"}}}
	d.needs_consent == []
}

test_the_shipped_packs_name_a_basis if {
	every pack in data.accord.jurisdiction.packs {
		pack.statistics.basis in {"consent", "lawful_basis"}
	}
}

test_a_commissioner_of_an_unknown_organisation_is_refused if {
	stranger := object.union(commissioner, {"org": "nowhere"})
	not reporting.decision.allow with input as {"subject": stranger, "scope": "region"}
}
