"""The scenario library: one YAML file per hard situation (SPEC 8), validated at load.

A scenario names the roles trainees play, the setup that brings a fresh copy of the case to
its starting point (run through the services' real APIs, never by writing a store), the steps
a trainee is expected to take, the outcomes the platform or the trainee must reach (each a
fact the debrief reads back from the services and the audit log, with what a difference
means in practice), a typical mistake with its steps, and the points a trainer wants
discussed. A file that does not fit the schema is refused with its file name, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from accord_kernel.identity import AGENCY_ROLES
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LIBRARY = Path(__file__).resolve().parent / "scenarios"
SERVICES = ("referral", "victim-support", "conference", "court", "audit")
JURISDICTIONS = ("england-wales", "scotland", "new-zealand", "nova-scotia")
# The body builders a step may name instead of writing a body out (accord_platform.training
# .play): each fills in the copy's synthetic people, dates and ids.
BODIES = (
    "referral",
    "victim",
    "participate_consent",
    "facilitator",
    "safety_plan",
    "agreement",
    "dash",
)
Scalar = str | int | bool | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(Strict):
    agency: str
    role: str
    description: str = Field(min_length=1)

    @model_validator(mode="after")
    def _known(self) -> Role:
        if self.role not in AGENCY_ROLES.get(self.agency, ()):
            raise ValueError(f"unknown agency/role {self.agency}/{self.role}")
        return self


# The parts the shared setups (scenarios/setups/) act in; a scenario's own roles are the ones
# its trainees play.
STANDARD_ROLES = {
    "officer": Role(agency="police", role="officer", description="police officer"),
    "police_supervisor": Role(agency="police", role="supervisor", description="police sergeant"),
    "advocate": Role(
        agency="victim_services", role="advocate", description="independent DV advocate (IDVA)"
    ),
    "coordinator": Role(agency="rj_provider", role="coordinator", description="RJ coordinator"),
    "facilitator": Role(
        agency="rj_provider", role="facilitator", description="RJ facilitator assigned to the case"
    ),
    "clerk": Role(agency="court", role="clerk", description="court clerk"),
}


class Request(Strict):
    service: Literal["referral", "victim-support", "conference", "court", "audit"]
    method: Literal["GET", "POST", "PUT"]
    path: str = Field(pattern=r"^/")
    body: dict[str, Any] | None = None
    # A body built from the copy's synthetic case, `body` members then override its own.
    build: (
        Literal[
            "referral",
            "victim",
            "participate_consent",
            "facilitator",
            "safety_plan",
            "agreement",
            "dash",
        ]
        | None
    ) = None
    options: dict[str, Scalar] = Field(default_factory=dict)


class Until(Strict):
    """Poll the request until the answer's `field` has one of `values` (events cross services
    over Kafka, so an effect elsewhere arrives a little later)."""

    field: str
    values: list[Any] = Field(min_length=1)


class Step(Strict):
    role: str
    do: str = Field(min_length=1, description="what the trainee does, in practice terms")
    request: Request
    expect: list[int] = Field(default_factory=lambda: [200, 201, 204], min_length=1)
    until: Until | None = None
    # Poll until the answer is expected (a service that has not yet learned of the case by
    # event answers 404 meanwhile).
    wait: bool = False
    save: dict[str, str] = Field(default_factory=dict)


class Outcome(Strict):
    """A fact the debrief reads back and the value it should have; `otherwise` says, in
    practice terms, what a difference means."""

    fact: str
    equals: Scalar | list[Scalar]
    otherwise: str = Field(min_length=1)
    refused_by_platform: bool = False


class Mistake(Strict):
    name: str = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    # The facts this mistake makes differ: the debrief must name each of them.
    shows_as: list[str] = Field(min_length=1)


class Scenario(Strict):
    id: str = Field(pattern=r"^[a-z0-9-]{3,40}$")
    title: str = Field(min_length=1)
    situation: str = Field(min_length=1)
    jurisdiction: Literal["england-wales", "scotland", "new-zealand", "nova-scotia"]
    roles: dict[str, Role] = Field(min_length=1)
    # A shared setup (scenarios/setups/<name>.yaml) played before this scenario's own setup.
    starts_from: Literal["referred", "accepted", "gate-open"] | None = None
    # Options of the copy's referral body wherever a step builds one (`dash_yes`,
    # `initiated_by`, `jurisdiction`): the shared setups then refer this scenario's case.
    referral_options: dict[str, Scalar] = Field(default_factory=dict)
    setup: list[Step] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)
    outcomes: list[Outcome] = Field(min_length=1)
    mistake: Mistake
    practice_points: list[str] = Field(min_length=1)

    def role(self, name: str) -> Role:
        return self.roles.get(name) or STANDARD_ROLES[name]

    @model_validator(mode="after")
    def _roles_named(self) -> Scenario:
        for step in [*self.setup, *self.steps, *self.mistake.steps]:
            if step.role not in self.roles and step.role not in STANDARD_ROLES:
                raise ValueError(f"step role {step.role!r} is not one of the scenario's roles")
        facts = {o.fact for o in self.outcomes}
        unknown = [f for f in self.mistake.shows_as if f not in facts]
        if unknown:
            raise ValueError(f"mistake.shows_as names facts without an outcome: {unknown}")
        return self


class ScenarioError(ValueError):
    """A scenario file that does not fit the schema: names the file, line and field."""


def _line_of(node: yaml.Node, location: tuple[int | str, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (the nearest node that
    exists: a missing field is reported at its parent)."""
    for part in location:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            found = node.value[part] if part < len(node.value) else None
        else:
            found = None
        if found is None:
            break
        node = found
    return int(node.start_mark.line) + 1


def load_scenario(path: Path) -> Scenario:
    scenario, node = _validated(path, Scenario)
    assert isinstance(scenario, Scenario)
    if scenario.id != path.stem:
        line = _line_of(node, ("id",))
        raise ScenarioError(f"{path.name}, line {line}, field id: must be the file's name")
    return scenario


class Setup(Strict):
    # The shared setup this one continues from (each builds on the one before).
    starts_from: Literal["referred", "accepted"] | None = None
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _standard_roles(self) -> Setup:
        for step in self.steps:
            if step.role not in STANDARD_ROLES:
                raise ValueError(f"a shared setup acts only in the standard roles: {step.role!r}")
        return self


def _validated(path: Path, model: type[BaseModel]) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ScenarioError(f"{path.name}, line {line}: not valid YAML ({exc})") from exc
    if node is None or not isinstance(data, dict):
        raise ScenarioError(f"{path.name}, line 1: a scenario must be a mapping")
    try:
        return model.model_validate(data), node
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            location = tuple(error["loc"])
            field = ".".join(str(p) for p in location) or "(top level)"
            lines.append(
                f"{path.name}, line {_line_of(node, location)}, field {field}: {error['msg']}"
            )
        raise ScenarioError("\n".join(lines)) from exc


def load_setup(name: str, directory: Path = LIBRARY) -> list[Step]:
    setup, _ = _validated(directory / "setups" / f"{name}.yaml", Setup)
    before = load_setup(setup.starts_from, directory) if setup.starts_from else []
    return [*before, *setup.steps]


def setup_steps(scenario: Scenario, directory: Path = LIBRARY) -> list[Step]:
    """Everything that brings a fresh copy to the scenario's starting point, in order."""
    shared = load_setup(scenario.starts_from, directory) if scenario.starts_from else []
    return [*shared, *scenario.setup]


def load_library(directory: Path = LIBRARY) -> dict[str, Scenario]:
    """Every scenario of the library, by id, in file-name order."""
    return {s.id: s for s in (load_scenario(p) for p in sorted(directory.glob("*.yaml")))}
