"""The embedded SQLite stores of `make run` under concurrent use: write-ahead logging and a
busy timeout on both kinds of store, and the audit service's GET /checkpoint (which signs and
stores a checkpoint when the log has grown) never failing while the consumer appends.

Before the fix about two in three concurrent checkpoint reads answered 503: storing the
checkpoint read and then wrote in a deferred transaction, which SQLite cannot upgrade while
another connection holds the write lock; it fails at once, whatever the busy timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from accord_audit.config import AuditSettings
from accord_audit.main import make_runtime
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_platform.infra import free_port

from tests.audit_events import access_event

READERS = 12
READS_EACH = 25


def _settings(data: Path) -> AuditSettings:
    _, jwks = ensure_dev_keys(data / "dev-keys")
    return AuditSettings.for_service(
        "audit", 0, persistence="sqlite", data_dir=data, jwks_path=jwks
    )


def _journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


def test_both_sqlite_stores_use_write_ahead_logging_and_wait_for_locks(tmp_path: Path) -> None:
    runtime = make_runtime(_settings(tmp_path))
    app: Any = runtime.app
    try:
        # the event store (eventsourcing) and the audit log (SQLAlchemy), each a file
        assert _journal_mode(tmp_path / "audit.sqlite") == "wal"
        assert _journal_mode(tmp_path / "audit-log.sqlite") == "wal"
        pool = app.recorder.datastore.pool
        connection = pool.get_connection()
        try:
            timeout = connection._sqlite_conn.execute("PRAGMA busy_timeout").fetchone()[0]
        finally:
            pool.put_connection(connection)
        assert timeout >= 10_000
        with app.store.engine.connect() as log_connection:
            assert log_connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    finally:
        app.close()
        app.store.engine.dispose()


def _wait_until_up(process: subprocess.Popen[bytes], url: str, output: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, output.read_text()
        try:
            if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the audit API did not start"
        time.sleep(0.2)


def _end(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest_asyncio.fixture
async def audit_api(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """`accord-audit api` (the HTTP API alone, as its own process) on SQLite; the test appends
    to the same log files from this process, as the service's consumer does. (Async, waiting
    in threads: the session's event loop, which runs the in-process platform, goes on.)"""
    settings = _settings(tmp_path)
    port = free_port()
    env = {
        **os.environ,
        "ACCORD_PORT": str(port),
        "ACCORD_DATA_DIR": str(tmp_path),
        "ACCORD_JWKS_PATH": str(settings.jwks_file),
        "ACCORD_PERSISTENCE": "sqlite",
        "ACCORD_OPA_URL": f"http://127.0.0.1:{free_port()}",
    }
    env.pop("ACCORD_DATABASE_URL", None)
    runtime = make_runtime(settings)  # creates the stores before the service opens them
    output = (tmp_path / "audit.out").open("ab")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "accord-audit"), "api"],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(_wait_until_up, process, url, tmp_path / "audit.out")
        yield {
            "url": url,
            "app": runtime.app,
            "keys": tmp_path / "dev-keys",
            "output": tmp_path / "audit.out",
        }
    finally:
        await asyncio.to_thread(_end, process)
        output.close()
        runtime.app.close()


@pytest.mark.integration
async def test_checkpoint_reads_while_the_consumer_appends_never_answer_503(
    audit_api: dict[str, Any],
) -> None:
    await asyncio.to_thread(_hammer_checkpoints_while_appending, audit_api)


def _hammer_checkpoints_while_appending(audit_api: dict[str, Any]) -> None:
    app = audit_api["app"]
    app.record_many([access_event() for _ in range(5)])
    headers = {
        "Authorization": "Bearer " + mint(audit_api["keys"], agency="audit", role="privacy_officer")
    }
    stop = threading.Event()
    appended = [0]

    def consumer() -> None:
        while not stop.is_set():
            app.record_many([access_event() for _ in range(20)])
            appended[0] += 20

    def reader(_: int) -> list[tuple[int, int]]:
        seen = []
        with httpx.Client(base_url=audit_api["url"], timeout=60) as client:
            for _ in range(READS_EACH):
                r = client.get("/checkpoint", headers=headers)
                size = int(r.text.splitlines()[1]) if r.status_code == 200 else -1
                seen.append((r.status_code, size))
        return seen

    appending = threading.Thread(target=consumer)
    appending.start()
    try:
        with ThreadPoolExecutor(READERS) as pool:
            answers = [a for seen in pool.map(reader, range(READERS)) for a in seen]
    finally:
        stop.set()
        appending.join()
    statuses = {code for code, _ in answers}
    assert statuses == {200}, (
        f"{sum(code != 200 for code, _ in answers)} of {len(answers)} answers were not 200: "
        f"{statuses}\n{audit_api['output'].read_text()[-3000:]}"
    )
    sizes = {size for _, size in answers}
    # the reads really overlapped the appends: they saw the log at many sizes
    assert appended[0] > 0 and len(sizes) > 1, (appended, sizes)
