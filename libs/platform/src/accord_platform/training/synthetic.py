"""Synthetic people, addresses, incidents and histories, reproducible from a seed.

Faker in the jurisdiction's locale (en_GB for England & Wales and Scotland, en_NZ for New
Zealand, en_CA for Nova Scotia) seeded per record, and dates counted back from a fixed anchor
rather than from today, so the same seed gives byte-identical output on any machine on any
day (`to_bytes`). Contact numbers are drawn from ranges reserved for drama and fiction, so a
synthetic number can never ring a real phone."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from faker import Faker

LOCALES = {
    "england-wales": "en_GB",
    "scotland": "en_GB",
    "new-zealand": "en_NZ",
    "nova-scotia": "en_CA",
}
# Every date is counted back from here, never from today: the output must not depend on the
# day it is made. Far enough back that no generated date is in the future.
ANCHOR = date(2026, 1, 1)
OFFENCES = (
    ("assault_occasioning_abh", "Assault at the shared home; a neighbour called the police"),
    ("common_assault", "Pushed against a wall during an argument about money"),
    ("criminal_damage", "Phone smashed to stop a call for help"),
    ("harassment", "Repeated messages and waiting outside the victim's workplace"),
    ("controlling_behaviour", "Money and phone taken; visits to family stopped"),
)
CHILD_NEEDS = ("school run support", "speech therapy", "none stated", "counselling")


@dataclass(frozen=True)
class Person:
    name: str
    date_of_birth: str
    address: str
    safe_contact_number: str


@dataclass(frozen=True)
class Incident:
    date: str
    summary: str
    offence_type: str


@dataclass(frozen=True)
class SyntheticCase:
    """One case's people and history: the victim, the person who caused harm, the incident
    referred and the earlier incidents police know of, oldest first."""

    key: str
    jurisdiction: str
    victim: Person
    offender: Person
    children: list[dict[str, Any]]
    incident: Incident
    history: list[Incident]

    def victim_body(self) -> dict[str, Any]:
        """The body of POST /cases/{id}/victim (victim services)."""
        return {
            "name": self.victim.name,
            "date_of_birth": self.victim.date_of_birth,
            "address": self.victim.address,
            "safe_contact_number": self.victim.safe_contact_number,
            "refuge": False,
            "preferred_contact_method": "via_advocate",
            "safe_contact_method": "sms",
            "language": "en",
            "interpreter_needed": False,
            "children": self.children,
        }


def _record_seed(seed: int, key: str) -> int:
    # Each record has its own stream, so adding a trainee or a scenario does not change the
    # people of the others.
    digest = hashlib.sha256(f"{seed}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _number(fake: Faker, jurisdiction: str) -> str:
    if jurisdiction == "new-zealand":
        # 021 099 numbers are unallocated in New Zealand's mobile plan, used for fiction.
        return f"+64 21 099 {fake.numerify('####')}"
    if jurisdiction == "nova-scotia":
        return f"+1 902 555 01{fake.numerify('##')}"  # 555-0100..0199: fictional
    return f"+44 7700 900{fake.numerify('###')}"  # Ofcom's drama range


def _person(fake: Faker, jurisdiction: str, min_age: int, max_age: int) -> Person:
    born = ANCHOR - timedelta(days=fake.random_int(min_age * 365, max_age * 365))
    return Person(
        name=fake.name(),
        date_of_birth=born.isoformat(),
        address=fake.address().replace("\n", ", "),
        safe_contact_number=_number(fake, jurisdiction),
    )


def _incident(fake: Faker, days_back: int) -> Incident:
    offence, summary = fake.random_element(OFFENCES)
    return Incident(
        date=(ANCHOR - timedelta(days=days_back)).isoformat(),
        summary=summary,
        offence_type=offence,
    )


def synthetic_case(seed: int, key: str, jurisdiction: str) -> SyntheticCase:
    """The case `key` (for example `trainee-03/coercion-at-preparation`) of cohort `seed`."""
    fake = Faker(LOCALES[jurisdiction])
    fake.seed_instance(_record_seed(seed, key))
    victim = _person(fake, jurisdiction, 19, 60)
    offender = _person(fake, jurisdiction, 19, 65)
    children = [
        {"age": fake.random_int(1, 16), "needs": fake.random_element(CHILD_NEEDS)}
        for _ in range(fake.random_int(0, 2))
    ]
    referred = fake.random_int(7, 60)
    history = sorted(
        (
            _incident(fake, referred + fake.random_int(30, 900))
            for _ in range(fake.random_int(0, 3))
        ),
        key=lambda i: i.date,
    )
    return SyntheticCase(
        key=key,
        jurisdiction=jurisdiction,
        victim=victim,
        offender=offender,
        children=children,
        incident=_incident(fake, referred),
        history=history,
    )


def to_bytes(cases: list[SyntheticCase]) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8; what "the same cohort" is compared by."""
    return json.dumps(
        [asdict(c) for c in cases], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
