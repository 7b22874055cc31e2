package accord.eligibility_test

import data.accord.eligibility

ew_deadlines := {"victim_information_working_days": 5, "victim_support_referral_working_days": 2}

# Each row is one referral; `reasons` lists every code that must come back, in sorted order.
rows := [
	# England and Wales: any of the four initiators, admission required, direct up to medium.
	{"j": "england-wales", "by": "victim", "ack": true, "plea": false, "band": "standard", "outcome": "eligible_direct", "reasons": []},
	{"j": "england-wales", "by": "victim_advocate", "ack": true, "plea": false, "band": "medium", "outcome": "eligible_direct", "reasons": []},
	{"j": "england-wales", "by": "police", "ack": true, "plea": false, "band": "high", "outcome": "eligible_indirect_only", "reasons": ["risk_too_high_for_direct"]},
	{"j": "england-wales", "by": "court", "ack": true, "plea": true, "band": "high", "outcome": "eligible_indirect_only", "reasons": ["risk_too_high_for_direct"]},
	{"j": "england-wales", "by": "victim", "ack": false, "plea": false, "band": "standard", "outcome": "ineligible", "reasons": ["no_acknowledgement_of_responsibility"]},
	{"j": "england-wales", "by": "victim", "ack": null, "plea": false, "band": "high", "outcome": "ineligible", "reasons": ["no_acknowledgement_of_responsibility", "risk_too_high_for_direct"]},
	{"j": "england-wales", "by": "offender", "ack": true, "plea": true, "band": "standard", "outcome": "ineligible", "reasons": ["initiator_not_permitted", "offender_initiated"]},
	{"j": "england-wales", "by": "neighbour", "ack": true, "plea": false, "band": "standard", "outcome": "ineligible", "reasons": ["initiator_not_permitted"]},
	{"j": "england-wales", "by": null, "ack": true, "plea": false, "band": "standard", "outcome": "ineligible", "reasons": ["initiator_not_permitted"]},
	{"j": "england-wales", "by": "victim", "ack": true, "plea": false, "band": null, "outcome": "ineligible", "reasons": ["unknown_risk_band"]},
	{"j": "england-wales", "by": "victim", "ack": true, "plea": false, "band": "extreme", "outcome": "ineligible", "reasons": ["unknown_risk_band"]},
	# Scotland: only the harmed person or someone on their behalf; direct at standard risk only.
	{"j": "scotland", "by": "victim", "ack": true, "plea": false, "band": "standard", "outcome": "eligible_direct", "reasons": []},
	{"j": "scotland", "by": "victim_advocate", "ack": true, "plea": false, "band": "medium", "outcome": "eligible_indirect_only", "reasons": ["risk_too_high_for_direct"]},
	{"j": "scotland", "by": "police", "ack": true, "plea": true, "band": "standard", "outcome": "ineligible", "reasons": ["initiator_not_permitted"]},
	{"j": "scotland", "by": "court", "ack": true, "plea": true, "band": "standard", "outcome": "ineligible", "reasons": ["initiator_not_permitted"]},
	{"j": "scotland", "by": "offender", "ack": false, "plea": false, "band": "high", "outcome": "ineligible", "reasons": ["initiator_not_permitted", "no_acknowledgement_of_responsibility", "offender_initiated", "risk_too_high_for_direct"]},
	# New Zealand: court-referred RJ follows a guilty plea.
	{"j": "new-zealand", "by": "court", "ack": true, "plea": true, "band": "medium", "outcome": "eligible_direct", "reasons": []},
	{"j": "new-zealand", "by": "victim", "ack": true, "plea": false, "band": "standard", "outcome": "ineligible", "reasons": ["no_guilty_plea"]},
	{"j": "new-zealand", "by": "police", "ack": true, "plea": true, "band": "high", "outcome": "eligible_indirect_only", "reasons": ["risk_too_high_for_direct"]},
	{"j": "new-zealand", "by": "police", "ack": false, "plea": null, "band": "high", "outcome": "ineligible", "reasons": ["no_acknowledgement_of_responsibility", "no_guilty_plea", "risk_too_high_for_direct"]},
	# Nova Scotia: moratorium, nothing proceeds, not even indirect RJ.
	{"j": "nova-scotia", "by": "victim", "ack": true, "plea": true, "band": "standard", "outcome": "ineligible", "reasons": ["risk_too_high_for_direct", "rj_not_permitted_in_jurisdiction"]},
	{"j": "nova-scotia", "by": "offender", "ack": false, "plea": false, "band": "high", "outcome": "ineligible", "reasons": ["initiator_not_permitted", "no_acknowledgement_of_responsibility", "offender_initiated", "risk_too_high_for_direct", "rj_not_permitted_in_jurisdiction"]},
	# Unknown jurisdictions: only the reasons that need no pack.
	{"j": "atlantis", "by": "victim", "ack": true, "plea": true, "band": "standard", "outcome": "ineligible", "reasons": ["unknown_jurisdiction"]},
	{"j": "atlantis", "by": "offender", "ack": false, "plea": false, "band": "lethal", "outcome": "ineligible", "reasons": ["offender_initiated", "unknown_jurisdiction", "unknown_risk_band"]},
	{"j": null, "by": "victim", "ack": true, "plea": true, "band": "standard", "outcome": "ineligible", "reasons": ["unknown_jurisdiction"]},
	# A rule that lives beside the pack data is not a pack.
	{"j": "direct_band_allowed", "by": "victim", "ack": true, "plea": true, "band": "standard", "outcome": "ineligible", "reasons": ["unknown_jurisdiction"]},
]

referral(row) := {
	"jurisdiction": row.j,
	"initiated_by": row.by,
	"offender_acknowledged": row.ack,
	"guilty_plea": row.plea,
	"risk_band": row.band,
}

outcome_for(referral) := {"outcome": d.outcome, "reasons": d.reasons} if {
	d := eligibility.decision with input as referral
} else := "<undefined>"

test_eligibility_table if {
	found := [failure |
		some row in rows
		got := outcome_for(referral(row))
		want := {"outcome": row.outcome, "reasons": row.reasons}
		got != want
		failure := {"row": row, "got": got}
	]
	print("eligibility failures:", found)
	count(found) == 0
}

# Principle 2, in every pack: even a perfect referral started by the offender is refused.
test_offender_initiated_is_refused_everywhere if {
	every jurisdiction in ["england-wales", "scotland", "new-zealand", "nova-scotia"] {
		d := eligibility.decision with input as {
			"jurisdiction": jurisdiction, "initiated_by": "offender",
			"offender_acknowledged": true, "guilty_plea": true, "risk_band": "standard",
		}
		d.outcome == "ineligible"
		"offender_initiated" in d.reasons
	}
}

test_decision_carries_pack_limits_and_deadlines if {
	d := eligibility.decision with input as {
		"jurisdiction": "england-wales", "initiated_by": "victim",
		"offender_acknowledged": true, "guilty_plea": false, "risk_band": "high",
	}
	d == {
		"outcome": "eligible_indirect_only",
		"reasons": ["risk_too_high_for_direct"],
		"direct_max_band": "medium",
		"deadlines": ew_deadlines,
	}
}

test_unknown_jurisdiction_has_no_limits if {
	d := eligibility.decision with input as {"jurisdiction": "atlantis", "initiated_by": "victim"}
	d.direct_max_band == null
	d.deadlines == {}
	d.reasons == ["unknown_jurisdiction", "unknown_risk_band"]
}

test_missing_answers_count_against_eligibility if {
	d := eligibility.decision with input as {"jurisdiction": "new-zealand", "initiated_by": "victim", "risk_band": "standard"}
	d.outcome == "ineligible"
	d.reasons == ["no_acknowledgement_of_responsibility", "no_guilty_plea"]
}

# Policy data that leaves a requirement out must not open a path to RJ.
test_pack_missing_fields_fails_closed if {
	d := eligibility.decision with data.accord.packs.scotland as {"name": "Scotland", "direct_max_band": "high"}
		with input as {"jurisdiction": "scotland", "initiated_by": "victim", "risk_band": "standard"}
	d.outcome == "ineligible"
	d.reasons == [
		"initiator_not_permitted", "no_acknowledgement_of_responsibility",
		"no_guilty_plea", "rj_not_permitted_in_jurisdiction",
	]
}

test_risk_above_limit_without_indirect_is_ineligible if {
	d := eligibility.decision with data.accord.packs.scotland.indirect_permitted as false
		with input as {
			"jurisdiction": "scotland", "initiated_by": "victim",
			"offender_acknowledged": true, "guilty_plea": false, "risk_band": "medium",
		}
	d.outcome == "ineligible"
	d.reasons == ["risk_too_high_for_direct"]
}
