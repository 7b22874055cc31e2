from __future__ import annotations

from typing import Any

import pytest
from accord_referral.domain import (
    BANDS,
    QUESTION_CODES,
    QUESTIONS,
    RED_FLAG_CODES,
    InvalidDashAnswers,
    ValidationFailed,
    assess,
    band_for_score,
    band_rank,
)
from hypothesis import given
from hypothesis import strategies as st

NON_RED_FLAG_CODES = [code for code in QUESTION_CODES if code not in RED_FLAG_CODES]


# The SafeLives checklist's order is part of the contract: forms, exports and a practitioner
# reading "question 15" back to a colleague all count from it.
SAFELIVES_ORDER = (
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


def answers(yes: int = 0) -> dict[str, bool]:
    """The first `yes` non-red-flag questions answered yes, so bands are tested apart from
    red flags; beyond the 18 others, red-flag questions are used as well."""
    order = NON_RED_FLAG_CODES + sorted(RED_FLAG_CODES)
    chosen = set(order[:yes])
    return {code: code in chosen for code in QUESTION_CODES}


def test_the_checklist_has_24_distinct_questions_with_wording() -> None:
    assert len(QUESTIONS) == 24
    assert len(set(QUESTION_CODES)) == 24
    assert all(text.strip().endswith("?") for _, text in QUESTIONS)
    assert RED_FLAG_CODES.issubset(QUESTION_CODES)


def test_the_questions_are_the_safelives_checklist_in_its_order() -> None:
    assert QUESTION_CODES == SAFELIVES_ORDER


@pytest.mark.parametrize(
    ("number", "code", "wording"),
    [
        (12, "controlling_jealous", "excessively jealous"),
        (13, "weapons_used", "weapons or objects"),
        (15, "attempted_strangulation", "strangle"),
        (18, "hurt_others", "hurt anyone else"),
        (21, "substance_misuse_mental_health", "mental health"),
    ],
)
def test_each_question_carries_the_wording_read_to_the_victim(
    number: int,
    code: str,
    wording: str,
) -> None:
    asked_code, text = QUESTIONS[number - 1]

    assert asked_code == code
    assert wording in text


@pytest.mark.parametrize(
    "code",
    [
        "children_not_perpetrators",
        "children_harmed",
        "threats_against_children",
        "previous_domestic_violence_record",
        "abuse_escalating",
    ],
)
def test_codes_outside_the_safelives_checklist_are_rejected(code: str) -> None:
    with pytest.raises(InvalidDashAnswers) as caught:
        assess(answers(0) | {code: False}, False)

    assert caught.value.details["unknown"] == [code]


def test_the_red_flags_are_the_predictors_named_in_the_spec() -> None:
    spec_red_flags = {
        "attempted_strangulation",
        "threats_to_kill",
        "stalking_harassment",
        "abuse_more_often",
        "abuse_getting_worse",
        "separation",
    }

    assert frozenset(spec_red_flags) == RED_FLAG_CODES
    assert len(NON_RED_FLAG_CODES) == 18


@pytest.mark.parametrize(
    ("yes", "band"),
    [(0, "standard"), (9, "standard"), (10, "medium"), (13, "medium"), (14, "high"), (24, "high")],
)
def test_band_follows_the_score_thresholds(yes: int, band: str) -> None:
    assessment = assess(answers(yes), professional_judgement_high=False)

    assert assessment.score == yes
    assert assessment.band == band
    assert assessment.scored_band == band
    assert not assessment.raised_by_judgement


@pytest.mark.parametrize("yes", [0, 9, 10, 13])
def test_professional_judgement_raises_the_band_to_high(yes: int) -> None:
    assessment = assess(answers(yes), professional_judgement_high=True)

    assert assessment.band == "high"
    assert assessment.score == yes
    assert assessment.raised_by_judgement


def test_professional_judgement_never_lowers_a_high_score() -> None:
    without_judgement = assess(answers(14), professional_judgement_high=False)
    with_judgement = assess(answers(14), professional_judgement_high=True)

    assert without_judgement.band == with_judgement.band == "high"
    assert not with_judgement.raised_by_judgement


def test_red_flags_are_the_yes_answers_among_the_predictors_in_checklist_order() -> None:
    given_answers = answers(0) | {
        "threats_to_kill": True,
        "separation": True,
        "current_injury": True,
    }

    assessment = assess(given_answers, professional_judgement_high=False)

    assert assessment.red_flags == ("separation", "threats_to_kill")
    assert assessment.score == 3


def test_every_red_flag_in_checklist_order_when_every_answer_is_yes() -> None:
    assessment = assess({code: True for code in QUESTION_CODES}, False)

    assert assessment.red_flags == (
        "separation",
        "stalking_harassment",
        "abuse_more_often",
        "abuse_getting_worse",
        "threats_to_kill",
        "attempted_strangulation",
    )


@pytest.mark.parametrize("code", ["abuse_more_often", "abuse_getting_worse"])
def test_either_escalation_question_alone_is_a_red_flag(code: str) -> None:
    assessment = assess(answers(0) | {code: True}, False)

    assert assessment.red_flags == (code,)
    assert assessment.score == 1


def test_no_red_flags_when_only_other_questions_are_yes() -> None:
    assessment = assess(answers(18), False)

    assert assessment.red_flags == ()
    assert assessment.score == 18


def test_23_answers_are_rejected_naming_the_missing_question() -> None:
    incomplete = answers(0)
    del incomplete["hurt_animals"]

    with pytest.raises(InvalidDashAnswers) as caught:
        assess(incomplete, False)

    assert caught.value.code == "invalid_dash_answers"
    assert caught.value.http_status == 422
    assert caught.value.details["missing"] == ["hurt_animals"]
    assert caught.value.details["unknown"] == []
    assert caught.value.details["answered"] == 23


def test_25_answers_are_rejected_naming_the_unknown_code() -> None:
    with pytest.raises(InvalidDashAnswers) as caught:
        assess(answers(0) | {"owns_weapon": True}, False)

    assert caught.value.details["unknown"] == ["owns_weapon"]
    assert caught.value.details["missing"] == []
    assert caught.value.details["answered"] == 25


def test_an_unknown_code_in_place_of_a_known_one_is_named_with_the_one_it_displaced() -> None:
    swapped = answers(0)
    del swapped["criminal_history"]
    swapped["criminal_record"] = False

    with pytest.raises(InvalidDashAnswers) as caught:
        assess(swapped, False)

    assert caught.value.details["unknown"] == ["criminal_record"]
    assert caught.value.details["missing"] == ["criminal_history"]


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_answers_must_be_yes_or_no(value: Any) -> None:
    with pytest.raises(InvalidDashAnswers) as caught:
        assess(answers(0) | {"isolated": value}, False)

    assert caught.value.details["not_boolean"] == ["isolated"]


def test_professional_judgement_must_be_yes_or_no() -> None:
    with pytest.raises(ValidationFailed) as caught:
        assess(answers(0), 1)  # type: ignore[arg-type]

    assert caught.value.details == {"field": "professional_judgement_high"}


def test_the_assessment_is_a_copy_in_checklist_order_that_cannot_be_changed() -> None:
    given_answers = dict(reversed(list(answers(3).items())))
    assessment = assess(given_answers, False)

    given_answers["current_injury"] = not given_answers["current_injury"]

    assert list(assessment.answers) == list(QUESTION_CODES)
    assert assessment.answers == answers(3)
    with pytest.raises(TypeError):
        assessment.answers["current_injury"] = True  # type: ignore[index]


@pytest.mark.parametrize("score", [-1, 25])
def test_scores_outside_the_checklist_are_rejected(score: int) -> None:
    with pytest.raises(ValidationFailed):
        band_for_score(score)


def test_bands_rank_in_ascending_risk_and_unknown_bands_are_rejected() -> None:
    assert [band_rank(band) for band in BANDS] == [0, 1, 2]
    with pytest.raises(ValidationFailed):
        band_rank("severe")


checklists = st.fixed_dictionaries({code: st.booleans() for code in QUESTION_CODES})


@given(checklists, st.booleans())
def test_score_is_the_number_of_yes_answers(checklist: dict[str, bool], judgement: bool) -> None:
    assessment = assess(checklist, judgement)

    assert assessment.score == sum(1 for answer in checklist.values() if answer)
    assert set(assessment.red_flags) == {c for c in RED_FLAG_CODES if checklist[c]}


@given(st.integers(0, 24), st.integers(0, 24))
def test_band_is_monotonic_in_score(a: int, b: int) -> None:
    low, high = sorted((a, b))

    assert band_rank(band_for_score(low)) <= band_rank(band_for_score(high))


@given(checklists, st.sampled_from(QUESTION_CODES))
def test_another_yes_never_lowers_the_band(checklist: dict[str, bool], code: str) -> None:
    before = assess(checklist, False)
    after = assess(checklist | {code: True}, False)

    assert band_rank(after.band) >= band_rank(before.band)


@given(checklists)
def test_judgement_only_ever_raises(checklist: dict[str, bool]) -> None:
    plain = assess(checklist, False)
    judged = assess(checklist, True)

    assert judged.band == "high"
    assert band_rank(judged.band) >= band_rank(plain.band)
    assert judged.score == plain.score
