"""Repository-wide test configuration: the real-infrastructure fixtures (`infrastructure`,
`platform`) come from the `accord_platform.testing` plugin, so service test folders can use
the same ones."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI

from tests.contract import ResponseHook, contract_hook

pytest_plugins = ["accord_platform.testing"]


@pytest.fixture(scope="session")
def platform_response_hook() -> Callable[[str, FastAPI], ResponseHook]:
    """Every answer a service gives in the integration journeys is checked against that
    service's own OpenAPI document (tests/contract.py)."""
    return contract_hook
