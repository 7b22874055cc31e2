"""Shared fixtures for the HTTP-boundary tests: a real OPA, dev signing keys, and each service's
FastAPI app built in-process on in-memory persistence."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from accord_kernel.dev_tokens import ensure_dev_keys
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.services_under_test import DevKeys, ServiceFactory, service_module


@pytest.fixture(scope="session")
def opa_url(request: pytest.FixtureRequest) -> str:
    """An OPA loaded with the project's policies: the developer's own, or the session's."""
    configured = os.environ.get("ACCORD_TEST_OPA_URL")
    if configured:
        return configured
    return str(request.getfixturevalue("infrastructure").opa_url)


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """The session's Kafka (or the developer's, beside their own OPA): readiness checks that
    the broker answers, so a service built without one would rightly say it is not ready."""
    if os.environ.get("ACCORD_TEST_OPA_URL"):
        return os.environ.get("ACCORD_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    return str(request.getfixturevalue("infrastructure").kafka_bootstrap)


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    key_dir = tmp_path_factory.mktemp("dev-keys")
    private_key_path, jwks_path = ensure_dev_keys(key_dir)
    return DevKeys(key_dir, private_key_path, jwks_path)


@pytest.fixture
def build_service(
    opa_url: str,
    kafka_bootstrap: str,
    dev_keys: DevKeys,
    tmp_path_factory: pytest.TempPathFactory,
) -> ServiceFactory:
    """Returns a function that builds a fresh app (own in-memory store) for a service name."""

    def build(service: str) -> FastAPI:
        module = service_module(service)
        settings = ServiceSettings.for_service(
            service,
            0,
            persistence="memory",
            opa_url=opa_url,
            kafka_bootstrap=kafka_bootstrap,
            jwks_path=dev_keys.jwks_path,
            data_dir=tmp_path_factory.mktemp(service),
        )
        api: FastAPI = module.make_api(module.make_runtime(settings), with_workers=False)
        return api

    return build


@pytest.fixture
def open_client(build_service: ServiceFactory) -> Iterator[Callable[[str], TestClient]]:
    """Opens a client on a freshly built service; lifespans are closed at teardown. Server
    exceptions come back as responses so that a 500 is reported like any other status."""
    clients: list[TestClient] = []

    def open_(service: str) -> TestClient:
        client = TestClient(build_service(service), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield open_
    for client in reversed(clients):
        client.__exit__(None, None, None)
