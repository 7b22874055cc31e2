"""Cohorts (issue 21 item 4): each trainee has their own copy of each scenario (their own
cases) and training tokens for each role; a trainer watches progress and resets the cohort
in one call; the debrief reads each copy on its own."""

from __future__ import annotations

import pytest
from accord_platform.harness import InProcessPlatform
from accord_platform.training import cohort as cohorts
from accord_platform.training.debrief import debrief
from accord_platform.training.page import render_page
from accord_platform.training.play import Player
from accord_platform.training.scenario import load_library

pytestmark = pytest.mark.integration

LIBRARY = load_library()
CHOSEN = {k: LIBRARY[k] for k in ("coercion-at-preparation", "offender-initiated-request")}


async def test_a_cohort_is_made_watched_debriefed_and_reset(
    player: Player, training_platform: InProcessPlatform, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cohort = await cohorts.create(player, seed=5, trainees=2, library=CHOSEN)
    assert [c.key for c in cohort.copies] == [
        "trainee-01/coercion-at-preparation",
        "trainee-01/offender-initiated-request",
        "trainee-02/coercion-at-preparation",
        "trainee-02/offender-initiated-request",
    ]
    coercion = [c for c in cohort.copies if c.scenario.id == "coercion-at-preparation"]
    # Separate cases: each trainee's copy was set up as a case of its own.
    assert len({c.variables["case_id"] for c in coercion}) == 2

    # Saved and loaded again, as the commands do between calls.
    directory = tmp_path_factory.mktemp("cohort")
    cohort.save(directory)
    cohort = cohorts.Cohort.load(directory, CHOSEN)

    # A token for each role each trainee plays, accepted by the training deployment.
    tokens = cohorts.tokens(training_platform.key_dir, cohort)
    assert set(tokens) == {"trainee-01", "trainee-02"}
    assert set(tokens["trainee-01"]) == {
        "coercion-at-preparation/facilitator",
        "offender-initiated-request/officer",
    }
    answer = await training_platform.client("referral").get(
        "/referrals",
        headers={
            "Authorization": "Bearer " + tokens["trainee-01"]["offender-initiated-request/officer"]
        },
    )
    assert answer.status_code == 200

    # trainee-01 plays the coercion scenario the expected way; trainee-02 has not started.
    first = cohort.copy_of("trainee-01", "coercion-at-preparation")
    await player.play(first, first.scenario.steps)
    progress = {(r.trainee, r.scenario): r for r in await cohorts.progress(player, cohort)}
    assert progress[("trainee-01", "coercion-at-preparation")].differences == []
    untouched = progress[("trainee-02", "coercion-at-preparation")]
    assert {d.fact for d in untouched.differences} >= {
        "rj_case.coercion_screen",
        "rj_case.stop_reason",
    }
    # The debrief page: each difference in practice terms, and the Training banner.
    page = render_page("trainee-02", [untouched])
    assert ">Training<" in page
    assert "The case was not stopped for suspected coercion" in page
    assert untouched.facts["rj_case.status"] not in (None, "stopped")
    assert first.synthetic.victim.name not in page
    played = render_page("trainee-01", [progress[("trainee-01", "coercion-at-preparation")]])
    assert "Played as the scenario expects." in played

    # Reset: everyone back at the start, on new cases, with the same synthetic people.
    again = await cohorts.reset(player, cohort, CHOSEN)
    assert again.generation == 1
    fresh = again.copy_of("trainee-01", "coercion-at-preparation")
    assert fresh.variables["case_id"] != first.variables["case_id"]
    assert fresh.synthetic == first.synthetic
    report = await debrief(player, fresh)
    assert "rj_case.stop_reason" in {d.fact for d in report.differences}
