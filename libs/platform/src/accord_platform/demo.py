"""`accord demo`: one case walked through the whole journey against a running platform.

Each agency acts with its own development token, so what the timeline shows is what the real
policy decided for that agency: after the key steps the same case is read as several agencies and
the fields that came back are set against the policy catalogue, so the withheld ones are visible.
Events cross services over Kafka, so every downstream effect is polled for (bounded) and the wait
is printed. Only field names, codes and statuses are printed, never a value of victim data.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from accord_kernel.dev_tokens import mint
from accord_referral import examples
from rich.console import Console
from rich.table import Table
from rich.text import Text

from accord_platform.services import SERVICES, ServiceSpec

REPO = Path(__file__).resolve().parents[4]
CATALOGUE_FILE = REPO / "policies" / "accord" / "catalogue" / "data.json"
WAIT_SECONDS = 30.0
# Every poll is a policy-checked read that lands in the audit log, so polling is kept gentle.
POLL_SECONDS = 0.5
CORE_SERVICES = ("referral", "victim-support", "conference")

Outcome = Literal["ok", "failed", "skipped"]
T = TypeVar("T")


# --- the cast ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    agency: str
    role: str
    user: str
    org: str

    @property
    def label(self) -> str:
        return f"{self.agency}/{self.role}"


POLICE = Actor("police", "officer", "pc-4711", "north-police")
ADVOCATE = Actor("victim_services", "advocate", "idva-ruth", "north-advocacy")
COORDINATOR = Actor("rj_provider", "coordinator", "rj-coord-1", "north-rj")
CLERK = Actor("court", "clerk", "clerk-1", "north-court")
PRIVACY_OFFICER = Actor("audit", "privacy_officer", "dpo-1", "privacy-office")
# Users of other organisations of the same agencies (SPEC section 4a): for them the case does
# not exist.
OTHER_FORCE = Actor("police", "officer", "pc-9001", "south-police")
OTHER_ADVOCATE = Actor("victim_services", "advocate", "idva-sam", "south-advocacy")


def facilitator_actor(facilitator_id: str) -> Actor:
    # The token's subject is the facilitator id: that is how policy recognises the *assigned*
    # facilitator, who alone among RJ staff may see party identity and offence details.
    return Actor("rj_provider", "facilitator", facilitator_id, COORDINATOR.org)


# --- request bodies of the journey ---------------------------------------------------------------


def referral_body(court_reference: str, today: date, yes_answers: int = 3) -> dict[str, Any]:
    """A victim-initiated england-wales referral at standard risk, so direct RJ is possible."""
    return examples.referral(
        yes=yes_answers,
        court_reference=court_reference,
        incident={
            "date": (today - timedelta(days=7)).isoformat(),
            "summary": "Assault at the shared home; a neighbour called the police",
            "offence_type": "assault_occasioning_abh",
        },
        victim={"name": "Alex Morgan", "date_of_birth": "1990-01-01"},
        offender={"name": "Sam Morgan", "date_of_birth": "1988-05-05"},
        court_org=CLERK.org,
        victim_services_org=ADVOCATE.org,
    )


def victim_body() -> dict[str, Any]:
    # Fictional address and an Ofcom drama-range number: the demo must never hold real data.
    return {
        "name": "Alex Morgan",
        "date_of_birth": "1990-01-01",
        "address": "12 Example Row, Anytown",
        "safe_contact_number": "+44 7700 900123",
        "refuge": False,
        "preferred_contact_method": "via_advocate",
        "safe_contact_method": "sms",
        "language": "en",
        "interpreter_needed": False,
        "children": [{"age": 7, "needs": "school run support"}],
    }


def provision(
    agency: str,
    purposes: Sequence[str],
    data_classes: Sequence[str],
    now: datetime,
    days: int = 180,
) -> dict[str, Any]:
    # Started a minute back so a small clock difference between machines cannot make a fresh
    # consent look not-yet-valid.
    return {
        "type": "permit",
        "agency": agency,
        "purposes": list(purposes),
        "data_classes": list(data_classes),
        "start": (now - timedelta(minutes=1)).isoformat(),
        "end": (now + timedelta(days=days)).isoformat(),
    }


def participate_consent_body(now: datetime) -> dict[str, Any]:
    return {
        "scope": "participate",
        "seen_alone": True,
        "provisions": [provision("rj_provider", ["case_management"], [], now)],
    }


def share_flags_consent_body(now: datetime) -> dict[str, Any]:
    return {
        "scope": "share",
        "seen_alone": True,
        "provisions": [provision("police", ["safeguarding"], ["safety.flags"], now)],
    }


def facilitator_body(facilitator_id: str, today: date) -> dict[str, Any]:
    return {
        "facilitator_id": facilitator_id,
        "name": "Jo Facilitator",
        "accreditation_id": f"RJC-{facilitator_id}",
        "accredited_until": (today + timedelta(days=365)).isoformat(),
        "endorsement_expires": (today + timedelta(days=180)).isoformat(),
    }


def agreement_body(today: date) -> dict[str, Any]:
    def item(item_id: str, what: str, owner: str, days: int, monitor: str) -> dict[str, Any]:
        return {
            "item_id": item_id,
            "what": what,
            "owner": owner,
            "due_date": (today + timedelta(days=days)).isoformat(),
            "monitoring_agency": monitor,
        }

    return {
        "items": [
            item(
                "apology-letter",
                "Written apology delivered through the facilitator",
                "offender",
                14,
                "rj_provider",
            ),
            item(
                "perpetrator-programme",
                "Attend a domestic-abuse perpetrator programme",
                "offender",
                90,
                "police",
            ),
            item(
                "no-contact",
                "No contact with the victim except through the facilitator",
                "offender",
                180,
                "police",
            ),
        ]
    }


ITEM_REPORTS: tuple[tuple[str, str, str], ...] = (
    ("apology-letter", "completed", "Letter received by the facilitator and passed on"),
    ("perpetrator-programme", "completed", "Programme provider confirms attendance"),
    ("no-contact", "breached", "Police log: contact attempted by text message"),
)


# --- what an agency could and could not see ------------------------------------------------------


class Catalogue:
    """The policy's field catalogue: for each resource type, each field and its data class."""

    def __init__(self, resources: Mapping[str, Mapping[str, str]]) -> None:
        self.resources = {name: dict(fields) for name, fields in resources.items()}

    @classmethod
    def load(cls, path: Path = CATALOGUE_FILE) -> Catalogue:
        return cls(json.loads(path.read_text())["resources"])

    def fields(self, resource_type: str) -> dict[str, str]:
        return self.resources.get(resource_type, {})


@dataclass(frozen=True)
class Visibility:
    """One reader's view of one resource against the catalogue."""

    status: int | None
    returned: tuple[str, ...]
    withheld: dict[str, tuple[str, ...]]  # data class -> catalogue fields that did not come back
    uncatalogued: tuple[str, ...]  # came back but the catalogue does not know them

    @property
    def saw_anything(self) -> bool:
        return bool(self.returned)


def visibility(catalogue_fields: Mapping[str, str], status: int | None, body: Any) -> Visibility:
    """A refusal (403) or any non-200 answer counts as nothing returned: all fields withheld."""
    returned = set(body) if status == 200 and isinstance(body, Mapping) else set()
    withheld: dict[str, list[str]] = {}
    for name, data_class in sorted(catalogue_fields.items()):
        if name not in returned:
            withheld.setdefault(data_class, []).append(name)
    return Visibility(
        status=status,
        returned=tuple(sorted(returned & set(catalogue_fields))),
        withheld={cls: tuple(names) for cls, names in sorted(withheld.items())},
        uncatalogued=tuple(sorted(returned - set(catalogue_fields))),
    )


def access_summary(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Audit access records grouped by who read what, for what purpose, with what decision."""
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for record in records:
        key = (
            f"{record.get('agency', '?')}/{record.get('role', '?')}",
            str(record.get("resource_type", "?")),
            str(record.get("purpose", "?")),
            str(record.get("decision", "?")),
        )
        group = groups.setdefault(
            key,
            {
                "reader": key[0],
                "resource_type": key[1],
                "purpose": key[2],
                "decision": key[3],
                "reads": 0,
                "withheld": set(),
                "break_glass": False,
            },
        )
        group["reads"] += 1
        group["withheld"].update(record.get("fields_withheld") or {})
        group["break_glass"] = group["break_glass"] or bool(record.get("break_glass"))
    return [{**g, "withheld": sorted(g["withheld"])} for _, g in sorted(groups.items())]


def audit_records(body: Any) -> list[dict[str, Any]]:
    """The access records in an audit answer: a bare list or a list under a conventional key."""
    if isinstance(body, Mapping):
        for key in ("records", "entries", "items", "access"):
            if isinstance(body.get(key), list):
                body = body[key]
                break
    if not isinstance(body, list):
        return []
    return [dict(r) for r in body if isinstance(r, Mapping)]


def describe_checkpoint(body: Any) -> str:
    """One line for a C2SP signed-note checkpoint, given as its text or inside a JSON object."""
    if isinstance(body, Mapping):
        note = body.get("checkpoint") or body.get("note")
        if isinstance(note, str):
            return describe_checkpoint(note)
        size = body.get("size", body.get("tree_size"))
        root = body.get("root_hash", body.get("root"))
        return f"size {size}, root {str(root)[:16]}…"
    if not isinstance(body, str) or not body.strip():
        return "empty checkpoint"
    text, _, signatures = body.partition("\n\n")
    lines = text.splitlines()
    if len(lines) < 3:
        return "malformed checkpoint: " + " / ".join(lines)
    origin, size, root = lines[0], lines[1], lines[2]
    signers = [
        line.split(" ")[1]
        for line in signatures.splitlines()
        if line.startswith("\u2014 ") and len(line.split(" ")) >= 3
    ]
    signed = f"signed by {', '.join(signers)}" if signers else "unsigned"
    return f"{origin}: size {size}, root {root[:16]}…, {signed}"


# --- routes of services still being written ------------------------------------------------------

_PARAMETER = re.compile(r"\{[^}]*\}")


def route_shape(path: str) -> str:
    """`/court-cases/{court_reference}` -> `/court-cases/{}`: parameter names do not matter."""
    return _PARAMETER.sub("{}", path)


def find_route(openapi: Mapping[str, Any], method: str, shape: str) -> str | None:
    for path, operations in (openapi.get("paths") or {}).items():
        if route_shape(path) == shape and method.lower() in operations:
            return str(path)
    return None


def find_decision_route(openapi: Mapping[str, Any]) -> str | None:
    """The court's POST for a review decision under `/court-cases/{reference}/...`."""
    for path, operations in sorted((openapi.get("paths") or {}).items()):
        shape = route_shape(path)
        if (
            shape.startswith("/court-cases/{}/")
            and "post" in operations
            and ("decision" in shape or "review" in shape)
        ):
            return str(path)
    return None


def fill(path: str, *values: str) -> str:
    """Puts the values into the path's parameters, in order."""
    parts = iter(values)
    return _PARAMETER.sub(lambda _: next(parts), path)


# --- waiting for asynchronous effects ------------------------------------------------------------


def poll(
    check: Callable[[], T | None],
    timeout: float = WAIT_SECONDS,
    interval: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T | None, float]:
    """Calls `check` until it returns something truthy or `timeout` has passed; returns that value
    (None on timeout) and the seconds waited, which the demo prints and never asserts on."""
    started = clock()
    while True:
        value = check()
        waited = clock() - started
        if value:
            return value, waited
        if waited >= timeout:
            return None, waited
        sleep(interval)


# --- the platform as the demo reaches it ---------------------------------------------------------


class Platform:
    def __init__(
        self,
        base: str,
        key_dir: Path,
        client: httpx.Client,
        services: Sequence[ServiceSpec] = SERVICES,
    ) -> None:
        self.urls = {s.name: f"{base.rstrip('/')}:{s.port}" for s in services}
        self.key_dir = key_dir
        self.client = client
        self._tokens: dict[Actor, str] = {}
        self._openapi: dict[str, dict[str, Any] | None] = {}

    def request(
        self,
        actor: Actor,
        method: str,
        service: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        token = self._tokens.get(actor)
        if token is None:
            token = mint(
                self.key_dir, agency=actor.agency, role=actor.role, user=actor.user, org=actor.org
            )
            self._tokens[actor] = token
        return self.client.request(
            method,
            self.urls[service] + path,
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        )

    def ready(self, service: str) -> bool:
        try:
            return self.client.get(self.urls[service] + "/health/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def openapi(self, service: str) -> dict[str, Any] | None:
        """The service's OpenAPI document (anonymous, like health), None if it cannot be had."""
        if service not in self._openapi:
            try:
                response = self.client.get(self.urls[service] + "/openapi.json")
                document = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                document = None
            self._openapi[service] = document if isinstance(document, dict) else None
        return self._openapi[service]


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def problem_summary(response: httpx.Response) -> str:
    """The problem document's code and detail (never request data: the services keep it out)."""
    body = json_of(response)
    if not isinstance(body, Mapping):
        return response.text[:200]
    code = body.get("code") or str(body.get("type", "")).rsplit("/", 1)[-1]
    summary = f"{code}: {body.get('detail') or body.get('title') or ''}".strip()
    if isinstance(body.get("failed"), list):
        summary += " (failed: " + ", ".join(map(str, body["failed"])) + ")"
    if isinstance(body.get("errors"), list):
        summary += (
            " (fields: "
            + ", ".join(str(e.get("field")) for e in body["errors"] if isinstance(e, Mapping))
            + ")"
        )
    return summary


# --- the journey --------------------------------------------------------------------------------


@dataclass
class Step:
    actor: str
    action: str
    outcome: Outcome
    status: int | None = None
    note: str = ""
    waited: float | None = None
    at: float = 0.0


class JourneyHalted(Exception):
    """A command the rest of the journey depends on did not succeed."""


@dataclass
class Journey:
    platform: Platform
    console: Console
    catalogue: Catalogue
    wait_seconds: float = WAIT_SECONDS
    poll_seconds: float = POLL_SECONDS
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    steps: list[Step] = field(default_factory=list)
    case_id: str = ""
    court_reference: str = field(
        default_factory=lambda: f"T{date.today():%Y}{secrets.randbelow(10**6):06d}"
    )
    facilitator_id: str = field(default_factory=lambda: f"fac-{uuid.uuid4().hex[:8]}")
    court_decided: bool = False
    started: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def facilitator(self) -> Actor:
        return facilitator_actor(self.facilitator_id)

    @property
    def failures(self) -> list[Step]:
        return [s for s in self.steps if s.outcome == "failed"]

    # --- recording ---------------------------------------------------------------------------
    def record(self, step: Step, echo: bool = True) -> Step:
        step.at = self.clock() - self.started
        self.steps.append(step)
        if echo:
            self.console.print(timeline_line(step))
        return step

    def chapter(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    def act(
        self,
        actor: Actor,
        action: str,
        service: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        expect: Sequence[int] = (200, 201, 204),
        note: str = "",
        headers: Mapping[str, str] | None = None,
        essential: bool = True,
        describe: Callable[[Any], str] | None = None,
    ) -> Any:
        """One call. An essential one that fails halts the journey: later steps need it."""
        try:
            response = self.platform.request(
                actor, method, service, path, body=body, headers=headers
            )
        except httpx.HTTPError as error:
            self.record(
                Step(
                    actor.label,
                    action,
                    "failed",
                    note=f"{service} unreachable ({type(error).__name__})",
                )
            )
            if essential:
                raise JourneyHalted(action) from error
            return None
        if response.status_code not in expect:
            self.record(
                Step(actor.label, action, "failed", response.status_code, problem_summary(response))
            )
            if essential:
                raise JourneyHalted(action)
            return None
        answer = json_of(response) if response.content else {}
        if describe is not None:
            note = describe(answer)
        self.record(Step(actor.label, action, "ok", response.status_code, note))
        return answer

    def wait_for(
        self,
        actor: Actor,
        action: str,
        service: str,
        path: str,
        accept: Callable[[Any], T | None],
        *,
        params: Mapping[str, Any] | None = None,
        essential: bool = False,
        describe: Callable[[T], str] = lambda _: "",
    ) -> T | None:
        """Polls a read until `accept` finds the downstream effect in its answer."""
        last: dict[str, Any] = {"status": None, "note": "no answer"}

        def check() -> T | None:
            try:
                response = self.platform.request(actor, "GET", service, path, params=params)
            except httpx.HTTPError as error:
                last.update(status=None, note=f"{service} unreachable ({type(error).__name__})")
                return None
            last.update(
                status=response.status_code,
                note=problem_summary(response) if response.status_code != 200 else "not there yet",
            )
            return accept(json_of(response)) if response.status_code == 200 else None

        found, waited = poll(check, self.wait_seconds, self.poll_seconds, self.clock, self.sleep)
        if found is None:
            self.record(
                Step(
                    actor.label,
                    action,
                    "failed",
                    last["status"],
                    f"not seen within {self.wait_seconds:.0f} s; last: {last['note']}",
                    waited,
                )
            )
            if essential:
                raise JourneyHalted(action)
            return None
        self.record(Step(actor.label, action, "ok", 200, describe(found), waited))
        return found

    def route(self, actor: Actor, action: str, service: str, method: str, shape: str) -> str | None:
        """The path of a route on a service that may not have it yet; a skipped step if not."""
        openapi = self.platform.openapi(service)
        if openapi is None:
            reason = f"{service} service is not running or has no OpenAPI document"
        else:
            path = find_route(openapi, method, shape)
            if path is not None:
                return path
            reason = f"{service} service has no {method} {shape} yet"
        self.record(Step(actor.label, action, "skipped", note=reason))
        return None

    def views(
        self,
        title: str,
        resource_type: str,
        service: str,
        path: str,
        readers: Sequence[Actor],
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """Reads one resource as several agencies and shows what each could and could not see.
        A policy refusal (403) is an answer, not a failure, and so is 404: the case is not the
        reader's organisation's (yet: an RJ provider sees a case once it has accepted it).
        Anything else is a failure."""
        fields = self.catalogue.fields(resource_type)
        purpose = (params or {}).get("purpose", "case_management")
        table = Table(
            title=f"{title}: what each agency sees of '{resource_type}' "
            f"({len(fields)} catalogue fields, purpose {purpose})",
            title_justify="left",
            show_lines=True,
        )
        table.add_column("reader")
        table.add_column("HTTP", justify="right")
        table.add_column("came back")
        table.add_column("withheld (data class: fields)")
        for reader in readers:
            try:
                response = self.platform.request(reader, "GET", service, path, params=params)
            except httpx.HTTPError as error:
                self.record(
                    Step(
                        reader.label,
                        f"read {resource_type}",
                        "failed",
                        note=f"{service} unreachable ({type(error).__name__})",
                    )
                )
                continue
            status = response.status_code
            if status not in (200, 403, 404):
                self.record(
                    Step(
                        reader.label,
                        f"read {resource_type}",
                        "failed",
                        status,
                        problem_summary(response),
                    )
                )
                continue
            self.record(Step(reader.label, f"read {resource_type}", "ok", status), echo=False)
            seen = visibility(fields, status, json_of(response))
            came_back = (
                f"{len(seen.returned)}/{len(fields)}"
                if seen.saw_anything
                else "nothing (not their organisation's case)"
                if status == 404
                else "nothing (refused by policy)"
            )
            if seen.uncatalogued:
                came_back += "\n[red]not in catalogue: " + ", ".join(seen.uncatalogued)
            withheld = (
                "\n".join(
                    f"[yellow]{cls}[/yellow]: {', '.join(names)}"
                    for cls, names in seen.withheld.items()
                )
                or "[green]nothing"
            )
            table.add_row(reader.label, str(status), came_back, withheld)
        if table.row_count:
            self.console.print(table)

    # --- the chapters ------------------------------------------------------------------------
    def police_refer(self, today: date) -> None:
        self.chapter("1. Police refer the case (DASH, england-wales, victim-initiated)")
        created = self.act(
            POLICE,
            f"submit referral, court reference {self.court_reference}",
            "referral",
            "POST",
            "/referrals",
            body=referral_body(self.court_reference, today),
            headers={"Idempotency-Key": uuid.uuid4().hex},
            expect=(201,),
        )
        if not isinstance(created, Mapping) or not created.get("case_id"):
            raise JourneyHalted("submit referral: no case id in the answer")
        self.case_id = str(created["case_id"])
        self.console.print(f"  case id [bold]{self.case_id}[/bold]")
        self.views(
            "The referral",
            "referral",
            "referral",
            f"/referrals/{self.case_id}",
            [POLICE, COORDINATOR, CLERK],
        )

    def provider_intake(self) -> None:
        self.chapter("2. The RJ provider learns of it (by event)")

        def listed(rows: Any) -> dict[str, Any] | None:
            # Listed at first as "received"; screening by police decides eligibility later.
            row = next(
                (
                    r
                    for r in rows or []
                    if isinstance(r, Mapping) and r.get("case_id") == self.case_id
                ),
                None,
            )
            if row is None or not str(row.get("status", "")).startswith("eligible"):
                return None
            return dict(row)

        self.wait_for(
            COORDINATOR,
            "sees the referral in /intake",
            "conference",
            "/intake",
            listed,
            params={"limit": 500},
            essential=True,
            describe=lambda r: f"status {r.get('status')}, risk band {r.get('risk_band')}",
        )

    def victim_services(self, today: date, now: datetime) -> None:
        self.chapter("3. Victim services: record, safety flag, safety plan, consents")
        case = f"/cases/{self.case_id}"
        self.act(
            ADVOCATE,
            "register the victim (with location data)",
            "victim-support",
            "POST",
            case + "/victim",
            body=victim_body(),
            expect=(201,),
        )
        self.act(
            ADVOCATE,
            "raise safety flag address_confidential (medium)",
            "victim-support",
            "POST",
            case + "/safety-flags",
            body={"code": "address_confidential", "severity": "medium"},
        )
        self.act(
            ADVOCATE,
            "record a safety plan",
            "victim-support",
            "PUT",
            case + "/safety-plan",
            body={
                "content": "Code word with neighbour; refuge number memorised",
                "review_date": (today + timedelta(days=90)).isoformat(),
            },
        )
        self.act(
            ADVOCATE,
            "participate consent to rj_provider (seen alone)",
            "victim-support",
            "POST",
            case + "/consents",
            body=participate_consent_body(now),
            expect=(201,),
        )
        self.act(
            ADVOCATE,
            "share consent: safety.flags to police for safeguarding",
            "victim-support",
            "POST",
            case + "/consents",
            body=share_flags_consent_body(now),
            expect=(201,),
        )
        self.views(
            "The victim record",
            "victim_record",
            "victim-support",
            case + "/victim",
            [ADVOCATE, POLICE, COORDINATOR, CLERK],
        )
        # Asked for safeguarding: the purpose the victim consented to share the flags for.
        self.views(
            "Safety flags held by victim services",
            "safety_flags",
            "victim-support",
            case + "/safety-flags",
            [POLICE, CLERK],
            params={"purpose": "safeguarding"},
        )
        self.views(
            "The safety plan",
            "safety_plan",
            "victim-support",
            case + "/safety-plan",
            [COORDINATOR, POLICE],
        )

    def other_organisations(self) -> None:
        self.chapter("4. Another force and another charity: for them the case does not exist")
        case = f"/cases/{self.case_id}"
        self.act(
            OTHER_FORCE,
            "read the referral (another force)",
            "referral",
            "GET",
            f"/referrals/{self.case_id}",
            expect=(404,),
            describe=lambda _: "404 as expected",
        )
        self.act(
            OTHER_ADVOCATE,
            "read the victim record (another charity)",
            "victim-support",
            "GET",
            case + "/victim",
            expect=(404,),
            describe=lambda _: "404 as expected",
        )
        self.act(
            OTHER_FORCE,
            "add an incident (another force)",
            "referral",
            "POST",
            f"/referrals/{self.case_id}/incidents",
            expect=(404,),
            body={"date": "2026-01-01", "summary": "should not be stored"},
            describe=lambda _: "404 as expected, nothing stored",
        )

    def provider_prepare(self, today: date, now: datetime) -> None:
        self.chapter("5. The RJ provider accepts, prepares, passes the gate, holds the conference")
        case = f"/cases/{self.case_id}"
        facilitator = self.facilitator
        self.act(
            COORDINATOR,
            f"register facilitator {self.facilitator_id} (endorsed)",
            "conference",
            "POST",
            "/facilitators",
            body=facilitator_body(self.facilitator_id, today),
            expect=(201,),
        )
        self.act(
            COORDINATOR,
            "accept the referral",
            "conference",
            "POST",
            f"/intake/{self.case_id}/accept",
            expect=(201,),
        )
        self.act(
            COORDINATOR,
            "assign the lead facilitator",
            "conference",
            "POST",
            case + "/facilitators",
            body={"facilitator_id": self.facilitator_id, "role": "lead"},
        )
        # Before preparation the gate names every condition still missing, not just the first.
        self.act(
            facilitator,
            "read the gate before preparation",
            "conference",
            "GET",
            case + "/gate",
            essential=False,
            describe=gate_view,
        )
        self.act(
            facilitator,
            "record the offender's consent",
            "conference",
            "POST",
            case + "/offender-consent",
            body={"given": True},
        )
        self.act(
            facilitator,
            "prepare the victim (seen alone, coercion screen passed)",
            "conference",
            "POST",
            case + "/preparations",
            body={
                "participant": "victim",
                "seen_alone": True,
                "coercion_screen": "passed",
                "support_persons": ["advocate"],
                "notes": "Victim wants to be heard; advocate present before and after",
            },
        )
        self.act(
            facilitator,
            "prepare the offender",
            "conference",
            "POST",
            case + "/preparations",
            body={"participant": "offender", "notes": "Accepts responsibility"},
        )

        def gate_open(gate: Any) -> dict[str, Any] | None:
            return dict(gate) if isinstance(gate, Mapping) and gate.get("direct") == [] else None

        # Consent and the safety plan reach the provider by event: the gate opens when they do.
        self.wait_for(
            facilitator,
            "direct-conference gate holds",
            "conference",
            case + "/gate",
            gate_open,
            essential=True,
            describe=lambda g: (
                "direct: all conditions hold; indirect failures: "
                + (", ".join(g.get("indirect") or []) or "none")
            ),
        )
        # Scheduling names the version it saw, so two coordinators cannot override each other.
        seen = self.act(
            COORDINATOR,
            "read the case's version",
            "conference",
            "GET",
            case,
            describe=lambda r: f"version {r.get('version')}",
        )
        self.act(
            facilitator,
            "schedule a direct conference",
            "conference",
            "POST",
            case + "/conference",
            body={
                "modality": "direct",
                "at_time": (now + timedelta(days=7)).isoformat(),
                "expected_version": seen.get("version"),
            },
        )
        self.act(
            facilitator,
            "record the conference held",
            "conference",
            "POST",
            case + "/conference/held",
            body={"notes": "Both parties spoke; facilitator notes stay with the provider"},
        )
        self.act(
            facilitator,
            "draft the outcome agreement (3 items)",
            "conference",
            "PUT",
            case + "/agreement",
            body=agreement_body(today),
        )
        for party in ("victim", "offender"):
            self.act(
                facilitator,
                f"{party} agrees and consents to share with the court",
                "conference",
                "POST",
                case + "/agreement/consents",
                body={"party": party, "agrees": True, "share_with_court": True},
            )
        self.views(
            "The RJ case", "rj_case", "conference", case, [facilitator, COORDINATOR, POLICE, CLERK]
        )

    def monitoring(self) -> None:
        self.chapter("6. Monitoring the agreement: two items completed, one breached")
        reporters = {
            "apology-letter": self.facilitator,
            "perpetrator-programme": POLICE,
            "no-contact": POLICE,
        }
        for item_id, status, evidence in ITEM_REPORTS:
            self.act(
                reporters[item_id],
                f"report {item_id} {status}",
                "conference",
                "POST",
                f"/cases/{self.case_id}/agreement/items/{item_id}/report",
                body={"status": status, "evidence": evidence},
            )

    def court(self) -> None:
        self.chapter("7. The court reviews compliance")
        action = f"read court case {self.court_reference}"
        path = self.route(CLERK, action, "court", "GET", "/court-cases/{}")
        if path is None:
            return
        case_path = fill(path, self.court_reference)

        def reported(body: Any) -> dict[str, Any] | None:
            items = body.get("items_status") if isinstance(body, Mapping) else None
            done = (
                isinstance(items, list)
                and len(items) == len(ITEM_REPORTS)
                and all(isinstance(i, Mapping) and i.get("status") != "open" for i in items)
            )
            return dict(body) if done else None

        found = self.wait_for(
            CLERK,
            action + " until every item is reported",
            "court",
            case_path,
            reported,
            describe=court_view,
        )
        self.views("The court case", "court_case", "court", case_path, [CLERK])
        if found is None:
            return
        openapi = self.platform.openapi("court") or {}
        decision_path = find_decision_route(openapi)
        if decision_path is None:
            self.record(
                Step(
                    CLERK.label,
                    "record a review decision",
                    "skipped",
                    note="court service has no POST /court-cases/{}/…decision… yet",
                )
            )
            return
        decided = self.act(
            CLERK,
            "record review decision: returned_for_sentencing",
            "court",
            "POST",
            fill(decision_path, self.court_reference),
            body={
                "decision": "returned_for_sentencing",
                "notes": "Agreement breached; listed for sentencing",
            },
            essential=False,
        )
        self.court_decided = decided is not None

    def victim_told(self) -> None:
        self.chapter("8. Victim services learn of completion and breach (to tell the victim)")
        wanted = Counter({"item_completed": 2, "item_breached": 1})
        if self.court_decided:
            wanted["court_review"] = 1

        def arrived(items: Any) -> list[dict[str, Any]] | None:
            notes = [n for n in items or [] if isinstance(n, Mapping)]
            kinds = Counter(str(n.get("kind")) for n in notes)
            return (
                [dict(n) for n in notes] if all(kinds[k] >= n for k, n in wanted.items()) else None
            )

        self.wait_for(
            ADVOCATE,
            "read notifications for the victim",
            "victim-support",
            f"/cases/{self.case_id}/notifications",
            arrived,
            describe=lambda notes: "; ".join(
                f"{n.get('kind')} {n.get('item_id') or n.get('decision') or ''}".strip()
                for n in notes
            ),
        )

    def audit(self) -> None:
        self.chapter("9. The privacy officer: who accessed the case, and the signed log")
        path = self.route(
            PRIVACY_OFFICER, "read who accessed the case", "audit", "GET", "/cases/{}/access"
        )
        if path is not None:
            # Each of these agencies read the case above, so each must appear in the log.
            readers = {POLICE.agency, ADVOCATE.agency, COORDINATOR.agency, CLERK.agency}

            def everyone(body: Any) -> list[dict[str, Any]] | None:
                records = audit_records(body)
                seen = {str(r.get("agency")) for r in records}
                return records if readers <= seen else None

            records = self.wait_for(
                PRIVACY_OFFICER,
                "read who accessed the case",
                "audit",
                fill(path, self.case_id),
                everyone,
                describe=lambda rs: f"{len(rs)} access decision(s) recorded",
            )
            if records:
                self.console.print(access_table(access_summary(records)))
        checkpoint_path = self.route(
            PRIVACY_OFFICER, "read the latest checkpoint", "audit", "GET", "/checkpoint"
        )
        if checkpoint_path is None:
            return
        try:
            response = self.platform.request(PRIVACY_OFFICER, "GET", "audit", checkpoint_path)
        except httpx.HTTPError as error:
            self.record(
                Step(
                    PRIVACY_OFFICER.label,
                    "read the latest checkpoint",
                    "failed",
                    note=f"audit unreachable ({type(error).__name__})",
                )
            )
            return
        if response.status_code != 200:
            self.record(
                Step(
                    PRIVACY_OFFICER.label,
                    "read the latest checkpoint",
                    "failed",
                    response.status_code,
                    problem_summary(response),
                )
            )
            return
        is_json = "json" in response.headers.get("content-type", "")
        body = json_of(response) if is_json else response.text
        self.record(
            Step(
                PRIVACY_OFFICER.label,
                "read the latest checkpoint",
                "ok",
                200,
                describe_checkpoint(body),
            )
        )


def gate_view(gate: Any) -> str:
    if not isinstance(gate, Mapping):
        return "no gate in the answer"
    direct = gate.get("direct") or []
    if not direct:
        return "direct gate holds"
    return "direct gate failing: " + ", ".join(map(str, direct))


def court_view(body: Mapping[str, Any]) -> str:
    statuses = ", ".join(
        f"{i.get('item_id')} {i.get('status')}"
        for i in body.get("items_status") or []
        if isinstance(i, Mapping)
    )
    text = body.get("items_text")
    shown = (
        f"item text shared ({len(text)} items)"
        if isinstance(text, list) and text
        else "item text withheld"
    )
    return f"{statuses}; {shown}"


def timeline_line(step: Step) -> Text:
    style = {"ok": "green", "failed": "bold red", "skipped": "yellow"}[step.outcome]
    line = Text()
    line.append(f"+{step.at:6.1f}s  ", style="dim")
    line.append(f"{step.actor:<26}", style="cyan")
    line.append(step.action)
    line.append(f"  {step.status if step.status is not None else '—'} {step.outcome}", style=style)
    if step.waited is not None:
        line.append(f"  after {step.waited:.1f} s", style="magenta")
    if step.note:
        line.append(f"  {step.note}", style="dim" if step.outcome == "ok" else style)
    return line


def access_table(summary: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Who accessed the case (from the audit log)", title_justify="left")
    for column in ("reader", "resource", "purpose", "decision", "reads", "fields withheld"):
        table.add_column(column)
    for row in summary:
        decision = row["decision"] + (" (break-glass)" if row["break_glass"] else "")
        table.add_row(
            row["reader"],
            row["resource_type"],
            row["purpose"],
            decision,
            str(row["reads"]),
            ", ".join(row["withheld"]) or "—",
        )
    return table


def summary_table(steps: Sequence[Step]) -> Table:
    counts = Counter(s.outcome for s in steps)
    table = Table(title="Demo summary", title_justify="left")
    for column in ("ok", "failed", "skipped"):
        table.add_column(column, justify="right")
    table.add_row(str(counts["ok"]), str(counts["failed"]), str(counts["skipped"]))
    return table


def walk(
    base: str, key_dir: Path, console: Console, services: Sequence[ServiceSpec] = SERVICES
) -> int:
    """Walks one case through the journey; 0 if no step failed unexpectedly, 1 if one did,
    2 if the platform is not there to walk against. `services` says where each listens (the
    tests run them on free ports, beside a running platform)."""
    if not (key_dir / "signing-key.pem").exists():
        # Minting would make a fresh key that no running service trusts: every call would 401.
        console.print(
            f"[red]No development signing key in {key_dir}.[/red] Start the platform "
            "with [bold]make run[/bold] (same data directory) first."
        )
        return 2
    with httpx.Client(timeout=10.0) as client:
        platform = Platform(base, key_dir, client, services)
        down = [name for name in CORE_SERVICES if not platform.ready(name)]
        if down:
            console.print(
                f"[red]Not ready: {', '.join(down)}[/red] at {base}. Start the platform "
                "with [bold]make run[/bold] and wait for 'Accord is up'."
            )
            return 2
        journey = Journey(platform, console, Catalogue.load())
        now = datetime.now(UTC)
        today = now.date()
        try:
            journey.police_refer(today)
            journey.provider_intake()
            journey.victim_services(today, now)
            journey.other_organisations()
            journey.provider_prepare(today, now)
            journey.monitoring()
            journey.court()
            journey.victim_told()
            journey.audit()
        except JourneyHalted as halted:
            console.print(
                f"[bold red]Journey halted at '{halted}': the steps after it need it.[/bold red]"
            )
    console.rule()
    console.print(summary_table(journey.steps))
    for step in journey.failures:
        console.print(Text(f"failed: {step.actor} {step.action}: {step.note}", style="red"))
    return 1 if journey.failures else 0
