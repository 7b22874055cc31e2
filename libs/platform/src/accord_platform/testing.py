"""pytest plugin: real Kafka, OPA and PostgreSQL, started once per test session.

Register it with `pytest_plugins = ["accord_platform.testing"]` (the repository's root
`conftest.py` does). It provides the session fixture `infrastructure` (an
`accord_platform.infra.Infrastructure`: `kafka_bootstrap`, `opa_url`, `opa_host`, `opa_port`,
`postgres`) and, through `accord_platform.harness`, the `platform` fixture with all five services
on top of it. Every test that uses either is marked `integration`, so `-m "not integration"`
runs the fast unit tests alone.

Two more session fixtures are started only by sessions that ask for them: `keycloak` (an
`accord_platform.identity_provider.KeycloakServer` with the dev realm imported) and `browser`
(a Playwright async `Browser`: Debian's Chromium, headless). Tests using them are marked
`integration` too.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from accord_platform.browser import launch_browser
from accord_platform.identity_provider import KeycloakServer
from accord_platform.infra import REPO, Infrastructure

pytest_plugins = ["accord_platform.harness"]

_STARTED = pytest.StashKey[Infrastructure]()
_TIMINGS = pytest.StashKey[dict[str, float]]()
# Fixtures whose users need real servers; the marker lets `-m "not integration"` skip them.
_INTEGRATION_FIXTURES = frozenset({"infrastructure", "keycloak", "browser"})


def _timings(config: pytest.Config) -> dict[str, float]:
    if _TIMINGS not in config.stash:
        config.stash[_TIMINGS] = {}
    return config.stash[_TIMINGS]


@pytest_asyncio.fixture(scope="session", autouse=True, loop_scope="session")
async def roomy_default_executor() -> AsyncIterator[None]:
    """More threads for `asyncio.to_thread` in the session's one event loop.

    In-process platforms run every service - in the replica tests every service twice, while
    the portal tests' stack is still up - in this loop, and their stores are synchronous,
    reached with `asyncio.to_thread`. On 2 cores the default pool has 6 threads: a dozen relays
    and consumers then queue behind each other, and threads waiting for a connection can hold
    the pool that the connection's owner needs (a deadlock in CI, never alone). In production
    each service is its own process with its own pool."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=64, thread_name_prefix="accord"))
    yield


@pytest.fixture(scope="session")
def infrastructure(request: pytest.FixtureRequest) -> Iterator[Infrastructure]:
    """Kafka, OPA (serving `policies/`) and PostgreSQL in a temporary directory, stopped at the
    end of the session, also when it fails or is interrupted."""
    # Not pytest's tmp_path: its base directory is private to the current user, and when the
    # tests run as root PostgreSQL runs as the postgres user, which must be able to reach its
    # data directory (mode 0711: others may pass through, not list).
    base = Path(tempfile.mkdtemp(prefix="accord-test-infra-"))
    base.chmod(0o711)
    running = Infrastructure.from_environment(base, policy_dir=REPO / "policies")
    request.config.stash[_STARTED] = running
    try:
        running.start()
        yield running
    finally:
        try:
            running.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def keycloak(request: pytest.FixtureRequest) -> Iterator[KeycloakServer]:
    """Keycloak with the `accord` realm from deploy/keycloak, on free ports, in a temporary
    directory, stopped at the end of the session. A fresh data directory means a Quarkus build
    and a realm import: about 30 s, paid only by sessions that use this fixture."""
    base = Path(tempfile.mkdtemp(prefix="accord-test-keycloak-"))
    server = KeycloakServer.from_environment(base)
    try:
        started = time.monotonic()
        server.start()
        server.wait_ready()
        _timings(request.config)["keycloak start"] = time.monotonic() - started
        yield server
        if not server.running:
            # Died under the tests: its own words are the only clue, and they go with `base`.
            pytest.fail(server._failure("died during the session"), pytrace=False)
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    """Headless Chromium (Debian's, at ACCORD_CHROMIUM or /usr/bin/chromium) through
    Playwright's async API, shared by the session; each test opens its own context or page."""
    started = time.monotonic()
    async with launch_browser() as running:
        _timings(request.config)["browser start"] = time.monotonic() - started
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    running = config.stash.get(_STARTED, None)
    timings = {**(running.timings if running is not None else {}), **_timings(config)}
    if not timings:
        return
    # Measured, never asserted: start-up time depends on the machine, not on our code.
    terminalreporter.section("accord infrastructure (seconds)")
    for name, seconds in timings.items():
        terminalreporter.write_line(f"{name:<40} {seconds:7.2f}")
