"""Playing a scenario's steps through the services' real APIs, as the copy's training users.

A copy is one trainee's own instance of one scenario: its own case (its own referral, so its
own case id), its own facilitator and court reference, and training tokens for each role.
Step paths and bodies may name the copy's variables (`{case_id}`, `{facilitator_id}`, saved
answers) and dates (`{today+7}`, `{now+7}`: days from now)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from accord_kernel.deployment import SYNTHETIC_HEADER, synthetic_mark
from accord_kernel.dev_tokens import mint
from accord_referral import examples

from accord_platform.training.scenario import Scenario, Step
from accord_platform.training.synthetic import SyntheticCase, synthetic_case

ORG_SUFFIX = {
    "police": "police",
    "victim_services": "advocacy",
    "rj_provider": "rj",
    "court": "court",
}
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)(?:([+-])([0-9]+))?\}")
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.25


class StepFailed(AssertionError):
    """A setup or scripted step got an answer its scenario does not expect."""


def org_for(agency: str, jurisdiction: str) -> str:
    if agency == "audit":
        return "privacy-office"
    return f"{examples.ORG_PREFIX[jurisdiction]}-{ORG_SUFFIX.get(agency, 'advocacy')}"


@dataclass
class Copy:
    """One trainee's copy of one scenario, and what its steps learned (ids, versions)."""

    seed: int
    trainee: str
    scenario: Scenario
    variables: dict[str, str] = field(default_factory=dict)
    # A reset gives every copy a new generation: new cases, the same synthetic people.
    generation: int = 0

    @property
    def key(self) -> str:
        return f"{self.trainee}/{self.scenario.id}"

    @property
    def synthetic(self) -> SyntheticCase:
        return synthetic_case(self.seed, self.key, self.scenario.jurisdiction)

    def __post_init__(self) -> None:
        # Ids derived from the seed and the copy, so a reset cohort gets the same ones.
        name = f"accord-training/{self.seed}/{self.generation}/{self.key}"
        digest = uuid.uuid5(uuid.NAMESPACE_URL, name).hex
        self.variables.setdefault("facilitator_id", f"fac-{digest[:10]}")
        self.variables.setdefault("court_reference", f"TR{digest[10:20].upper()}")
        self.variables.setdefault("facilitator2_id", f"fac-{digest[20:30]}")
        self.variables.setdefault("trainee", self.trainee)

    def user(self, role_name: str) -> str:
        if self.scenario.role(role_name).role == "facilitator":
            # Policy knows the assigned facilitator by the token's subject.
            return self.variables["facilitator_id"]
        return f"{self.trainee}-{role_name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "trainee": self.trainee,
            "scenario": self.scenario.id,
            "generation": self.generation,
            "variables": self.variables,
        }


def render(value: Any, variables: Mapping[str, str]) -> Any:
    """`value` with `{name}` placeholders filled in; a string that is one placeholder of a
    date becomes that date (`{today+7}`) or moment (`{now+7}`)."""
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def fill(match: re.Match[str]) -> str:
        name, sign, days = match.groups()
        offset = timedelta(days=int(days) * (-1 if sign == "-" else 1)) if days else timedelta()
        if name == "today":
            return (datetime.now(UTC).date() + offset).isoformat()
        if name == "now":
            return (datetime.now(UTC) + offset).isoformat()
        if name not in variables:
            raise StepFailed(f"no variable {name!r} yet (a step must save it first)")
        return variables[name]

    return _PLACEHOLDER.sub(fill, value)


def build_body(kind: str, copy: Copy, options: Mapping[str, Any]) -> dict[str, Any]:
    case = copy.synthetic
    now, today = datetime.now(UTC), datetime.now(UTC).date()
    if kind == "referral":
        options = {**copy.scenario.referral_options, **options}
        court_reference = copy.variables["court_reference"]
        return examples.referral(
            jurisdiction=str(options.get("jurisdiction", case.jurisdiction)),
            initiated_by=str(options.get("initiated_by", "victim")),
            yes=int(str(options.get("dash_yes", 3))),
            court_reference=court_reference,
            incident={
                "date": case.incident.date,
                "summary": case.incident.summary,
                "offence_type": case.incident.offence_type,
            },
            victim={"name": case.victim.name, "date_of_birth": case.victim.date_of_birth},
            offender={"name": case.offender.name, "date_of_birth": case.offender.date_of_birth},
        )
    if kind == "victim":
        return case.victim_body()
    if kind == "participate_consent":
        return {
            "scope": "participate",
            "seen_alone": bool(options.get("seen_alone", True)),
            "provisions": [
                {
                    "agency": "rj_provider",
                    "purposes": ["case_management"],
                    "data_classes": [],
                    "start": (now - timedelta(minutes=1)).isoformat(),
                    "end": (now + timedelta(days=180)).isoformat(),
                }
            ],
        }
    if kind == "facilitator":
        endorsed_days = int(str(options.get("endorsement_days", 180)))
        return {
            "facilitator_id": copy.variables["facilitator_id"],
            "name": case.offender.name.split(" ")[0] + " Facilitator",
            "accreditation_id": f"RJC-{copy.variables['facilitator_id']}",
            "accredited_until": (today + timedelta(days=365)).isoformat(),
            "endorsement_expires": (today + timedelta(days=endorsed_days)).isoformat(),
        }
    if kind == "safety_plan":
        return {
            "content": "Code word agreed with a neighbour; advocate's number memorised",
            "review_date": (today + timedelta(days=90)).isoformat(),
        }
    if kind == "agreement":
        return {
            "items": [
                {
                    "item_id": "no-contact",
                    "what": "No contact with the victim except through the facilitator",
                    "owner": "offender",
                    "due_date": (today + timedelta(days=180)).isoformat(),
                    "monitoring_agency": "police",
                }
            ]
        }
    if kind == "dash":
        return examples.dash(int(str(options.get("dash_yes", 3))))
    raise StepFailed(f"no body builder {kind!r}")


def _field(body: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        elif isinstance(body, dict):
            body = body.get(part)
        else:
            return None
    return body


@dataclass(frozen=True)
class Played:
    role: str
    do: str
    status: int
    expected: bool


class Player:
    """Plays steps through `clients` (one httpx client per service), with training tokens
    minted from the deployment's development keys in `key_dir`."""

    def __init__(
        self, clients: Mapping[str, httpx.AsyncClient], key_dir: Path, *, training: bool = True
    ) -> None:
        self.clients = clients
        self.key_dir = key_dir
        self.training = training

    def headers(self, copy: Copy, role_name: str) -> dict[str, str]:
        role = copy.scenario.role(role_name)
        token = mint(
            self.key_dir,
            agency=role.agency,
            role=role.role,
            user=copy.user(role_name),
            org=org_for(role.agency, copy.scenario.jurisdiction),
            training=self.training,
        )
        return {
            "Authorization": f"Bearer {token}",
            # Everything the player sends was made by the synthetic generator.
            SYNTHETIC_HEADER: synthetic_mark(copy.seed),
        }

    async def play(self, copy: Copy, steps: list[Step], *, check: bool = True) -> list[Played]:
        played = []
        for step in steps:
            played.append(await self.step(copy, step, check=check))
        return played

    async def step(self, copy: Copy, step: Step, *, check: bool = True) -> Played:
        request = step.request
        body: Any = None
        if request.build is not None:
            body = build_body(request.build, copy, request.options)
        if request.body is not None:
            body = {**(body or {}), **render(request.body, copy.variables)}
        path = render(request.path, copy.variables)
        client = self.clients[request.service]
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            headers = self.headers(copy, step.role)
            if request.method != "GET":
                headers["Idempotency-Key"] = uuid.uuid4().hex
            answer = await client.request(request.method, path, json=body, headers=headers)
            done = answer.status_code in step.expect
            if done and step.until is not None:
                done = _field(_json(answer), step.until.field) in step.until.values
            polls = step.until is not None or step.wait
            if done or not polls or time.monotonic() > deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
        if check and not done:
            raise StepFailed(
                f"{copy.key}: {step.role} could not {step.do!r}: "
                f"{request.method} {path} answered {answer.status_code} {answer.text[:300]}"
            )
        for name, source in step.save.items():
            value = _field(_json(answer), source)
            if value is not None:
                copy.variables[name] = str(value)
        return Played(step.role, step.do, answer.status_code, done)


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def today() -> date:
    return datetime.now(UTC).date()
