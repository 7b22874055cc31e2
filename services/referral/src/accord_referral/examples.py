"""Example referral bodies for `POST /referrals`: the one copy the demo, the tests and the
benchmarks build their referrals from. The DASH answers come from the checklist the domain
scores (`domain.dash.QUESTIONS`), so a question added there reaches every example. All names,
dates and references are fictional."""

from __future__ import annotations

from typing import Any

from accord_referral.domain.dash import QUESTION_CODES

# The SafeLives DASH checklist in its own order, so `yes=n` answers its first n questions yes.
DASH_CODES: tuple[str, ...] = QUESTION_CODES

# The directory's organisations serving each jurisdiction (policies/accord/organisations): the
# default victim-services organisation and court of an example referral.
ORG_PREFIX = {
    "england-wales": "north",
    "scotland": "scotland",
    "new-zealand": "nz",
    "nova-scotia": "ns",
}


def dash(yes: int = 3, judgement_high: bool = False) -> dict[str, Any]:
    """A complete DASH assessment answering its first `yes` questions yes (3: standard risk)."""
    return {
        "answers": {code: i < yes for i, code in enumerate(DASH_CODES)},
        "professional_judgement_high": judgement_high,
    }


def referral(
    jurisdiction: str = "england-wales",
    initiated_by: str = "victim",
    acknowledged: bool = True,
    yes: int = 3,
    court_reference: str | None = "T20260001",
    **overrides: Any,
) -> dict[str, Any]:
    """A valid referral body; by default victim-initiated, England & Wales, standard risk,
    responsibility acknowledged: eligible for direct RJ. `overrides` replace top-level members."""
    prefix = ORG_PREFIX.get(jurisdiction, "north")
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
        "victim_services_org": f"{prefix}-advocacy",
    }
    if court_reference is not None:
        body["court_org"] = f"{prefix}-court"
    body.update(overrides)
    return body
