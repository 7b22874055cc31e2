"""Portal test fixtures.

- `portal_factory(handler)`: an app whose five services are answered by `handler`
  (an `httpx.MockTransport` function), with a throwaway SQLite session store;
- `signed_in_as(client, agency, role, org)`: puts a signed-in session in the app's store and
  the cookie in the test client (no identity provider needed for unit tests);
- the browser fixtures (`portal_stack`, `sign_in`) are in test_browser.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from accord_portal.api_client import ServiceClient
from accord_portal.config import PortalSettings
from accord_portal.main import create_app
from accord_portal.sessions import Session
from fastapi import FastAPI
from fastapi.testclient import TestClient

Handler = Callable[[httpx.Request], httpx.Response]


def problem(status: int, code: str, **extra: Any) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "type": f"https://accord.example/problems/{code}",
            "title": code,
            "status": status,
            "code": code,
            **extra,
        },
        headers={"Content-Type": "application/problem+json"},
    )


@pytest.fixture
def portal_factory(tmp_path: Path) -> Iterator[Callable[[Handler], FastAPI]]:
    apps: list[FastAPI] = []

    def make(handler: Handler) -> FastAPI:
        settings = PortalSettings(data_dir=tmp_path / f"portal-{len(apps)}")
        services = ServiceClient(settings.service_urls, transport=httpx.MockTransport(handler))
        app = create_app(settings, services=services)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.state.portal.store.close()


def signed_in_as(
    client: TestClient,
    agency: str = "police",
    role: str = "officer",
    org: str = "north-police",
    name: str = "Nadia North-Police-Officer",
) -> Session:
    portal = client.app.state.portal  # type: ignore[attr-defined]
    session = Session.fresh(
        {
            "tokens": {
                "access_token": f"token-{agency}-{role}-{org}",
                "refresh_token": "refresh",
                "id_token": "id",
                "expires_at": time.time() + 3600,
            },
            "user": {
                "sub": f"{org}.{role}",
                "name": name,
                "agency": agency,
                "role": role,
                "org": org,
            },
        }
    )
    portal.store.save(session)
    client.cookies.set(portal.cookie_name, session.id)
    return session


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def portal_stack(
    infrastructure: Any, keycloak: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    """The five services on real HTTP and the portal on a free port, signing in at the
    session's Keycloak (see stack.py)."""
    from .stack import portal_stack as start

    async with start(infrastructure, keycloak, tmp_path_factory.mktemp("portal-stack")) as stack:
        yield stack
