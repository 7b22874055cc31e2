# Helper for the conference service's gate: may direct RJ proceed at this risk band here?
# Input: {"jurisdiction": "...", "risk_band": "standard|medium|high"}.
package accord.packs

import data.accord.jurisdiction

default direct_band_allowed := false

direct_band_allowed if {
	jurisdiction.direct_band_allowed(jurisdiction.packs[input.jurisdiction], input.risk_band)
}

# The highest risk band at which direct RJ may proceed in a jurisdiction (null: never).
# Input: {"jurisdiction": "..."}; undefined for an unknown jurisdiction.
direct_max_band := object.get(jurisdiction.packs[input.jurisdiction], "direct_max_band", null)

# The emergency number and helplines of a jurisdiction, shown to victims in the victim view
# (SPEC section 7; a deployment reviews them). Input: {"jurisdiction": "..."}; [] if unknown.
default help := []

help := jurisdiction.packs[input.jurisdiction].help
