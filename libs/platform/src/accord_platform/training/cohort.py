"""Cohorts: a trainer's group of trainees, each with their own copy of each scenario.

Creating a cohort plays every copy's setup through the services' APIs (so each trainee has
their own cases, in their starting state) and writes the cohort file: the seed, the
trainees, each copy's case id and ids, and per trainee a training token for each role their
scenarios name. Resetting plays every setup again as a new generation: new cases with the
same synthetic people, the old ones left as they are (an event store forgets nothing)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord_kernel.dev_tokens import mint

from accord_platform.training.debrief import Debrief, debrief
from accord_platform.training.play import Copy, Player, org_for
from accord_platform.training.scenario import Scenario, load_library, setup_steps
from accord_platform.training.synthetic import to_bytes

COHORT_FILE = "cohort.json"


def trainee_names(count: int) -> list[str]:
    return [f"trainee-{n:02d}" for n in range(1, count + 1)]


def cohort_data(seed: int, trainees: int, library: dict[str, Scenario] | None = None) -> bytes:
    """The cohort's synthetic data, canonical bytes: the same seed gives the same bytes."""
    library = library if library is not None else load_library()
    copies = [Copy(seed, t, s) for t in trainee_names(trainees) for s in library.values()]
    people = json.loads(to_bytes([c.synthetic for c in copies]))
    ids = [c.to_json() for c in copies]
    return json.dumps(
        {"seed": seed, "cases": people, "copies": ids}, sort_keys=True, separators=(",", ":")
    ).encode()


@dataclass
class Cohort:
    seed: int
    trainees: list[str]
    copies: list[Copy] = field(default_factory=list)
    generation: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "trainees": self.trainees,
            "generation": self.generation,
            "copies": [c.to_json() for c in self.copies],
        }

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / COHORT_FILE
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True))
        return path

    @classmethod
    def load(cls, directory: Path, library: dict[str, Scenario] | None = None) -> Cohort:
        library = library if library is not None else load_library()
        data = json.loads((directory / COHORT_FILE).read_text())
        copies = [
            Copy(
                data["seed"],
                c["trainee"],
                library[c["scenario"]],
                dict(c["variables"]),
                int(c.get("generation", 0)),
            )
            for c in data["copies"]
        ]
        return cls(data["seed"], list(data["trainees"]), copies, int(data.get("generation", 0)))

    def copy_of(self, trainee: str, scenario: str) -> Copy:
        for copy in self.copies:
            if copy.trainee == trainee and copy.scenario.id == scenario:
                return copy
        raise KeyError(f"{trainee} has no copy of {scenario}")


async def create(
    player: Player,
    seed: int,
    trainees: int,
    library: dict[str, Scenario] | None = None,
    generation: int = 0,
) -> Cohort:
    library = library if library is not None else load_library()
    cohort = Cohort(seed, trainee_names(trainees), generation=generation)
    for trainee in cohort.trainees:
        for scenario in library.values():
            copy = Copy(seed, trainee, scenario, generation=generation)
            await player.play(copy, setup_steps(scenario))
            cohort.copies.append(copy)
    return cohort


async def reset(player: Player, cohort: Cohort, library: dict[str, Scenario]) -> Cohort:
    """Every trainee back at the start of every scenario, on new cases."""
    return await create(
        player, cohort.seed, len(cohort.trainees), library, generation=cohort.generation + 1
    )


def tokens(key_dir: Path, cohort: Cohort, ttl_seconds: int = 3600) -> dict[str, dict[str, str]]:
    """Per trainee, a training token for each role they play, by `<scenario>/<role>`."""
    found: dict[str, dict[str, str]] = {}
    for copy in cohort.copies:
        for name, role in copy.scenario.roles.items():
            found.setdefault(copy.trainee, {})[f"{copy.scenario.id}/{name}"] = mint(
                key_dir,
                agency=role.agency,
                role=role.role,
                user=copy.user(name),
                org=org_for(role.agency, copy.scenario.jurisdiction),
                ttl_seconds=ttl_seconds,
                training=True,
            )
    return found


async def progress(player: Player, cohort: Cohort) -> list[Debrief]:
    """Where every copy stands: its debrief so far (differences shrink as trainees play)."""
    return [await debrief(player, copy) for copy in cohort.copies]
