"""The local run as `make run` starts it, on free ports and a temporary data directory (never
`make run`'s own ports): a service killed with SIGKILL is restarted by the supervisor and
catches up with what was published while it was down; SIGTERM stops everything. And a
worker whose broker is away says so once, not once per attempt.

The tests are async and wait in threads: they take a minute or two, and the session's event
loop, which runs the in-process platform's consumers, must not stand still that long (their
group sessions would expire and the next test would wait for a rebalance)."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from accord_audit.log_store import AuditLogStore
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.envelope import IntegrationEvent, encode
from accord_platform.infra import KafkaNode, free_port, port_is_free, provisioned
from accord_platform.services import services_from
from aiokafka import AIOKafkaProducer

from tests.audit_events import access_event

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
MAKE_RUN_PORTS = {9092, 9093, 8181, *range(8101, 8106)}


def _free_block(size: int) -> int:
    """The first of `size` consecutive free ports (below the ephemeral range, never `make
    run`'s)."""
    chooser = random.Random()
    for _ in range(500):
        first = chooser.randrange(20000, 32000 - size)
        block = range(first, first + size)
        if not MAKE_RUN_PORTS.intersection(block) and all(port_is_free(p) for p in block):
            return first
    raise AssertionError("no block of free ports")


def _wait(
    condition: Callable[[], Any],
    what: str,
    timeout: float,
    output: Path | None = None,
    processes: tuple[subprocess.Popen[bytes], ...] = (),
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        ended = [p.args for p in processes if p.poll() is not None]
        if time.monotonic() > deadline or ended:
            tail = output.read_text(errors="replace")[-4000:] if output else ""
            why = f"{ended} ended" if ended else f"not within {timeout:.0f} s"
            raise AssertionError(f"{what}: {why}\n{tail}")
        time.sleep(0.25)


async def _waited(
    condition: Callable[[], Any],
    what: str,
    timeout: float,
    output: Path | None = None,
    processes: tuple[subprocess.Popen[bytes], ...] = (),
) -> Any:
    """`_wait` in a thread, so that the session's event loop goes on meanwhile."""
    return await asyncio.to_thread(_wait, condition, what, timeout, output, processes)


async def _start(kafka: KafkaNode) -> None:
    # the slow part in a thread; the launch itself here, on the main thread, so the broker
    # dies with the test session should that be killed (see infra._parent_death_options)
    await asyncio.to_thread(kafka.prepare)
    kafka.launch()
    await asyncio.to_thread(kafka.wait_ready, 180)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def _publish(bootstrap: str, events: list[IntegrationEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            message = encode(event)
            await producer.send_and_wait(
                event.topic,
                value=message.value,
                key=message.key,
                headers=list(message.headers.items()),
            )
    finally:
        await producer.stop()


def _end(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the supervised local run --------------------------------------------------------------


@pytest_asyncio.fixture
async def local_run(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """`accord run` (what `make run` runs) with its own Kafka and OPA, all on free ports."""
    kafka_port = _free_block(2)
    opa_port = free_port()
    first_service = _free_block(5)
    portal_port = free_port()
    data = tmp_path / "data"
    output = tmp_path / "accord-run.out"
    with output.open("ab") as sink:
        process = subprocess.Popen(
            [
                str(BIN / "accord"),
                "run",
                "--data-dir",
                str(data),
                "--kafka-port",
                str(kafka_port),
                "--opa-port",
                str(opa_port),
                "--service-port",
                str(first_service),
                # The whole of `make run`, identity provider included, on ports of its own.
                "--keycloak-port",
                str(free_port()),
                "--keycloak-management-port",
                str(free_port()),
                "--portal-port",
                str(portal_port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    try:
        await _waited(
            lambda: "Accord is up" in output.read_text(errors="replace"),
            "the platform came up",
            300,
            output,
            (process,),
        )
        yield {
            "process": process,
            "output": output,
            "data": data,
            "services": {s.name: s for s in services_from(first_service)},
            "bootstrap": f"127.0.0.1:{kafka_port}",
            "kafka_port": kafka_port,
            "portal": f"http://127.0.0.1:{portal_port}",
        }
    finally:
        await asyncio.to_thread(_end, process, 120)


def _started_pid(output: Path, name: str, after: int = 0) -> int:
    found = re.findall(
        rf"\| {re.escape(name)} (?:started|restarted) \(pid (\d+)",
        output.read_text(errors="replace"),
    )
    return int(found[after]) if len(found) > after else 0


def _log_size(data: Path) -> int:
    store = AuditLogStore.from_url(f"sqlite:///{data / 'audit-log.sqlite'}")
    try:
        return store.size()
    finally:
        store.engine.dispose()


async def test_a_killed_service_is_restarted_and_catches_up_and_sigterm_stops_all(
    local_run: dict[str, Any],
) -> None:
    # The newcomer's first step: the printed portal address sends them to Keycloak's sign-in
    # page of the dev realm, and that page is served.
    assert f"Staff portal: {local_run['portal']}" in local_run["output"].read_text()
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as browser_like:
        start = await browser_like.get(local_run["portal"] + "/")
        assert start.status_code == 200, start.text[:500]
        assert 'href="/auth/sign-in"' in start.text
        page = await browser_like.get(local_run["portal"] + "/auth/sign-in")
    assert page.status_code == 200, page.text[:500]
    assert "/realms/accord/protocol/openid-connect/auth" in str(page.url)
    assert 'id="kc-form-login"' in page.text or 'name="username"' in page.text
    output: Path = local_run["output"]
    data: Path = local_run["data"]
    audit = local_run["services"]["audit"]
    referral = local_run["services"]["referral"]
    headers = {
        "Authorization": "Bearer " + mint(data / "dev-keys", agency="audit", role="privacy_officer")
    }
    first_pid = _started_pid(output, "audit")
    assert first_pid
    before = await asyncio.to_thread(_log_size, data)

    os.kill(first_pid, signal.SIGKILL)
    await _waited(
        lambda: not _answers(audit.url + "/health/live"), "the audit service went away", 10
    )
    # published while the audit service is down: it must append them once it is back
    events = [event for event, _ in (access_event() for _ in range(5))]
    await _publish(local_run["bootstrap"], events)
    # the rest of the platform goes on
    assert await asyncio.to_thread(_answers, referral.url + "/health/live")

    await _waited(
        lambda: "audit died (killed by SIGKILL)" in output.read_text(errors="replace"),
        "the death was reported",
        30,
        output,
    )
    new_pid = await _waited(
        lambda: _started_pid(output, "audit", after=1), "audit restarted", 30, output
    )
    assert new_pid != first_pid
    await _waited(lambda: _answers(audit.url + "/health/ready"), "audit ready again", 180, output)
    store = AuditLogStore.from_url(f"sqlite:///{data / 'audit-log.sqlite'}")
    try:
        await _waited(
            lambda: all(store.index_of(e.id) is not None for e in events),
            "the events published while it was down are in the log",
            120,
            output,
        )
        assert store.size() >= before + len(events)
    finally:
        store.engine.dispose()
    async with httpx.AsyncClient(timeout=30) as client:
        checkpoint = await client.get(audit.url + "/checkpoint", headers=headers)
    assert checkpoint.status_code == 200, checkpoint.text
    assert int(checkpoint.text.splitlines()[1]) >= before + len(events)
    text = output.read_text(errors="replace")
    assert "audit is ready again" in text
    for other in ("referral", "victim-support", "conference", "court", "kafka", "opa"):
        assert f"{other} died" not in text, text[-4000:]

    process: subprocess.Popen[bytes] = local_run["process"]
    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 120) == 0, output.read_text()[-4000:]
    assert "Accord stopped." in output.read_text(errors="replace")
    with pytest.raises(ProcessLookupError):
        os.kill(new_pid, 0)
    for spec in local_run["services"].values():
        assert port_is_free(spec.port), spec
    assert port_is_free(local_run["kafka_port"])


# --- a broker away: one line per change of state ---------------------------------------------

# per worker (process) while the broker is away for several seconds: "kafka unreachable",
# and the first of each kind of aiokafka error; before, one line or more per attempt
LINES_PER_WORKER = 5


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()


async def test_a_broker_away_is_logged_once_per_change_not_once_per_attempt(
    tmp_path: Path,
) -> None:
    kafka_port = _free_block(2)
    paths = provisioned()
    kafka = KafkaNode(
        Path(paths["ACCORD_KAFKA_HOME"]),
        tmp_path / "kafka",
        port=kafka_port,
        controller_port=kafka_port + 1,
    )
    data = tmp_path / "data"
    _, jwks = ensure_dev_keys(data / "dev-keys")
    env = {
        **os.environ,
        "ACCORD_DATA_DIR": str(data),
        "ACCORD_JWKS_PATH": str(jwks),
        "ACCORD_PERSISTENCE": "sqlite",
        "ACCORD_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "ACCORD_OPA_URL": f"http://127.0.0.1:{free_port()}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("ACCORD_DATABASE_URL", None)
    # one worker per process, so each output is one worker's: the audit service's outbox relay
    # and its inbox consumer (the same code every service runs)
    workers = {"relay audit": "relay", "inbox audit": "consumer"}
    outputs = {name: tmp_path / f"{command}.out" for name, command in workers.items()}
    processes = []
    try:
        for name, command in workers.items():
            with outputs[name].open("ab") as sink:
                processes.append(
                    subprocess.Popen(
                        [str(BIN / "accord-audit"), command],
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                    )
                )
        for name, path in outputs.items():
            await _waited(
                lambda p=path, n=name: f"kafka unreachable ({n})" in p.read_text(),
                f"{name} reported the broker unreachable",
                120,
                path,
                tuple(processes),
            )
        await asyncio.sleep(8)  # retrying all the while
        for name, path in outputs.items():
            lines = _lines(path)
            assert len(lines) <= LINES_PER_WORKER, "\n".join(lines)
            assert sum(f"kafka unreachable ({name})" in line for line in lines) == 1

        await _start(kafka)
        for name, path in outputs.items():
            again = await _waited(
                lambda p=path, n=name: re.search(
                    rf"kafka reachable again \({n}\) after (\d+) failed attempts over ([\d.]+) s",
                    p.read_text(),
                ),
                f"{name} reported the broker back",
                120,
                path,
            )
            assert int(again.group(1)) >= 2 and float(again.group(2)) >= 8

        # connected, then the broker is killed: aiokafka's clients retry by themselves (before,
        # about 45 lines a second per service); the consumer notices the silence
        consumer_output = outputs["inbox audit"]
        await _waited(
            lambda: (
                "inbox audit connected" in consumer_output.read_text()
                or "reachable again (inbox audit)" in consumer_output.read_text()
            ),
            "the consumer subscribed",
            60,
            consumer_output,
        )
        await asyncio.sleep(3)
        counted = {name: len(_lines(path)) for name, path in outputs.items()}
        kafka.kill()
        await _waited(
            lambda: (
                "kafka unreachable (inbox audit)"
                in "\n".join(_lines(consumer_output)[counted["inbox audit"] :])
            ),
            "the consumer reported the silence",
            60,
            consumer_output,
        )
        await asyncio.sleep(5)
        for name, path in outputs.items():
            new = _lines(path)[counted[name] :]
            assert len(new) <= LINES_PER_WORKER, "\n".join(new)
        await _start(kafka)
        await _waited(
            lambda: (
                "kafka reachable again (inbox audit)"
                in "\n".join(_lines(consumer_output)[counted["inbox audit"] :])
            ),
            "the consumer reported the broker back",
            120,
            consumer_output,
        )
    finally:
        for process in processes:
            await asyncio.to_thread(_end, process)
        await asyncio.to_thread(kafka.stop)
    for process in processes:
        assert process.returncode == 0
