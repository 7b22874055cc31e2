"""Example referral bodies shared by the cross-service tests."""

from __future__ import annotations

from typing import Any

# The SafeLives DASH checklist in its own order, so `yes=n` answers its first n questions yes.
DASH_CODES = (
    "current_injury",
    "very_frightened",
    "afraid_of_further_injury",
    "isolated",
    "feeling_depressed",
    "separation",
    "conflict_over_child_contact",
    "stalking_harassment",
    "pregnant_or_recent_birth",
    "abuse_more_often",
    "abuse_getting_worse",
    "controlling_jealous",
    "weapons_used",
    "threats_to_kill",
    "attempted_strangulation",
    "sexual_abuse",
    "other_person_threatened",
    "hurt_others",
    "hurt_animals",
    "financial_issues",
    "substance_misuse_mental_health",
    "threats_of_suicide",
    "breached_bail_or_order",
    "criminal_history",
)


def dash(yes: int = 3, judgement_high: bool = False) -> dict[str, Any]:
    return {
        "answers": {code: i < yes for i, code in enumerate(DASH_CODES)},
        "professional_judgement_high": judgement_high,
    }


# The directory's organisations serving each jurisdiction, for the default parties of a referral.
PREFIX = {
    "england-wales": "north",
    "scotland": "scotland",
    "new-zealand": "nz",
    "nova-scotia": "ns",
}


def referral(
    jurisdiction: str = "england-wales",
    initiated_by: str = "victim",
    acknowledged: bool = True,
    yes: int = 3,
    court_reference: str | None = "T20260001",
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jurisdiction": jurisdiction,
        "initiated_by": initiated_by,
        "incident": {
            "date": "2026-10-01",
            "summary": "Assault at home address",
            "offence_type": "assault_occasioning_abh",
        },
        "victim": {"name": "Alex Victim", "date_of_birth": "1990-01-01"},
        "offender": {"name": "Sam Offender", "date_of_birth": "1988-05-05"},
        "offender_acknowledged": acknowledged,
        "guilty_plea": True,
        "court_reference": court_reference,
        "risk_assessment": dash(yes),
        "victim_services_org": f"{PREFIX.get(jurisdiction, 'north')}-advocacy",
    }
    if court_reference is not None:
        body["court_org"] = f"{PREFIX.get(jurisdiction, 'north')}-court"
    body.update(overrides)
    return body
