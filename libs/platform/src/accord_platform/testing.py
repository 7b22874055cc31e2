"""pytest plugin: real Kafka, OPA and PostgreSQL, started once per test session.

Register it with `pytest_plugins = ["accord_platform.testing"]` (the repository's root
`conftest.py` does). It provides the session fixture `infrastructure` (an
`accord_platform.infra.Infrastructure`: `kafka_bootstrap`, `opa_url`, `opa_host`, `opa_port`,
`postgres`) and, through `accord_platform.harness`, the `platform` fixture with all five services
on top of it. Every test that uses either is marked `integration`, so `-m "not integration"`
runs the fast unit tests alone.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord_platform.infra import REPO, Infrastructure

pytest_plugins = ["accord_platform.harness"]

_STARTED = pytest.StashKey[Infrastructure]()


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "infrastructure" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    running = config.stash.get(_STARTED, None)
    if running is None or not running.timings:
        return
    # Measured, never asserted: start-up time depends on the machine, not on our code.
    terminalreporter.section("accord infrastructure (seconds)")
    for name, seconds in running.timings.items():
        terminalreporter.write_line(f"{name:<40} {seconds:7.2f}")
