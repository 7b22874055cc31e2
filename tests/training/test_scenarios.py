"""Each scenario of the library played end to end through the services' APIs on a training
deployment: once the expected way (the debrief finds no difference) and once with the
scenario's typical mistake (the debrief names each fact the mistake changes)."""

from __future__ import annotations

import contextlib

import pytest
from accord_platform.harness import eventually
from accord_platform.training.debrief import Debrief, debrief
from accord_platform.training.play import Copy, Player
from accord_platform.training.scenario import load_library, setup_steps

pytestmark = pytest.mark.integration

LIBRARY = load_library()
SEED = 2112


@pytest.mark.parametrize("scenario_id", sorted(LIBRARY))
async def test_played_the_expected_way_the_debrief_finds_no_difference(
    player: Player, scenario_id: str
) -> None:
    scenario = LIBRARY[scenario_id]
    copy = Copy(SEED, "trainee-expected", scenario)
    await player.play(copy, setup_steps(scenario))
    await player.play(copy, scenario.steps)

    # Effects in other services arrive by event: the debrief is read until they have.
    async def agrees() -> bool:
        reports.append(await debrief(player, copy))
        return not reports[-1].differences

    reports: list[Debrief] = []
    with contextlib.suppress(AssertionError):
        await eventually(agrees, timeout=20)
    assert reports[-1].differences == [], (reports[-1].facts, reports[-1].timeline)


@pytest.mark.parametrize("scenario_id", sorted(LIBRARY))
async def test_played_with_the_typical_mistake_the_debrief_names_it(
    player: Player, scenario_id: str
) -> None:
    scenario = LIBRARY[scenario_id]
    copy = Copy(SEED, "trainee-mistaken", scenario)
    await player.play(copy, setup_steps(scenario))
    # A mistake the platform refuses is still attempted: the refusal is the lesson.
    await player.play(copy, scenario.mistake.steps, check=False)
    report = await debrief(player, copy)
    named = {d.fact for d in report.differences}
    assert set(scenario.mistake.shows_as) <= named, (report.facts, report.timeline)
    for difference in report.differences:
        assert difference.explanation
