"""The debrief: what happened in a trainee's copy of a scenario, set against what the scenario
expects, each difference explained in practice terms.

What happened is read back, never remembered: the case's state from the services' own APIs
(the referral, the RJ case, the victim's consents) and the order of its events from the audit
log, each read with a training token of the agency that owns it, so the debrief sees what the
policy lets that agency see and its reads are themselves recorded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from accord_platform.training.play import Copy, Player, org_for
from accord_platform.training.scenario import Outcome, Role, Scalar, Scenario

# Who reads each service for the debrief: the trainer, as a supervisor of the owning agency.
READERS = {
    "referral": Role(agency="police", role="supervisor", description="debrief"),
    "conference": Role(agency="rj_provider", role="coordinator", description="debrief"),
    "victim-support": Role(agency="victim_services", role="supervisor", description="debrief"),
    "audit": Role(agency="audit", role="privacy_officer", description="debrief"),
}


@dataclass(frozen=True)
class Difference:
    fact: str
    expected: Scalar | list[Scalar]
    found: Scalar
    explanation: str
    refused_by_platform: bool


@dataclass
class Debrief:
    trainee: str
    scenario: str
    title: str
    facts: dict[str, Scalar]
    timeline: list[str]
    differences: list[Difference] = field(default_factory=list)
    practice_points: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "trainee": self.trainee,
            "scenario": self.scenario,
            "title": self.title,
            "facts": self.facts,
            "timeline": self.timeline,
            "differences": [d.__dict__ for d in self.differences],
            "practice_points": self.practice_points,
        }


def _matches(outcome: Outcome, found: Scalar) -> bool:
    if isinstance(outcome.equals, list):
        return found in outcome.equals
    return found == outcome.equals


def compare(scenario: Scenario, facts: Mapping[str, Scalar]) -> list[Difference]:
    return [
        Difference(o.fact, o.equals, facts.get(o.fact), o.otherwise, o.refused_by_platform)
        for o in scenario.outcomes
        if not _matches(o, facts.get(o.fact))
    ]


async def _read(player: Player, copy: Copy, service: str, path: str) -> Any:
    reader = READERS[service]
    role_name = f"debrief-{service}"
    scenario = copy.scenario.model_copy(
        update={"roles": {**copy.scenario.roles, role_name: reader}}
    )
    probe = Copy(copy.seed, copy.trainee, scenario, dict(copy.variables))
    headers = player.headers(probe, role_name)
    answer = await player.clients[service].get(path, headers=headers)
    return answer.json() if answer.status_code == 200 else None


async def find_case(player: Player, copy: Copy) -> str | None:
    """The copy's case: saved by its setup, or else the referral the trainee made with the
    copy's court reference."""
    if "case_id" in copy.variables:
        return copy.variables["case_id"]
    rows = await _read(player, copy, "referral", "/referrals?limit=500")
    for row in rows or []:
        if row.get("court_reference") == copy.variables["court_reference"]:
            copy.variables["case_id"] = str(row["case_id"])
            return copy.variables["case_id"]
    return None


async def facts_of(player: Player, copy: Copy) -> tuple[dict[str, Scalar], list[str]]:
    """The facts of the copy's case, and its timeline (event types from the audit log)."""
    facts: dict[str, Scalar] = {"referral.submitted": False, "rj_case.opened": False}
    case_id = await find_case(player, copy)
    if case_id is None:
        return facts, []
    referral = await _read(player, copy, "referral", f"/referrals/{case_id}") or {}
    if referral:
        facts["referral.submitted"] = True
        for name in ("status", "eligibility", "initiated_by", "jurisdiction", "risk_band"):
            facts[f"referral.{name}"] = referral.get(name)
        facts["referral.reassessment_required"] = bool(referral.get("reassessment_required"))
        facts["referral.incidents"] = len(referral.get("incidents") or [])
        facts["referral.risk_assessments"] = len(referral.get("risk_history") or [])
    rj_case = await _read(player, copy, "conference", f"/cases/{case_id}") or {}
    if rj_case:
        facts["rj_case.opened"] = True
        for name in ("status", "stage", "stop_reason", "modality", "facilitator_id"):
            facts[f"rj_case.{name}"] = rj_case.get(name)
        facts["rj_case.suspended"] = bool(rj_case.get("suspended"))
        facts["rj_case.conference_scheduled"] = rj_case.get("conference_at") is not None
        victim = next(
            (p for p in rj_case.get("preparation") or [] if p.get("participant") == "victim"),
            None,
        )
        facts["rj_case.victim_prepared"] = victim is not None
        facts["rj_case.victim_seen_alone"] = victim.get("seen_alone") if victim else None
        facts["rj_case.coercion_screen"] = victim.get("coercion_screen") if victim else None
        compliance = rj_case.get("compliance") or {}
        facts["rj_case.returned_to"] = compliance.get("returned_to")
    consents = await _read(player, copy, "victim-support", f"/cases/{case_id}/consents") or []
    participate = [c for c in consents if c.get("scope") == "participate"]
    facts["consent.participate"] = participate[-1].get("status") if participate else None
    events = await _read(player, copy, "audit", f"/cases/{case_id}/events") or []
    timeline = [str(e.get("type", "")) for e in events]
    counts = Counter(t.removeprefix("accord.").removesuffix(".v1") for t in timeline)
    for name in (
        "referral.incident_reported",
        "referral.risk_assessed",
        "conference.case_stopped",
        "conference.item_reported",
        "victim_support.emergency_access_granted",
        "court.review_decided",
    ):
        facts[f"events.{name}"] = counts.get(name, 0)
    return facts, timeline


async def debrief(player: Player, copy: Copy) -> Debrief:
    facts, timeline = await facts_of(player, copy)
    return Debrief(
        trainee=copy.trainee,
        scenario=copy.scenario.id,
        title=copy.scenario.title,
        facts=facts,
        timeline=timeline,
        differences=compare(copy.scenario, facts),
        practice_points=list(copy.scenario.practice_points),
    )


__all__ = ["Debrief", "Difference", "compare", "debrief", "facts_of", "find_case", "org_for"]
