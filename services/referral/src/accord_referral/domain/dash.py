"""SafeLives DASH (Domestic Abuse, Stalking and 'Honour'-Based Violence) risk checklist, 2009.

This is the 24-question checklist that SafeLives (formerly CAADA) publishes for Idvas and other
practitioners, not the 27-question police version, whose three extra questions about children
and dependants would change both the score range and the meaning of the thresholds.

The score is the number of yes answers; the band follows the thresholds Accord's jurisdiction
packs are written against. Professional judgement exists because a low tick count can hide a
dangerous situation (a victim too frightened to answer), so it may only ever raise the band.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from accord_referral.domain.errors import InvalidDashAnswers, ValidationFailed

# Wording and order follow the SafeLives checklist, without its "please specify" prompts, which
# ask for free text the yes/no answer does not carry; "(abuser)" stands for the name read out.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("current_injury", "Has the current incident resulted in injury?"),
    ("very_frightened", "Are you very frightened?"),
    ("afraid_of_further_injury", "What are you afraid of? Is it further injury or violence?"),
    (
        "isolated",
        "Do you feel isolated from family/friends, i.e. does (abuser) try to stop you from "
        "seeing friends/family/doctor or others?",
    ),
    ("feeling_depressed", "Are you feeling depressed or having suicidal thoughts?"),
    ("separation", "Have you separated or tried to separate from (abuser) within the past year?"),
    ("conflict_over_child_contact", "Is there conflict over child contact?"),
    (
        "stalking_harassment",
        "Does (abuser) constantly text, call, contact, follow, stalk or harass you?",
    ),
    (
        "pregnant_or_recent_birth",
        "Are you pregnant or have you recently had a baby (within the last 18 months)?",
    ),
    ("abuse_more_often", "Is the abuse happening more often?"),
    ("abuse_getting_worse", "Is the abuse getting worse?"),
    (
        "controlling_jealous",
        "Does (abuser) try to control everything you do and/or are they excessively jealous?",
    ),
    ("weapons_used", "Has (abuser) ever used weapons or objects to hurt you?"),
    (
        "threats_to_kill",
        "Has (abuser) ever threatened to kill you or someone else and you believed them?",
    ),
    (
        "attempted_strangulation",
        "Has (abuser) ever attempted to strangle/choke/suffocate/drown you?",
    ),
    (
        "sexual_abuse",
        "Does (abuser) do or say things of a sexual nature that make you feel bad or that "
        "physically hurt you or someone else?",
    ),
    (
        "other_person_threatened",
        "Is there any other person who has threatened you or who you are afraid of?",
    ),
    ("hurt_others", "Do you know if (abuser) has hurt anyone else?"),
    ("hurt_animals", "Has (abuser) ever mistreated an animal or the family pet?"),
    (
        "financial_issues",
        "Are there any financial issues? For example, are you dependent on (abuser) for "
        "money/have they recently lost their job/other financial issues?",
    ),
    (
        "substance_misuse_mental_health",
        "Has (abuser) had problems in the past year with drugs (prescription or other), alcohol "
        "or mental health leading to problems in leading a normal life?",
    ),
    ("threats_of_suicide", "Has (abuser) ever threatened or attempted suicide?"),
    (
        "breached_bail_or_order",
        "Has (abuser) ever broken bail/an injunction and/or formal agreement for when they can "
        "see you and/or the children?",
    ),
    (
        "criminal_history",
        "Do you know if (abuser) has ever been in trouble with the police or has a criminal "
        "history?",
    ),
)
QUESTION_CODES: tuple[str, ...] = tuple(code for code, _ in QUESTIONS)

# Each of these predicts serious harm or homicide independently of the total score, so they are
# surfaced by name wherever the band is shown. Escalation is asked as two questions (frequency
# and severity), and either one alone is the warning sign.
RED_FLAG_CODES: frozenset[str] = frozenset(
    {
        "attempted_strangulation",
        "threats_to_kill",
        "stalking_harassment",
        "abuse_more_often",
        "abuse_getting_worse",
        "separation",
    }
)

BANDS: tuple[str, ...] = ("standard", "medium", "high")
MEDIUM_FROM_SCORE = 10
HIGH_FROM_SCORE = 14


def band_for_score(score: int) -> str:
    if score < 0 or score > len(QUESTIONS):
        raise ValidationFailed(
            f"a DASH score lies between 0 and {len(QUESTIONS)}",
            {"score": score},
        )
    if score >= HIGH_FROM_SCORE:
        return "high"
    if score >= MEDIUM_FROM_SCORE:
        return "medium"
    return "standard"


def band_rank(band: str) -> int:
    """Position of a band in ascending order of risk, for 'at or below the limit' checks."""
    if band not in BANDS:
        raise ValidationFailed(f"unknown risk band {band!r}", {"band": band, "allowed": BANDS})
    return BANDS.index(band)


@dataclass(frozen=True)
class RiskAssessment:
    # Answers are kept in checklist order; excluded from the hash because a mapping has none.
    answers: Mapping[str, bool] = field(hash=False)
    professional_judgement_high: bool
    score: int
    band: str
    red_flags: tuple[str, ...]

    @property
    def scored_band(self) -> str:
        return band_for_score(self.score)

    @property
    def raised_by_judgement(self) -> bool:
        return self.band != self.scored_band


def validate_answers(answers: Mapping[str, bool]) -> dict[str, bool]:
    """Returns the answers in checklist order, or names every offending code at once."""
    if not isinstance(answers, Mapping):
        raise InvalidDashAnswers("DASH answers must be a mapping of question code to yes/no")
    known = set(QUESTION_CODES)
    given = set(answers)
    unknown = sorted(str(code) for code in given - known)
    missing = [code for code in QUESTION_CODES if code not in given]
    # bool is a subclass of int, but 1/0 or "yes" here would mean the form was not understood.
    not_boolean = [
        code for code in QUESTION_CODES if code in given and not isinstance(answers[code], bool)
    ]
    if unknown or missing or not_boolean:
        raise InvalidDashAnswers(
            f"exactly the {len(QUESTIONS)} DASH questions must each be answered yes or no "
            f"({len(given)} answers given)",
            {
                "unknown": unknown,
                "missing": missing,
                "not_boolean": not_boolean,
                "answered": len(given),
                "expected": len(QUESTIONS),
            },
        )
    return {code: answers[code] for code in QUESTION_CODES}


def assess(answers: Mapping[str, bool], professional_judgement_high: bool) -> RiskAssessment:
    ordered = validate_answers(answers)
    if not isinstance(professional_judgement_high, bool):
        raise ValidationFailed(
            "professional judgement must be yes or no",
            {"field": "professional_judgement_high"},
        )
    score = sum(ordered.values())
    band = "high" if professional_judgement_high else band_for_score(score)
    red_flags = tuple(code for code in QUESTION_CODES if code in RED_FLAG_CODES and ordered[code])
    return RiskAssessment(
        answers=MappingProxyType(ordered),
        professional_judgement_high=professional_judgement_high,
        score=score,
        band=band,
        red_flags=red_flags,
    )
