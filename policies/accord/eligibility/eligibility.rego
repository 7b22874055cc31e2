# Eligibility of a referral for RJ under its jurisdiction pack. Every reason that applies is
# listed, so that a referrer sees all that stands in the way at once.
package accord.eligibility

import data.accord.jurisdiction

decision := {
	"outcome": outcome,
	"reasons": sort(reasons),
	"direct_max_band": object.get(pack, "direct_max_band", null),
	"deadlines": object.get(pack, "deadlines", {}),
}

pack := object.get(jurisdiction.packs, object.get(input, "jurisdiction", null), {})

known_pack if count(pack) > 0

reasons contains "unknown_jurisdiction" if not known_pack

reasons contains "rj_not_permitted_in_jurisdiction" if {
	known_pack
	object.get(pack, "rj_in_domestic_abuse_permitted", false) != true
}

# Principle 2: there is no path by which the person who caused harm starts a process.
reasons contains "offender_initiated" if input.initiated_by == "offender"

reasons contains "initiator_not_permitted" if {
	known_pack
	not object.get(input, "initiated_by", null) in object.get(pack, "permitted_initiators", [])
}

# A pack that does not state a requirement is read as imposing it: missing policy data must not
# open a path to RJ.
reasons contains "no_acknowledgement_of_responsibility" if {
	known_pack
	object.get(pack, "requires_acknowledgement", true) == true
	object.get(input, "offender_acknowledged", false) != true
}

reasons contains "no_guilty_plea" if {
	known_pack
	object.get(pack, "requires_guilty_plea", true) == true
	object.get(input, "guilty_plea", false) != true
}

# Without a current risk band nobody can judge whether RJ is safe, so nothing proceeds.
reasons contains "unknown_risk_band" if not jurisdiction.band_rank[object.get(input, "risk_band", null)]

reasons contains "risk_too_high_for_direct" if {
	known_pack
	jurisdiction.band_rank[input.risk_band]
	not jurisdiction.direct_band_allowed(pack, input.risk_band)
}

# Only the risk limit leaves room for indirect RJ (shuttle communication, letters); any other
# reason rules RJ out.
blocking := reasons - {"risk_too_high_for_direct"}

outcome := "ineligible" if {
	count(blocking) > 0
} else := "eligible_direct" if {
	not "risk_too_high_for_direct" in reasons
} else := "eligible_indirect_only" if {
	pack.indirect_permitted == true
} else := "ineligible"
