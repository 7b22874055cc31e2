"""The real servers a benchmark needs, started for the run and always stopped after it."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from accord_platform.infra import REPO, ChildServer, Infrastructure, InfrastructureError

from bench.measure import console

Server = Literal["kafka", "opa", "postgres"]
START_TIMEOUT_SECONDS = 180.0


@contextlib.contextmanager
def running(*wanted: Server) -> Iterator[Infrastructure]:
    """Only the `wanted` servers, in a throwaway directory: a benchmark that needs no broker
    does not pay for one on a two-core machine."""
    base = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    # PostgreSQL runs as the postgres user when we are root and must reach its data directory.
    base.chmod(0o711)
    infrastructure = Infrastructure.from_environment(base, policy_dir=REPO / "policies")
    servers: list[ChildServer] = [getattr(infrastructure, name) for name in wanted]
    try:
        # Launched from this (main) thread: their parent-death signal is tied to it.
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready(START_TIMEOUT_SECONDS)
        console.print(f"started {', '.join(wanted)} under {base}")
        yield infrastructure
    finally:
        for server in reversed(servers):
            try:
                server.stop()
            except (InfrastructureError, OSError):
                server.kill()
        shutil.rmtree(base, ignore_errors=True)


def new_database(infrastructure: Infrastructure, prefix: str) -> str:
    """A fresh database, so a run never measures what an earlier run left behind."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    infrastructure.postgres.create_database(name)
    return name


def quiet_kafka_client_logs() -> None:
    """aiokafka logs at ERROR while a new consumer group's coordinator is still loading, which
    is normal for the first seconds of a fresh broker; a broker that really fails ends the run
    through the delivery bound instead, so these lines would only bury the progress bars."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
