# Lookups over the jurisdiction packs shared by eligibility and by the conference gate.
package accord.jurisdiction

# Each pack is named here rather than looked up by a variable key: package accord.packs holds
# rules beside the pack data, and a variable-key lookup of data.accord.packs would make those
# rules depend on themselves. A test checks that this list matches the data.
packs := {
	"england-wales": data.accord.packs["england-wales"],
	"scotland": data.accord.packs.scotland,
	"new-zealand": data.accord.packs["new-zealand"],
	"nova-scotia": data.accord.packs["nova-scotia"],
}

band_rank := {"standard": 0, "medium": 1, "high": 2}

# A pack without a direct limit (a moratorium) allows direct RJ at no band.
direct_band_allowed(pack, band) if band_rank[band] <= band_rank[pack.direct_max_band]
