"""Issue 16: what the staff portal adds to the API calls a page makes.

The five services run as in production behind real HTTP (uvicorn on loopback, real Kafka, OPA
and PostgreSQL); the portal runs behind uvicorn too, with a signed-in session per role (a dev
token in its encrypted session store: sign-in itself is not part of showing a page). One case
is taken through the journey until every role's case page has something to show.

For each role's case page, the portal's own calls to the services are recorded once; then,
alternating round by round so the machine's other work weighs on both, the page is fetched from
the portal and the same calls are made straight to the services with the same token, as the
portal makes them (concurrently), and also one after the other. The portal's overhead is the
page time over the time of its API calls.

    uv run python -m bench.portal [--rounds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from accord_kernel.dev_tokens import mint
from accord_platform.harness import InProcessPlatform, eventually
from accord_platform.infra import Infrastructure, free_port
from accord_portal.api_client import ServiceClient
from accord_portal.config import PortalSettings
from accord_portal.main import create_app
from accord_portal.sessions import Session

from bench.measure import Distribution, Stopwatch
from bench.report import record
from bench.results import BenchmarkResult
from bench.servers import new_database, quiet_kafka_client_logs, running

NAME = "portal"
WARM_UP = 5
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Role:
    label: str
    agency: str
    role: str
    org: str
    page: str  # with {case_id}


ROLES = (
    Role("police officer: referral", "police", "officer", "north-police", "/referrals/{case_id}"),
    Role(
        "advocate: case task list",
        "victim_services",
        "advocate",
        "north-advocacy",
        "/victims/{case_id}",
    ),
    Role(
        "RJ coordinator: RJ case", "rj_provider", "coordinator", "north-rj", "/rj-cases/{case_id}"
    ),
    Role("court clerk: court case", "court", "clerk", "north-court", "/court/cases/{case_id}"),
)


@dataclass
class Calls(httpx.AsyncBaseTransport):
    """The portal's transport to the services: real HTTP, noting while `recording` the requests
    one page makes as (service base URL, method, path, query)."""

    made: list[tuple[str, str, str, str]] = field(default_factory=list)
    recording: bool = False
    http: httpx.AsyncHTTPTransport = field(default_factory=httpx.AsyncHTTPTransport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.recording:
            base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
            self.made.append((base, request.method, request.url.path, request.url.query.decode()))
        return await self.http.handle_async_request(request)

    async def aclose(self) -> None:
        await self.http.aclose()


async def serve(app: Any, port: int, lifespan: str = "off") -> uvicorn.Server:
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=LOOPBACK, port=port, log_level="warning", lifespan=lifespan, access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    return server


@contextlib.asynccontextmanager
async def served_platform(
    infrastructure: Infrastructure, work_dir: Path
) -> AsyncIterator[tuple[InProcessPlatform, dict[str, str], list[uvicorn.Server]]]:
    platform = InProcessPlatform(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        opa_url=infrastructure.opa_url,
        database_url=infrastructure.postgres.url(new_database(infrastructure, "bench_portal")),
        work_dir=work_dir,
    )
    await platform.start()
    servers: list[uvicorn.Server] = []
    urls: dict[str, str] = {}
    try:
        for name, service in platform.services.items():
            port = free_port()
            servers.append(await serve(service.api, port))
            urls[name] = f"http://{LOOPBACK}:{port}"
        yield platform, urls, servers
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.sleep(0.2)
        await platform.close()


async def journey_to_the_court(platform: InProcessPlatform) -> str:
    """The shared test journey (tests/journey.py): referral, victim record and consents, RJ
    case, conference, agreement shared with the court, until the court holds the case."""
    journey = _test_journey().Journey(platform)
    case_id = await journey.refer()
    await journey.victim_consents()
    await journey.accept_and_prepare()
    await journey.conference_and_agreement()
    court = platform.client("court")
    clerk = platform.token("court", "clerk")

    async def court_has_it() -> bool:
        r = await court.get("/court-cases", headers=clerk, params={"case_id": case_id})
        return r.status_code == 200 and bool(r.json())

    await eventually(court_has_it, timeout=120)
    return case_id


def _test_journey() -> Any:
    """tests/journey.py, loaded by path: the repository's `tests` folder is not a package, and
    a `tests` package some library installs into site-packages would win an import by name."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "journey.py"
    spec = importlib.util.spec_from_file_location("accord_test_journey", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def signed_in(portal: Any, token: str, role: Role) -> str:
    session = Session.fresh(
        {
            "tokens": {
                "access_token": token,
                "refresh_token": "not-used",
                "id_token": "not-used",
                "expires_at": time.time() + 3600,
            },
            "user": {
                "sub": f"{role.org}.{role.role}",
                "name": role.label,
                "agency": role.agency,
                "role": role.role,
                "org": role.org,
            },
        }
    )
    portal.store.save(session)
    return session.id


async def measure(infrastructure: Infrastructure, rounds: int) -> dict[str, Any]:
    work_dir = Path(tempfile.mkdtemp(prefix="accord-bench-portal-"))
    try:
        async with served_platform(infrastructure, work_dir) as (platform, urls, servers):
            case_id = await journey_to_the_court(platform)
            calls = Calls()
            port = free_port()
            settings = PortalSettings(
                port=port,
                public_url=f"http://{LOOPBACK}:{port}",
                data_dir=work_dir / "portal",
                referral_url=urls["referral"],
                victim_support_url=urls["victim-support"],
                conference_url=urls["conference"],
                court_url=urls["court"],
                audit_url=urls["audit"],
            )
            services = ServiceClient(settings.service_urls, transport=calls)
            app = create_app(settings, services=services)
            servers.append(await serve(app, port, lifespan="on"))
            results: dict[str, Any] = {}
            async with httpx.AsyncClient(timeout=30) as client:
                for role in ROLES:
                    results[role.label] = await measure_role(
                        client, app, platform, settings, calls, role, case_id, rounds
                    )
                    names = {url: name for name, url in urls.items()}
                    results[role.label]["services"] = sorted(
                        {names.get(base, base) for base in results[role.label]["services"]}
                    )
            return results
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


async def measure_role(
    client: httpx.AsyncClient,
    app: Any,
    platform: InProcessPlatform,
    settings: PortalSettings,
    calls: Calls,
    role: Role,
    case_id: str,
    rounds: int,
) -> dict[str, Any]:
    token = mint(platform.key_dir, agency=role.agency, role=role.role, org=role.org)
    cookie = {app.state.portal.cookie_name: signed_in(app.state.portal, token, role)}
    page_url = settings.public_url + role.page.format(case_id=case_id)
    calls.made, calls.recording = [], True
    first = await client.get(page_url, cookies=cookie)
    calls.recording = False
    if first.status_code != 200:
        raise RuntimeError(f"{role.label}: the page answered {first.status_code}")
    made = list(calls.made)
    headers = {"Authorization": f"Bearer {token}"}

    async def one(call: tuple[str, str, str, str]) -> None:
        base, method, path, query = call
        r = await client.request(
            method, f"{base}{path}?{query}" if query else base + path, headers=headers
        )
        r.raise_for_status()

    async def concurrently() -> None:
        await asyncio.gather(*(one(c) for c in made))

    async def in_turn() -> None:
        for c in made:
            await one(c)

    async def page() -> None:
        r = await client.get(page_url, cookies=cookie)
        r.raise_for_status()

    samples: dict[str, list[float]] = {"page": [], "concurrent": [], "sequential": []}
    kinds = [("page", page), ("concurrent", concurrently), ("sequential", in_turn)]
    for n in range(WARM_UP + rounds):
        # A different order each round, so no kind always runs on a cache the other warmed.
        order = kinds[n % 3 :] + kinds[: n % 3]
        for name, action in order:
            clock = Stopwatch()
            await action()
            if n >= WARM_UP:
                samples[name].append(clock.elapsed())
    return {
        "calls": len(made),
        "services": sorted({c[0] for c in made}),
        **{name: Distribution.of(values) for name, values in samples.items()},
    }


def run(arguments: argparse.Namespace, argv: list[str]) -> BenchmarkResult:
    result = BenchmarkResult(
        NAME, "Staff portal: a case page against the API calls it makes", 16, argv, vars(arguments)
    )
    result.method = [
        "Kafka, OPA and PostgreSQL started for the run; the five services in this process, each "
        "behind its own uvicorn server on loopback; the portal behind uvicorn, calling them "
        "over HTTP with the signed-in user's token.",
        "One case taken through the whole journey (referral, victim record and consents, RJ case, "
        "conference, agreement shared with the court). A signed-in session per role is put in "
        "the portal's session store with a dev token (sign-in is not part of showing a page).",
        "Per role: the API calls the case page makes are recorded once; then, rotating the order "
        f"every round, {arguments.rounds} rounds after {WARM_UP} warm-up: the page from the "
        "portal; the same calls straight to the services with the same token, concurrently; and "
        "one after the other.",
    ]
    with running("kafka", "opa", "postgres") as infrastructure:
        measured = asyncio.run(measure(infrastructure, arguments.rounds))
    rows: list[list[Any]] = []
    for label, m in measured.items():
        page, concurrent, sequential = m["page"], m["concurrent"], m["sequential"]
        rows.append(
            [
                label,
                m["calls"],
                ", ".join(m["services"]),
                page.as_ms()["p50_ms"],
                concurrent.as_ms()["p50_ms"],
                sequential.as_ms()["p50_ms"],
                page.as_ms()["p99_ms"],
            ]
        )
        result.ratio(
            f"{label} page p50",
            page.p50,
            concurrent.p50,
            "its API calls made concurrently p50",
            "s",
        )
        result.ratio(
            f"{label} page p50 (vs calls in turn)",
            page.p50,
            sequential.p50,
            "its API calls one after the other p50",
            "s",
        )
    result.table(
        "Case page against its API calls",
        [
            "page",
            "API calls",
            "services",
            "page p50 ms",
            "calls together p50 ms",
            "calls in turn p50 ms",
            "page p99 ms",
        ],
        rows,
    )
    result.note(
        "The page time includes the portal's session read (SQLite), CSRF and security headers, "
        "the same API calls over HTTP, and rendering the GOV.UK template; the API calls are made "
        "from the benchmark's own client, so the ratio is what the portal adds on top of them."
    )
    result.figures = {
        label: {k: (v.as_ms() if isinstance(v, Distribution) else v) for k, v in m.items()}
        for label, m in measured.items()
    }
    return result


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m bench.portal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--rounds", type=int, default=60, help="measured rounds per page")
    return parse


def main(argv: list[str]) -> BenchmarkResult:
    quiet_kafka_client_logs()
    return record(run(parser().parse_args(argv), argv))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
