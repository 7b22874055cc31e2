"""SPEC section 4 written out a second time, independently of the Rego, as the oracle the
property tests check real responses against. If the two ever disagree, one of them is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NEVER_FOR_OFFENDER_COMMUNICATION = {
    "victim.location",
    "safety.plan",
    "safety.flags",
    "support.notes",
}
NEVER_FOR_COURT = {"victim.location", "support.notes", "conference.notes"}


@dataclass
class Situation:
    agency: str
    role: str
    user: str
    purpose: str
    now: datetime
    provisions: list[dict[str, Any]] = field(default_factory=list)
    risk_band: str | None = None
    assigned: bool = False
    outcome_all_parties: bool = False
    grant: dict[str, Any] | None = None


def _consented(s: Situation, data_class: str) -> bool:
    def matches(p: dict[str, Any]) -> bool:
        start = datetime.fromisoformat(p["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(p["end"].replace("Z", "+00:00"))
        return (
            p["status"] == "active"
            and p["agency"] == s.agency
            and s.purpose in p["purposes"]
            and data_class in p["data_classes"]
            and start <= s.now < end
        )

    live = [p for p in s.provisions if matches(p)]
    return any(p["type"] == "permit" for p in live) and not any(p["type"] == "deny" for p in live)


def _emergency(s: Situation, data_class: str) -> bool:
    g = s.grant
    if g is None or s.purpose != "emergency" or s.role != "supervisor":
        return False
    if s.agency in ("victim_services", "court") or g["agency"] != s.agency:
        return False
    expires = datetime.fromisoformat(g["expires_at"].replace("Z", "+00:00"))
    return (
        s.now < expires
        and data_class in g["data_classes"]
        and data_class in ("victim.location", "safety.flags")
    )


def may_see(s: Situation, data_class: str) -> bool:
    """True when SPEC section 4 lets this subject see this class in this situation."""
    a = s.agency
    if s.purpose == "offender_communication" and data_class in NEVER_FOR_OFFENDER_COMMUNICATION:
        return False
    if a == "court" and data_class in NEVER_FOR_COURT:
        return False
    if a == "audit":
        return data_class == "case.core"
    if a not in ("police", "victim_services", "rj_provider", "court"):
        return False
    if data_class in (
        "case.core",
        "consent.summary",
        "compliance.status",
        "risk.band",
        "safety.plan.summary",
    ):
        return True
    if data_class in ("party.identity", "offence.details"):
        return a in ("police", "victim_services", "court") or (a == "rj_provider" and s.assigned)
    if data_class == "risk.assessment":
        return a in ("police", "victim_services") or (a == "rj_provider" and s.assigned)
    if data_class == "victim.location":
        if a == "victim_services":
            return True
        if a == "police":
            return _consented(s, data_class) or _emergency(s, data_class)
        return a == "rj_provider" and s.purpose == "case_management" and _consented(s, data_class)
    if data_class == "safety.flags":
        if a == "victim_services":
            return True
        if a == "police":
            return (
                _consented(s, data_class)
                or _emergency(s, data_class)
                or (s.risk_band == "high" and s.purpose == "safeguarding")
            )
        return a == "rj_provider" and _consented(s, data_class)
    if data_class == "safety.plan":
        return a == "victim_services" or (a == "rj_provider" and _consented(s, data_class))
    if data_class == "support.notes":
        return a == "victim_services"
    if data_class == "conference.notes":
        return a == "rj_provider"
    if data_class == "agreement.items":
        return a in ("police", "victim_services", "rj_provider") or (
            a == "court" and s.outcome_all_parties
        )
    return False  # unknown class: deny by default
