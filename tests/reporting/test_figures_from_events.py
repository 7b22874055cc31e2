"""Issue 23's done-when: a few hundred synthetic cases made through the services' APIs, and
every figure of the reporting service checked against counts this test keeps itself of what
it did (not read from the service's data); then the read model is rebuilt from Kafka from
scratch into a new store and gives the same figures.

The platform's Kafka is shared by the whole test session, so the reporting service also counts
what other tests did: the test waits until the reporting consumer has caught up, takes the
counts before it starts, and checks the difference its own cases make."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from accord_kernel.bus import group_caught_up
from accord_kernel.contracts import AccessRecorded
from accord_platform.harness import InProcessPlatform, eventually
from accord_referral.examples import referral
from accord_reporting.domain import Scope, count_all
from accord_reporting.domain.figures import REGION
from accord_reporting.main import TOPICS, make_runtime, rebuild

from tests.journey import Journey, flags_to_police_consent

pytestmark = pytest.mark.integration

REFERRALS = 240
SEED = 23
# Per jurisdiction: its share of referrals and the forces (with their victim services and
# courts) that refer there, from the directory of organisations (SPEC 4a).
JURISDICTIONS = {
    "england-wales": (0.6, ("north", "south")),
    "scotland": (0.25, ("scotland",)),
    "nova-scotia": (0.15, ("ns",)),
}
# The Victims' Code deadlines every shipped pack names (policies/accord/packs).
DEADLINES = ("victim_information", "victim_support_referral")
Cells = Counter[tuple[str, tuple[str, ...], str]]


@dataclass
class Case:
    case_id: str
    jurisdiction: str
    initiated_by: str
    prefix: str
    outcome: str
    reasons: list[str]
    registered: bool = False
    victim_answered: bool = False
    share_consent: bool = False
    withdrawn: str | None = None
    accepted: bool = False
    stopped: str | None = None
    agreement: str | None = None
    grants: list[bool] = field(default_factory=list)  # reviewed or not
    new_incident: bool = False

    @property
    def organisations(self) -> set[str]:
        orgs = {f"{self.prefix}-police", f"{self.prefix}-advocacy"}
        return orgs | ({f"{self.prefix}-rj"} if self.accepted else set())


def expected(cases: list[Case], scope: Scope, month: str) -> dict[str, Cells]:
    """The figures, computed from what this test did, by the rules of SPEC section 10 and the
    issue: cohort month; a case counts once per table, under the scope's label."""
    out: dict[str, Cells] = {}

    def add(table: str, key: tuple[str, ...], column: str) -> None:
        out.setdefault(table, Counter())[(table, key, column)] += 1

    for c in cases:
        if scope.jurisdictions is not None and c.jurisdiction not in scope.jurisdictions:
            continue
        if scope.organisation is not None and scope.organisation not in c.organisations:
            continue
        if (
            scope.organisation is None
            and c.jurisdiction in scope.needs_consent
            and not c.share_consent
        ):
            continue
        base = (month, scope.label, c.jurisdiction)
        add("referrals_by_initiator", base, c.initiated_by)
        add("referrals_by_outcome", base, c.outcome)
        if c.outcome == "ineligible":
            for reason in c.reasons:
                add("refusal_reasons", base, reason)
        add(
            "deadlines",
            (*base, "victim_information"),
            "met" if c.victim_answered else "pending",
        )
        add(
            "deadlines",
            (*base, "victim_support_referral"),
            "met" if c.registered else "pending",
        )
        if c.accepted:
            add("rj_mode", base, "direct" if c.outcome == "eligible_direct" else "indirect")
        if c.stopped:
            add("stops", base, c.stopped)
        if c.withdrawn:
            add("withdrawals", base, c.withdrawn)
        if c.agreement:
            add("agreements", base, c.agreement)
        # referred today: an incident now is within 6 months; without one, 12 months have not
        # passed, so whether there will be one is not yet known
        add("new_incidents", base, "within_6_months" if c.new_incident else "not_yet_known")
        for reviewed in c.grants:
            add(
                "break_glass",
                (*base, "police"),
                "within_1_day" if reviewed else "pending",
            )
    return out


def observed(tallies: Any, scope: Scope, today: date) -> dict[str, Cells]:
    out: dict[str, Cells] = {}
    for name, counts in count_all(tallies, scope, today).items():
        out[name] = Counter({(name, key, col): n for (key, col), n in counts.cells.items()})
    return out


def difference(after: dict[str, Cells], before: dict[str, Cells]) -> dict[str, Cells]:
    out: dict[str, Cells] = {}
    for name in after.keys() | before.keys():
        a, b = after.get(name, Counter()), before.get(name, Counter())
        delta = Counter({k: a[k] - b[k] for k in a.keys() | b.keys() if a[k] != b[k]})
        if delta:
            out[name] = delta
    return out


async def submit(platform: InProcessPlatform, rng: random.Random) -> Case:
    jurisdiction = rng.choices(list(JURISDICTIONS), weights=[w for w, _ in JURISDICTIONS.values()])[
        0
    ]
    prefix = rng.choice(JURISDICTIONS[jurisdiction][1])
    initiated_by = rng.choice(["victim", "victim_advocate", "police", "court", "offender"])
    body = referral(
        jurisdiction=jurisdiction,
        initiated_by=initiated_by,
        acknowledged=rng.random() > 0.15,
        yes=rng.choice([3, 3, 11, 15]),
        court_reference=None,
        victim_services_org=f"{prefix}-advocacy",
    )
    r = await platform.client("referral").post(
        "/referrals",
        json=body,
        headers=platform.token("police", "officer", org=f"{prefix}-police"),
    )
    assert r.status_code == 201, r.text
    answer = r.json()
    return Case(
        answer["case_id"],
        jurisdiction,
        initiated_by,
        prefix,
        answer["eligibility"],
        sorted(answer["eligibility_reasons"]),
    )


async def register(platform: InProcessPlatform, case: Case) -> None:
    vs = platform.client("victim-support")
    advocate = platform.token("victim_services", "advocate", org=f"{case.prefix}-advocacy")

    async def registered() -> bool:
        r = await vs.post(
            f"/cases/{case.case_id}/victim",
            headers=advocate,
            json={
                "name": "Alex",
                "address": "1 Safe Street",
                "safe_contact_number": "+44 7700 900123",
                "preferred_contact_method": "phone",
            },
        )
        # 404 until victim services has the referral; 409 when its events for the case
        # were being applied at that moment: an advocate would try again.
        assert r.status_code in (201, 404) or r.json()["code"] == "concurrent_update", r.text
        return r.status_code == 201

    await eventually(registered)
    case.registered = True


async def consent_to_share(platform: InProcessPlatform, case: Case) -> None:
    r = await platform.client("victim-support").post(
        f"/cases/{case.case_id}/consents",
        headers=platform.token("victim_services", "advocate", org=f"{case.prefix}-advocacy"),
        json=flags_to_police_consent(),
    )
    assert r.status_code == 201, r.text
    case.victim_answered = case.share_consent = True


async def break_glass(platform: InProcessPlatform, case: Case, review: bool) -> None:
    vs = platform.client("victim-support")
    granted = await vs.post(
        f"/cases/{case.case_id}/emergency-access",
        headers=platform.token(
            "police", "supervisor", user="sup-" + uuid.uuid4().hex[:6], org=f"{case.prefix}-police"
        ),
        json={
            "reason_code": "imminent_risk_to_life",
            "justification": "Credible threat to life reported tonight",
            "data_classes": ["victim.location"],
            "duration_minutes": 30,
        },
    )
    assert granted.status_code == 201, granted.text
    if review:
        done = await vs.post(
            f"/emergency-access/{granted.json()['grant_id']}/review",
            headers=platform.token("audit", "privacy_officer", "po-1"),
            json={"outcome": "justified", "notes": "Threat confirmed"},
        )
        assert done.status_code == 204, done.text
    case.grants.append(review)


async def full_journey(platform: InProcessPlatform, ending: str) -> Case:
    """A victim-initiated, England and Wales, standard-risk case taken to its end: an
    agreement kept or breached, or a stop with a reason code."""
    j = Journey(platform)
    await j.refer()
    case = Case(j.case_id, "england-wales", "victim", "north", "eligible_direct", [])
    await j.victim_consents()
    case.registered = case.victim_answered = True
    await j.accept_and_prepare()
    case.accepted = True
    if ending in ("coercion_suspected", "continuing_violence"):
        r = await platform.client("conference").post(
            f"/cases/{j.case_id}/stop", headers=j.facilitator, json={"reason": ending}
        )
        assert r.status_code == 204, r.text
        case.stopped = ending
        return case
    await j.conference_and_agreement(share_with_court=False)
    statuses = ["completed", "completed", "breached" if ending == "breached" else "completed"]
    for n, status in enumerate(statuses, start=1):
        await j.report(f"item-{n}", status)
    case.agreement = ending
    return case


async def test_every_figure_matches_what_was_done_and_a_rebuild_agrees(
    platform: InProcessPlatform, infrastructure: Any, tmp_path: Any
) -> None:
    reporting = platform.services["reporting"]
    app = reporting.runtime.app
    group = platform.settings["reporting"].consumer_group
    assert group is not None
    await eventually(
        lambda: group_caught_up(platform.settings["reporting"].kafka_bootstrap, group, TOPICS),
        timeout=120,
    )
    today = datetime.now(UTC).date()
    month = f"{today.year:04d}-{today.month:02d}"
    scopes = [
        Scope("north-police"),
        Scope("south-police"),
        Scope("north-advocacy"),
        Scope("north-rj"),
        Scope(None, frozenset({"england-wales"})),
        Scope(None, frozenset({"scotland", "nova-scotia"}), frozenset({"scotland"})),
    ]
    before = {s: observed(list(app.tallies()), s, today) for s in scopes}

    rng = random.Random(SEED)
    limit = asyncio.Semaphore(6)

    # One at a time: the referral service answers concurrent submissions that collide on its
    # shared index with a 409 its OpenAPI document does not list (not what this test is about).
    cases = [await submit(platform, rng) for _ in range(REFERRALS)]
    # Withdrawals with coded reasons and with free text (counted as `other`).
    # (an ineligible referral is closed already: only eligible ones can be withdrawn)
    withdrawable = [c for c in cases if c.outcome != "ineligible"][:24]
    for n, case in enumerate(withdrawable):
        reason = ("victim_request", "duplicate", "Victim moved away")[n % 3]
        r = await platform.client("referral").post(
            f"/referrals/{case.case_id}/withdrawal",
            json={"reason": reason},
            headers=platform.token("police", "officer", org=f"{case.prefix}-police"),
        )
        assert r.status_code in (200, 204), r.text
        case.withdrawn = reason if reason != "Victim moved away" else "other"
    # Victim services register some victims; some consent to share; some break-glass.
    chosen = [c for c in cases if c.withdrawn is None][:60]

    async def registered(case: Case) -> None:
        async with limit:
            await register(platform, case)

    await asyncio.gather(*(registered(c) for c in chosen))
    for case in chosen[::2]:
        await consent_to_share(platform, case)
    for n, case in enumerate(chosen[1:13:2]):
        await break_glass(platform, case, review=n % 3 != 0)
    # The police record a new incident between the same parties on some cases.
    for case in [c for c in chosen if c.outcome != "ineligible"][:10]:
        r = await platform.client("referral").post(
            f"/referrals/{case.case_id}/incidents",
            json={"date": datetime.now(UTC).date().isoformat(), "summary": "A further incident"},
            headers=platform.token("police", "officer", org=f"{case.prefix}-police"),
        )
        assert r.status_code in (200, 201, 204), r.text
        case.new_incident = True
    for ending in (
        "completed",
        "completed",
        "breached",
        "coercion_suspected",
        "continuing_violence",
    ):
        cases.append(await full_journey(platform, ending))

    async def counted() -> bool:
        tallies = list(app.tallies())
        return all(
            difference(observed(tallies, s, today), before[s]) == expected(cases, s, month)
            for s in scopes
        )

    try:
        await eventually(counted, timeout=180, interval=1.0)
    except AssertionError:
        tallies = list(app.tallies())
        for s in scopes:
            got = difference(observed(tallies, s, today), before[s])
            assert got == expected(cases, s, month), s
        raise

    # What leaves the service: a manager's and a commissioner's tables, suppressed, with
    # every visible count the true one and every count under 5 withheld.
    truth = {s.label: observed(list(app.tallies()), s, today) for s in (scopes[0], scopes[4])}
    client = reporting.client
    manager = platform.token("police", "manager", user="mgr-1", org="north-police")
    commissioner = platform.token("commissioner", "commissioner", user="com-1")
    for headers, scope, label in (
        (manager, "organisation", "north-police"),
        (commissioner, "region", REGION),
    ):
        r = await client.get("/reports", params={"scope": scope}, headers=headers)
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["organisation"] == label
        for table in report["tables"]:
            cells = truth[label][table["name"]]
            columns = table["columns"][:-1]
            for row in table["rows"][:-1]:
                key = tuple(row[: len(table["row_headings"])])
                values = row[len(table["row_headings"]) :]
                for column, shown in zip(columns, values, strict=False):
                    value = cells[(table["name"], key, column)]
                    if 0 < value < 5:
                        assert shown is None, (table["name"], key, column)
                    elif shown is not None:
                        assert shown == value, (table["name"], key, column)
                assert key[1] == label
                assert all(isinstance(v, int) or v is None for v in values)
    officer = platform.token("police", "officer", org="north-police")
    assert (await client.get("/reports", headers=officer)).status_code == 403
    refused = await client.get("/reports", params={"scope": "region"}, headers=manager)
    assert refused.status_code == 403
    csv = await client.get("/reports/referrals_by_outcome.csv", headers=manager)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("month,organisation,jurisdiction,eligible_direct")
    # Each request, granted or refused, was recorded for audit like any read.
    relay = reporting.runtime.relay()
    relay.batch_size = 1_000_000
    records = [
        e.data
        for _, batch in relay.pending(after=0)
        for e in batch
        if e.type == AccessRecorded.type and e.data["resource_type"] == "report"
    ]
    decisions = {(d["user"], d["decision"]) for d in records}
    assert {("mgr-1", "permit"), ("mgr-1", "deny"), ("com-1", "permit")} <= decisions

    # Rebuilt from scratch (`accord-reporting rebuild`): a new store, a new consumer group
    # from the earliest offsets, until it has caught up with every topic.
    database = "accord_rebuild_" + uuid.uuid4().hex[:8]
    infrastructure.postgres.create_database(database)
    settings = platform.settings["reporting"].model_copy(
        update={
            "database_url": infrastructure.postgres.url(database),
            "consumer_group": "reporting-rebuild-" + uuid.uuid4().hex[:8],
            "data_dir": tmp_path,
        }
    )
    assert await rebuild(settings) > 0
    await eventually(lambda: group_caught_up(settings.kafka_bootstrap, group, TOPICS), timeout=120)
    reopened = make_runtime(settings)
    try:
        live, again = list(app.tallies()), list(reopened.app.tallies())
        for s in scopes:
            assert observed(again, s, today) == observed(live, s, today), s
            assert [t.as_rows() for t in reopened.app.figures(s, today)] == [
                t.as_rows() for t in app.figures(s, today)
            ]
    finally:
        reopened.app.close()
