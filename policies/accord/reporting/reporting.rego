# Who may see which figures (SPEC section 10, issue 23). Reports hold counts only, never cases;
# still, figures are case data in aggregate, so each request is decided here and audited.
#
# Input: {"subject": {"user", "agency", "role", "org"}, "scope": "organisation" | "region"}.
# A manager of an organisation sees that organisation's figures: every case it is responsible
# for counts (the figures do not leave the organisation). A commissioner sees the region, the
# jurisdictions its organisation serves in the directory; there a case counts only where its
# jurisdiction pack's `statistics.basis` allows figures to leave the case's organisations:
# `lawful_basis` (the deployment names one) counts every case, `consent` only cases whose
# victim's consent to share is in force.
package accord.reporting

import data.accord.jurisdiction
import data.accord.organisations

manager_agencies := {"police", "victim_services", "rj_provider", "court"}

default decision := {"allow": false, "reason": "not_a_reporting_role"}

decision := {
	"allow": true,
	"reason": "own_organisation",
	"organisation": input.subject.org,
	"jurisdictions": null,
	"needs_consent": [],
} if {
	input.scope == "organisation"
	input.subject.role == "manager"
	input.subject.agency in manager_agencies
	known(input.subject.org, input.subject.agency)
}

decision := {
	"allow": true,
	"reason": "region",
	"organisation": null,
	"jurisdictions": region,
	"needs_consent": sort([j | some j in region; statistics_basis(j) != "lawful_basis"]),
} if {
	input.scope == "region"
	input.subject.agency == "commissioner"
	input.subject.role == "commissioner"
	known(input.subject.org, "commissioner")
}

decision := {"allow": false, "reason": "region_is_for_commissioners"} if {
	input.scope == "region"
	input.subject.agency != "commissioner"
}

region := sort([j |
	some organisation in organisations.organisations
	organisation.id == input.subject.org
	some j in organisation.jurisdictions
])

known(org, agency) if {
	some organisation in organisations.organisations
	organisation.id == org
	organisation.agency == agency
}

# A pack that names no basis requires consent: figures leave an organisation only when a
# deployment says on what basis.
statistics_basis(j) := object.get(object.get(jurisdiction.packs, j, {}), ["statistics", "basis"], "consent")
