"""The whole platform in process for the end-to-end benchmarks, and waiting for what it makes
visible."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from accord_platform.harness import InProcessPlatform
from accord_platform.infra import Infrastructure

from bench.measure import Stopwatch

# A bound on waiting for asynchronous delivery, so a broken pipeline ends the run with an
# error instead of hanging it; never a performance target.
DELIVERY_BOUND_SECONDS = 120.0


@contextlib.asynccontextmanager
async def platform_on(
    infrastructure: Infrastructure, database: str
) -> AsyncIterator[InProcessPlatform]:
    """All five services, each with its relay and consumer, on `database`."""
    work_dir = Path(tempfile.mkdtemp(prefix=f"accord-{database}-"))
    platform = InProcessPlatform(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        opa_url=infrastructure.opa_url,
        database_url=infrastructure.postgres.url(database),
        work_dir=work_dir,
    )
    try:
        await platform.start()
        yield platform
    finally:
        await platform.close()
        shutil.rmtree(work_dir, ignore_errors=True)


async def seconds_until(
    check: Callable[[], Awaitable[bool]], clock: Stopwatch, interval: float, what: str
) -> float:
    """Polls `check` every `interval` seconds; returns `clock`'s reading when it first held."""
    while True:
        if await check():
            return clock.elapsed()
        if clock.elapsed() > DELIVERY_BOUND_SECONDS:
            raise RuntimeError(f"{what} did not happen within {DELIVERY_BOUND_SECONDS:.0f} s")
        await asyncio.sleep(interval)
