# The victim view (issue 17): a victim reads only the victim-facing view of the one case their
# account is linked to; everything else does not exist for them, and the enrolment account reads
# nothing. Changes: a victim's own choices on their own case, nothing else.
package accord.access_victim_test

import data.accord.access

now := "2026-11-23T10:00:00Z"

victim := {"user": "sub-victim-1", "agency": "victim", "role": "victim", "org": "north-advocacy"}

linked := {"responsible": {"victim_services": "north-advocacy"}, "victim_accounts": ["sub-victim-1"]}

read(subject, type, fields, case) := d if {
	d := access.decision with input as {
		"subject": subject,
		"action": "read",
		"purpose": "case_management",
		"now": now,
		"resource": {"type": type, "case_id": "c1", "fields": fields},
		"case": case,
	}
}

test_victim_reads_own_view if {
	d := read(victim, "victim_view", ["stage", "next_step", "help"], linked)
	d.allowed_fields == ["help", "next_step", "stage"]
	d.lawful_basis == {"case.core": "data_subject_access"}
	d.decision == "permit"
}

test_victim_reads_own_consents_access_log_and_agreement if {
	read(victim, "victim_consent", ["consent_id", "status", "with_whom"], linked).allowed_fields == ["consent_id", "status", "with_whom"]
	read(victim, "victim_access_entry", ["agency", "at", "break_glass"], linked).allowed_fields == ["agency", "at", "break_glass"]
	read(victim, "victim_agreement", ["items"], linked).allowed_fields == ["items"]
}

test_victim_view_of_another_case_does_not_exist if {
	other := {"responsible": {"victim_services": "north-advocacy"}, "victim_accounts": ["sub-victim-2"]}
	d := read(victim, "victim_view", ["stage"], other)
	d.allowed_fields == []
	d.withheld == {"stage": "other_organisation"}
	read(victim, "victim_view", ["stage"], {}).withheld == {"stage": "other_organisation"}
	revoked := {"responsible": {"victim_services": "north-advocacy"}, "victim_accounts": []}
	read(victim, "victim_view", ["stage"], revoked).withheld == {"stage": "other_organisation"}
}

test_victim_reads_no_staff_resource_even_of_own_case if {
	every type in ["victim_record", "safety_flags", "safety_plan", "consent", "consent_summary", "referral", "rj_case", "court_case", "audit_entry", "victim_notifications"] {
		d := read(victim, type, ["case_id"], linked)
		d.allowed_fields == []
		d.withheld == {"case_id": "other_organisation"}
	}
}

test_victim_never_reads_location_or_notes_through_a_view if {
	# A field wrongly classified into a view would still not open a staff-only class.
	d := read(victim, "victim_record", ["address", "support_notes"], linked)
	d.allowed_fields == []
}

test_staff_do_not_read_victim_views_of_other_organisations if {
	advocate := {"user": "a1", "agency": "victim_services", "role": "advocate", "org": "south-advocacy"}
	read(advocate, "victim_view", ["stage"], linked).withheld == {"stage": "other_organisation"}
}

test_enrolment_account_reads_nothing if {
	enrolment := {"user": "svc", "agency": "victim_services", "role": "enrolment", "org": "north-advocacy"}
	d := read(enrolment, "victim_record", ["case_id", "name"], linked)
	d.allowed_fields == []
	d.withheld == {"case_id": "enrolment_reads_no_case", "name": "enrolment_reads_no_case"}
}

change(subject, type, case) := d if {
	d := access.change with input as {
		"subject": subject,
		"command": "withdraw_consent",
		"resource": {"type": type},
		"case": case,
	}
}

test_victim_changes_own_choices_only if {
	change(victim, "victim_view", linked) == {"allowed": true, "reason": "permitted"}
	other := {"responsible": {"victim_services": "north-advocacy"}, "victim_accounts": ["sub-victim-2"]}
	change(victim, "victim_view", other) == {"allowed": false, "reason": "other_organisation"}
	change(victim, "victim_record", linked) == {"allowed": false, "reason": "wrong_agency"}
	change(victim, "referral", {"victim_accounts": ["sub-victim-1"]}) == {"allowed": false, "reason": "wrong_agency"}
}

test_staff_cannot_make_the_victims_choices if {
	advocate := {"user": "a1", "agency": "victim_services", "role": "advocate", "org": "north-advocacy"}
	change(advocate, "victim_view", linked) == {"allowed": false, "reason": "wrong_agency"}
}

test_enrolment_account_changes_nothing if {
	enrolment := {"user": "svc", "agency": "victim_services", "role": "enrolment", "org": "north-advocacy"}
	change(enrolment, "victim_record", linked) == {"allowed": false, "reason": "wrong_agency"}
}
