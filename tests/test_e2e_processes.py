"""Issue 9's end-to-end journey on the running platform: every service as its own process
(`accord-<service> all`, as `make run` starts them) on real Kafka, OPA and PostgreSQL. The
demo walks one case through the whole journey as each agency; then the audit log verifies
and shows the reads made along the way."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_platform.demo import walk
from accord_platform.infra import free_port
from accord_platform.services import SERVICES, ServiceSpec
from rich.console import Console

pytestmark = pytest.mark.integration


@pytest.fixture
def running_services(infrastructure: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    # Free ports, never the local run's: a running platform (or another session's test) may
    # hold 8101-8105.
    services = [replace(s, port=free_port()) for s in SERVICES]
    pg = infrastructure.postgres
    database = "e2e_" + uuid.uuid4().hex[:8]
    pg.create_database(database)
    _, jwks = ensure_dev_keys(tmp_path / "dev-keys")
    bin_dir = Path(sys.executable).parent
    processes: dict[str, tuple[subprocess.Popen[bytes], Any]] = {}

    def start(name: str) -> None:
        spec = next(s for s in services if s.name == name)
        env = {
            **os.environ,
            "ACCORD_PORT": str(spec.port),
            "ACCORD_DATA_DIR": str(tmp_path),
            "ACCORD_DATABASE_URL": pg.url(database),
            "ACCORD_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
            "ACCORD_OPA_URL": infrastructure.opa_url,
            "ACCORD_JWKS_PATH": str(jwks),
            "ACCORD_CONSUMER_GROUP": f"{spec.name}-{database}",
        }
        log = open(tmp_path / f"{spec.name}.log", "a")  # noqa: SIM115 - closed below
        processes[name] = (
            subprocess.Popen(
                [str(bin_dir / spec.command), "all"], env=env, stdout=log, stderr=subprocess.STDOUT
            ),
            log,
        )
        deadline = time.monotonic() + 120
        with httpx.Client(timeout=2) as client:
            while True:
                try:
                    if client.get(spec.url + "/health/ready").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{name} did not become ready"
                time.sleep(0.3)

    def kill(name: str) -> None:
        process, log = processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        log.close()

    try:
        for s in SERVICES:
            start(s.name)
        yield {
            "keys": tmp_path / "dev-keys",
            "db_url": pg.url(database),
            "dir": tmp_path,
            "start": start,
            "kill": kill,
            "services": services,
        }
    finally:
        for process, _ in processes.values():
            process.send_signal(signal.SIGTERM)
        for process, log in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def test_the_whole_journey_on_separate_processes(running_services: dict[str, Any]) -> None:
    console = Console(record=True, width=140)
    services: list[ServiceSpec] = running_services["services"]
    code = walk("http://127.0.0.1", running_services["keys"], console, services)
    transcript = console.export_text()
    print(transcript)
    assert code == 0, transcript
    # the summary row (ok | failed | skipped): nothing failed and nothing was skipped
    assert re.search(r"│\s*\d+\s*│\s*0\s*│\s*0\s*│", transcript), transcript

    keys = running_services["keys"]
    auditor = {"Authorization": "Bearer " + mint(keys, agency="audit", role="privacy_officer")}
    audit = next(s for s in services if s.name == "audit").url
    with httpx.Client(timeout=10) as client:
        vkey = client.get(audit + "/verifier-key", headers=auditor).text.strip()
        checkpoint = client.get(audit + "/checkpoint", headers=auditor)
        assert checkpoint.status_code == 200
    saved = running_services["dir"] / "checkpoint.txt"
    saved.write_text(checkpoint.text)
    verify = subprocess.run(
        [
            str(Path(sys.executable).parent / "accord-audit-verify"),
            "--db-url",
            running_services["db_url"],
            "--public-key",
            vkey,
            "--checkpoint",
            str(saved),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_service_killed_mid_processing_loses_and_duplicates_nothing(
    running_services: dict[str, Any],
) -> None:
    """Checked: referrals submitted while the RJ provider's process is SIGKILLed mid-stream
    all appear in its intake exactly once after it is started again; nobody does anything
    but start it."""
    from accord_referral.examples import referral

    keys = running_services["keys"]
    police = {"Authorization": "Bearer " + mint(keys, agency="police", role="officer")}
    coordinator = {
        "Authorization": "Bearer " + mint(keys, agency="rj_provider", role="coordinator")
    }
    services: list[ServiceSpec] = running_services["services"]
    referral_url = next(s for s in services if s.name == "referral").url
    conference_url = next(s for s in services if s.name == "conference").url
    case_ids = []
    with httpx.Client(timeout=10) as client:
        for n in range(12):
            r = client.post(referral_url + "/referrals", json=referral(), headers=police)
            assert r.status_code == 201, r.text
            case_ids.append(r.json()["case_id"])
            if n == 5:
                running_services["kill"]("conference")  # in the middle of the stream
        running_services["start"]("conference")
        deadline = time.monotonic() + 60
        while True:
            listed = [
                row["case_id"]
                for row in client.get(
                    conference_url + "/intake", params={"limit": 500}, headers=coordinator
                ).json()
            ]
            if all(c in listed for c in case_ids) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    assert all(listed.count(c) == 1 for c in case_ids), listed
