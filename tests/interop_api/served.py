"""A service built in-process (in-memory store) and served over real HTTP (uvicorn on a free
port, in a thread of the test process), for tests that follow links as an integrator would."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from accord_kernel.settings import ServiceSettings
from accord_platform.infra import free_port
from fastapi import FastAPI

from tests.api.services_under_test import DevKeys, service_module


def build(
    service: str,
    dev_keys: DevKeys,
    tmp: pytest.TempPathFactory,
    opa_url: str = "http://127.0.0.1:9",
    **extra: str,
) -> FastAPI:
    """The service's app on in-memory persistence; without `opa_url` no policy engine answers
    (enough for everything that needs no policy decision)."""
    module = service_module(service)
    settings = ServiceSettings.for_service(
        service,
        0,
        persistence="memory",
        opa_url=opa_url,
        jwks_path=dev_keys.jwks_path,
        data_dir=tmp.mktemp(service),
        **extra,  # type: ignore[arg-type]
    )
    api: FastAPI = module.make_api(module.make_runtime(settings), with_workers=False)
    return api


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Yields the base URL (`http://127.0.0.1:<port>`) while `app` is served."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # Waiting for start-up, bounded: not a timing assertion.
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
