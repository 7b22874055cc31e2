"""Issue 3: what policy enforcement costs a read, against the same read with enforcement off.

Two copies of each service run side by side on the same PostgreSQL event store: one as
deployed (every read asks OPA and records an access record for audit), one built with
`enforce_policy=False`. Both answer the same requests for the same cases, alternating (and
swapping which goes first every round), so whatever else the machine is doing weighs on both.

    uv run python -m bench.policy_read [--reads 400] [--lists 60] [--cases 120]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.policy import Resource
from accord_kernel.runtime import ServiceRuntime
from accord_kernel.settings import ServiceSettings
from accord_kernel.testing import submitted, tell
from accord_platform.infra import Infrastructure

from bench.measure import Distribution, Stopwatch, progress_bar
from bench.referrals import referral, victim
from bench.report import record
from bench.results import BenchmarkResult
from bench.servers import new_database, running

NAME = "policy_read"
WARM_UP = 20
LIST_SIZES = (10, 100)


@dataclass
class ServiceCopy:
    """One service built from its own composition root, with or without enforcement."""

    runtime: ServiceRuntime
    client: httpx.AsyncClient
    decisions: int = 0
    timed_decisions: list[float] = field(default_factory=list)
    _decide: Callable[..., Any] = field(init=False)

    def __post_init__(self) -> None:
        # Counts OPA round trips (one per `decide`) by wrapping the real enforcement point.
        self._decide = self.runtime.pep.decide

        def counted(*arguments: Any, **options: Any) -> Any:
            self.decisions += 1
            return self._decide(*arguments, **options)

        setattr(self.runtime.pep, "decide", counted)  # noqa: B010

    async def close(self) -> None:
        await self.client.aclose()
        self.runtime.app.close()


def build(
    service: str,
    module: str,
    enforce: bool,
    database_url: str,
    opa_url: str,
    jwks: Path,
    work_dir: Path,
) -> ServiceCopy:
    composition = importlib.import_module(module)
    settings = ServiceSettings.for_service(
        service,
        0,
        persistence="postgres",
        database_url=database_url,
        opa_url=opa_url,
        jwks_path=jwks,
        data_dir=work_dir / f"{service}-{enforce}",
        enforce_policy=enforce,
    )
    runtime: ServiceRuntime = composition.make_runtime(settings)
    api = composition.make_api(runtime, False)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url=f"http://{service}")
    return ServiceCopy(runtime, client)


async def timed_get(
    copy: ServiceCopy, path: str, headers: dict[str, str], params: dict[str, Any] | None = None
) -> tuple[float, Any]:
    clock = Stopwatch()
    response = await copy.client.get(path, headers=headers, params=params)
    elapsed = clock.elapsed()
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    return elapsed, response.json()


@dataclass
class Samples:
    enforced: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    decision_only: list[float] = field(default_factory=list)
    fields_enforced: int = 0
    fields_plain: int = 0
    decisions_per_request: float = 0.0


async def seed(
    enforced: dict[str, ServiceCopy], tokens: dict[str, dict[str, str]], cases: int, victims: int
) -> list[str]:
    case_ids: list[str] = []
    with progress_bar() as bars:
        task = bars.add_task("seeding referrals and victim records", total=cases + victims)
        for _ in range(cases):
            response = await enforced["referral"].client.post(
                "/referrals", json=referral(), headers=tokens["police"]
            )
            if response.status_code != 201:
                raise RuntimeError(f"referral refused: {response.status_code} {response.text}")
            case_ids.append(str(response.json()["case_id"]))
            bars.advance(task)
        for case_id in case_ids[:victims]:
            # No Kafka here: victim services is told of the referral through its real inbox.
            tell(enforced["victim-support"].runtime, submitted(case_id))
            response = await enforced["victim-support"].client.post(
                f"/cases/{case_id}/victim", json=victim(), headers=tokens["advocate"]
            )
            if response.status_code != 201:
                raise RuntimeError(f"victim refused: {response.status_code} {response.text}")
            bars.advance(task)
    return case_ids


async def single_reads(
    pair: tuple[ServiceCopy, ServiceCopy],
    path: str,
    case_ids: list[str],
    headers: dict[str, str],
    rounds: int,
    seed_value: int,
    description: str,
    decision: Callable[[str], None],
) -> Samples:
    enforced, plain = pair
    chooser = random.Random(seed_value)
    samples = Samples()
    for case_id in case_ids[:WARM_UP]:
        await timed_get(enforced, path.format(case_id=case_id), headers)
        await timed_get(plain, path.format(case_id=case_id), headers)
    before = enforced.decisions
    with progress_bar() as bars:
        task = bars.add_task(description, total=rounds)
        for number in range(rounds):
            case_id = chooser.choice(case_ids)
            order = [(enforced, samples.enforced), (plain, samples.plain)]
            for copy, sink in order if number % 2 == 0 else reversed(order):
                elapsed, body = await timed_get(copy, path.format(case_id=case_id), headers)
                sink.append(elapsed)
                if copy is enforced:
                    samples.fields_enforced = len(body)
                else:
                    samples.fields_plain = len(body)
            decision(case_id)
            bars.advance(task)
    samples.decision_only = enforced.timed_decisions[-rounds:]
    # The decisions taken outside a request are not the endpoint's.
    samples.decisions_per_request = (enforced.decisions - before - rounds) / rounds
    return samples


async def list_reads(
    pair: tuple[ServiceCopy, ServiceCopy],
    headers: dict[str, str],
    rounds: int,
    decision: Callable[[int], None],
) -> dict[int, Samples]:
    enforced, plain = pair
    measured = {size: Samples() for size in LIST_SIZES}
    with progress_bar() as bars:
        task = bars.add_task(
            "GET /referrals?limit=N, enforced and not", total=rounds * len(LIST_SIZES)
        )
        for size in LIST_SIZES:
            for _ in range(3):
                await timed_get(enforced, "/referrals", headers, {"limit": size})
                await timed_get(plain, "/referrals", headers, {"limit": size})
            samples = measured[size]
            before = enforced.decisions
            for number in range(rounds):
                order = [(enforced, samples.enforced), (plain, samples.plain)]
                for copy, sink in order if number % 2 == 0 else reversed(order):
                    elapsed, rows = await timed_get(copy, "/referrals", headers, {"limit": size})
                    if len(rows) != size:
                        raise RuntimeError(f"asked for {size} referrals, got {len(rows)}")
                    sink.append(elapsed)
                decision(size)
                bars.advance(task)
            samples.decision_only = enforced.timed_decisions[-rounds:]
            samples.decisions_per_request = (enforced.decisions - before - rounds) / rounds
    return measured


def decision_only(
    copy: ServiceCopy, token: str, resources: Callable[[Any], list[Resource]]
) -> Callable[[Any], None]:
    """The policy decision an endpoint takes, alone: no HTTP, no access record. Building the
    resources (store reads) happens before the clock starts."""
    subject = copy.runtime.verifier.verify(token)

    def decide(key: Any) -> None:
        offered = resources(key)
        clock = Stopwatch()
        copy.runtime.pep.decide(subject, "case_management", offered)
        copy.timed_decisions.append(clock.elapsed())

    return decide


async def measure(
    infrastructure: Infrastructure, arguments: argparse.Namespace, work_dir: Path
) -> dict[str, Any]:
    database_url = infrastructure.postgres.url(new_database(infrastructure, "bench_policy"))
    key_dir = work_dir / "dev-keys"
    _, jwks = ensure_dev_keys(key_dir)
    raw_tokens = {
        "police": mint(key_dir, agency="police", role="officer", user="officer-1"),
        "advocate": mint(key_dir, agency="victim_services", role="advocate", user="idva-1"),
    }
    tokens = {name: {"Authorization": f"Bearer {token}"} for name, token in raw_tokens.items()}
    modules = {"referral": "accord_referral.main", "victim-support": "accord_victim_support.main"}
    copies = {
        (service, enforce): build(
            service, module, enforce, database_url, infrastructure.opa_url, jwks, work_dir
        )
        for service, module in modules.items()
        for enforce in (True, False)
    }
    try:
        enforced = {service: copies[(service, True)] for service in modules}
        case_ids = await seed(enforced, tokens, arguments.cases, arguments.victims)
        referral_app: Any = enforced["referral"].runtime.app
        victim_app: Any = enforced["victim-support"].runtime.app

        def referral_resource(document: dict[str, Any]) -> Resource:
            case_id = str(document["case_id"])
            return Resource(
                type="referral",
                case_id=case_id,
                document=document,
                case=referral_app.policy_case(case_id, "police", "officer-1"),
            )

        def one_referral(case_id: str) -> list[Resource]:
            return [referral_resource(referral_app.referral(case_id))]

        def listed_referrals(size: int) -> list[Resource]:
            return [referral_resource(document) for document in referral_app.referrals(limit=size)]

        def one_victim(case_id: str) -> list[Resource]:
            return [
                Resource(
                    type="victim_record",
                    case_id=case_id,
                    document=victim_app.victim_document(case_id),
                    case=victim_app.policy_case(case_id, "victim_services", "idva-1"),
                )
            ]

        referral_reads = await single_reads(
            (copies[("referral", True)], copies[("referral", False)]),
            "/referrals/{case_id}",
            case_ids,
            tokens["police"],
            arguments.reads,
            arguments.seed,
            "GET /referrals/{id} as police, enforced and not",
            decision_only(copies[("referral", True)], raw_tokens["police"], one_referral),
        )
        victim_reads = await single_reads(
            (copies[("victim-support", True)], copies[("victim-support", False)]),
            "/cases/{case_id}/victim",
            case_ids[: arguments.victims],
            tokens["advocate"],
            arguments.reads,
            arguments.seed + 1,
            "GET /cases/{id}/victim as advocate, enforced and not",
            decision_only(copies[("victim-support", True)], raw_tokens["advocate"], one_victim),
        )
        lists = await list_reads(
            (copies[("referral", True)], copies[("referral", False)]),
            tokens["police"],
            arguments.lists,
            decision_only(copies[("referral", True)], raw_tokens["police"], listed_referrals),
        )
    finally:
        for copy in copies.values():
            await copy.close()
    return {"referral": referral_reads, "victim": victim_reads, "lists": lists}


def run(arguments: argparse.Namespace, argv: list[str]) -> BenchmarkResult:
    if arguments.cases < max(LIST_SIZES) or not WARM_UP <= arguments.victims <= arguments.cases:
        raise SystemExit(
            f"--cases must be at least {max(LIST_SIZES)}, and --victims between "
            f"{WARM_UP} and --cases"
        )
    result = BenchmarkResult(
        NAME,
        "Policy-enforced reads against the same reads without policy",
        3,
        argv,
        vars(arguments),
    )
    result.method = [
        "OPA and PostgreSQL, started for the run. The referral and victim-support services "
        "are built twice from their own `make_runtime`/`make_api` on one event store: as "
        "deployed, and with `enforce_policy=False`; requests go through FastAPI in process "
        "(httpx ASGI transport), with a real signed token, one at a time.",
        "Enforced read = the same handler + one OPA decision (`accord.access.batch`, over "
        "HTTP with opa-python-client) + projection to the allowed fields + one access record "
        "saved to the event store for audit. Unenforced read = the same handler returning the "
        "whole document.",
        f"{arguments.reads} rounds per endpoint over {arguments.cases} referrals "
        f"({arguments.victims} with a victim record), after {WARM_UP} warm-up reads; each "
        "round reads one random case both ways (the order swapped every round) and then takes "
        "the same policy decision alone, without HTTP or store, to show what OPA itself costs.",
        f"List endpoint: `GET /referrals?limit=N` for N in {LIST_SIZES}, {arguments.lists} "
        "rounds each, both ways alternately. Cost per row = (p50 at 100 rows - p50 at 10 "
        "rows) / 90, so the fixed cost of a request drops out.",
    ]
    base = Path(tempfile.mkdtemp(prefix="accord-bench-policy-"))
    try:
        with running("opa", "postgres") as infrastructure:
            measured = asyncio.run(measure(infrastructure, arguments, base))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(result, measured)
    return result


def report(result: BenchmarkResult, measured: dict[str, Any]) -> None:
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {}
    for key, label in (
        ("referral", "GET /referrals/{id} (police)"),
        ("victim", "GET /cases/{id}/victim (advocate)"),
    ):
        samples: Samples = measured[key]
        enforced, plain = Distribution.of(samples.enforced), Distribution.of(samples.plain)
        alone = Distribution.of(samples.decision_only)
        rows += [
            [
                f"{label}, enforced",
                enforced.count,
                enforced.as_ms()["p50_ms"],
                enforced.as_ms()["p99_ms"],
                samples.fields_enforced,
                _count(samples.decisions_per_request),
            ],
            [
                f"{label}, enforce_policy=False",
                plain.count,
                plain.as_ms()["p50_ms"],
                plain.as_ms()["p99_ms"],
                samples.fields_plain,
                0,
            ],
            [
                f"{label}: the policy decision alone",
                alone.count,
                alone.as_ms()["p50_ms"],
                alone.as_ms()["p99_ms"],
                None,
                1,
            ],
        ]
        result.ratio(f"{label} p50", enforced.p50, plain.p50, "same read, enforcement off", "s")
        result.ratio(f"{label} p99", enforced.p99, plain.p99, "same read, enforcement off", "s")
        figures[key] = {
            "enforced": enforced.as_ms(),
            "plain": plain.as_ms(),
            "decision_only": alone.as_ms(),
            "fields_enforced": samples.fields_enforced,
            "fields_plain": samples.fields_plain,
        }
    result.table(
        "Single reads",
        ["read", "n", "p50 ms", "p99 ms", "fields returned", "OPA decisions per request"],
        rows,
    )

    lists: dict[int, Samples] = measured["lists"]
    modes = ("enforced", "plain", "decision_only")
    distributions = {
        (size, mode): Distribution.of(getattr(lists[size], mode))
        for size in LIST_SIZES
        for mode in modes
    }
    labels = {
        "enforced": "enforced",
        "plain": "enforce_policy=False",
        "decision_only": "the batched policy decision alone",
    }
    list_rows: list[list[Any]] = [
        [
            f"limit={size}, {labels[mode]}",
            dist.count,
            dist.as_ms()["p50_ms"],
            dist.as_ms()["p99_ms"],
            round(dist.p50 / size * 1000, 3),
            {"enforced": _count(lists[size].decisions_per_request), "plain": 0, "decision_only": 1}[
                mode
            ],
        ]
        for (size, mode), dist in distributions.items()
    ]
    result.table(
        "List endpoint GET /referrals?limit=N (police)",
        ["request", "n", "p50 ms", "p99 ms", "p50 ms per row", "OPA decisions per request"],
        list_rows,
    )
    small, large = LIST_SIZES
    per_row = {
        mode: (distributions[(large, mode)].p50 - distributions[(small, mode)].p50)
        / (large - small)
        for mode in modes
    }
    result.table(
        "Marginal cost of one more row in a list (p50)",
        ["mode", "ms per row"],
        [[labels[mode], round(per_row[mode] * 1000, 3)] for mode in modes],
    )
    result.ratio(
        "list, marginal cost per row",
        per_row["enforced"],
        per_row["plain"],
        "same list, enforcement off",
        "s/row",
    )
    result.ratio(
        "list of 100 p50",
        distributions[(large, "enforced")].p50,
        distributions[(large, "plain")].p50,
        "same list, enforcement off",
        "s",
    )
    result.note(
        f"Every enforced list request took {lists[large].decisions_per_request:g} "
        f"OPA round trip(s) for {large} rows: the decision is batched. What a row adds "
        "when enforced is OPA evaluating one more item "
        f"({per_row['decision_only'] * 1000:.2f} ms per row, from the decision alone), "
        "its projection and its access record."
    )
    figures["lists"] = {
        f"{size}_{mode}": dist.as_ms() for (size, mode), dist in distributions.items()
    }
    figures["list_ms_per_row"] = {mode: round(value * 1000, 4) for mode, value in per_row.items()}
    result.figures = figures


def _count(value: float) -> int | float:
    return int(value) if value == int(value) else round(value, 2)


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m bench.policy_read",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--reads", type=int, default=400, help="rounds per single-read endpoint")
    parse.add_argument("--lists", type=int, default=60, help="rounds per list size")
    parse.add_argument("--cases", type=int, default=120, help="referrals seeded")
    parse.add_argument("--victims", type=int, default=40, help="victim records seeded")
    parse.add_argument("--seed", type=int, default=3)
    return parse


def main(argv: list[str]) -> BenchmarkResult:
    return record(run(parser().parse_args(argv), argv))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
