"""`make training` as a trainer uses it: `accord run --training` (here on free ports, a
temporary data directory and a Kafka broker of its own, never `make run`'s), then the
trainer's commands against it: `accord training cohort create`, `status`, `debrief`, `reset`.

Async and waiting in threads, as tests/test_local_run.py explains: the session's event loop
runs the in-process platforms' consumers and must not stand still."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from accord_kernel.dev_tokens import mint
from accord_platform.infra import free_port

from tests.test_local_run import BIN, _end, _free_block, _waited

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def training_run(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    first_service = _free_block(5)
    data = tmp_path / "data-training"
    output = tmp_path / "accord-training.out"
    with output.open("ab") as sink:
        process = subprocess.Popen(
            [
                str(BIN / "accord"),
                "run",
                "--training",
                "--no-keycloak",
                "--data-dir",
                str(data),
                "--kafka-port",
                str(_free_block(2)),
                "--opa-port",
                str(free_port()),
                "--service-port",
                str(first_service),
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    try:
        await _waited(
            lambda: "Accord is up" in output.read_text(errors="replace"),
            "the training deployment came up",
            300,
            output,
            (process,),
        )
        yield {"data": data, "port": first_service}
    finally:
        await asyncio.to_thread(_end, process, 120)


def trainer(run: dict[str, Any], *args: str) -> str:
    done = subprocess.run(
        [
            str(BIN / "accord"),
            "training",
            *args,
            "--data-dir",
            str(run["data"]),
            "--service-port",
            str(run["port"]),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_a_trainer_runs_a_cohort_on_a_training_deployment(
    training_run: dict[str, Any], tmp_path: Path
) -> None:
    referral = f"http://127.0.0.1:{training_run['port']}"
    # A live deployment's token (keys of its own) is refused; the answer says "training".
    live = mint(tmp_path / "live-keys", agency="police", role="officer")
    answer = httpx.get(
        referral + "/referrals", headers={"Authorization": f"Bearer {live}"}, timeout=10
    )
    assert answer.status_code == 401
    assert answer.headers["Accord-Deployment"] == "training"

    created = await asyncio.to_thread(
        trainer, training_run, "cohort", "create", "--trainees", "1", "--seed", "9"
    )
    assert "cohort of 1 trainee(s), 9 scenario(s)" in created
    tokens = json.loads((training_run["data"] / "training" / "tokens.json").read_text())
    officer = tokens["trainee-01"]["offender-initiated-request/officer"]
    answer = httpx.get(
        referral + "/referrals", headers={"Authorization": f"Bearer {officer}"}, timeout=10
    )
    assert answer.status_code == 200

    status = await asyncio.to_thread(trainer, training_run, "cohort", "status")
    assert "coercion-at-preparation" in status and "trainee-01" in status
    report = json.loads(
        await asyncio.to_thread(
            trainer, training_run, "debrief", "--json", "--scenario", "coercion-at-preparation"
        )
    )
    # Nobody has played yet: the debrief names what the scenario still expects.
    assert {d["fact"] for d in report[0]["differences"]} >= {"rj_case.stop_reason"}
    reset = await asyncio.to_thread(trainer, training_run, "cohort", "reset")
    assert "generation 1" in reset
