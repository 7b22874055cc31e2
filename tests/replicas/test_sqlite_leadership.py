"""On SQLite (one machine) the relays of a service's processes take turns by an exclusive
file lock: one holds it, the others stand by until it is released or its holder dies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from accord_kernel.application import AccordApplication
from accord_kernel.leadership import FileLock, leadership_for
from accord_kernel.settings import ServiceSettings


async def test_one_holder_at_a_time(tmp_path: Path) -> None:
    first, second = FileLock(tmp_path / "x.relay-lock"), FileLock(tmp_path / "x.relay-lock")
    assert await first.acquire()
    assert not await second.acquire()
    await first.release()
    assert await second.acquire()
    assert not await first.acquire()
    await second.release()


async def test_a_dead_holder_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "x.relay-lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'ab'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(600)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        mine = FileLock(path)
        assert not await mine.acquire()
        holder.kill()
        holder.wait()
        assert await mine.acquire()
        await mine.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_sqlite_store_is_led_by_a_file_lock_beside_it(tmp_path: Path) -> None:
    app = AccordApplication(
        ServiceSettings(service="referral", persistence="sqlite", data_dir=tmp_path)
    )
    try:
        lock = leadership_for(app)
        assert isinstance(lock, FileLock)
        assert lock.path == tmp_path / "referral.sqlite.relay-lock"
    finally:
        app.close()
