"""The services and the portal on real HTTP, for browser tests.

Services come from `accord_platform.harness.InProcessPlatform` (real Kafka, OPA, PostgreSQL;
relays and consumers on the test loop), each API served by a uvicorn server on a free port in
the same loop; they trust the dev issuer and the test session's Keycloak. The portal signs in
through that Keycloak and calls the services over HTTP with the user's token, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from accord_kernel.dev_tokens import ensure_dev_keys
from accord_platform.harness import InProcessPlatform
from accord_platform.identity_provider import DEV_PASSWORD, KeycloakServer
from accord_platform.infra import free_port
from accord_portal.config import PortalSettings
from accord_portal.main import create_app
from playwright.async_api import Page

LOOPBACK = "127.0.0.1"


async def serve(
    app: Any, port: int, lifespan: str = "off"
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(
        app, host=LOOPBACK, port=port, log_level="warning", lifespan=lifespan, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError(f"server on port {port} did not start")
    return server, task


@dataclass
class PortalStack:
    platform: InProcessPlatform
    portal_url: str
    service_urls: dict[str, str]
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for server, task in reversed(self.servers):
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        await self.platform.close()


@contextlib.asynccontextmanager
async def portal_stack(
    infrastructure: Any, keycloak: KeycloakServer, work_dir: Path
) -> AsyncIterator[PortalStack]:
    database = "accord_portal_" + uuid.uuid4().hex[:8]
    infrastructure.postgres.create_database(database)
    _, jwks = ensure_dev_keys(work_dir / "dev-keys")
    platform = InProcessPlatform(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        opa_url=infrastructure.opa_url,
        database_url=infrastructure.postgres.url(database),
        work_dir=work_dir,
        extra={
            "token_issuers": [
                {"issuer": "accord-dev", "jwks_file": str(jwks)},
                keycloak.issuer_config(),
                keycloak.victims_issuer_config(),
            ]
        },
    )
    await platform.start()
    stack = PortalStack(platform, "", {})
    try:
        for name, service in platform.services.items():
            port = free_port()
            stack.servers.append(await serve(service.api, port))
            stack.service_urls[name] = f"http://{LOOPBACK}:{port}"
        port = free_port()
        stack.portal_url = f"http://{LOOPBACK}:{port}"
        settings = PortalSettings(
            port=port,
            public_url=stack.portal_url,
            data_dir=work_dir / "portal",
            oidc_issuer=keycloak.issuer,
            victim_oidc_issuer=keycloak.victims_issuer,
            referral_url=stack.service_urls["referral"],
            victim_support_url=stack.service_urls["victim-support"],
            conference_url=stack.service_urls["conference"],
            court_url=stack.service_urls["court"],
            audit_url=stack.service_urls["audit"],
            reporting_url=stack.service_urls["reporting"],
        )
        stack.servers.append(await serve(create_app(settings), port, lifespan="on"))
        yield stack
    finally:
        await stack.close()


async def sign_in(page: Page, username: str) -> None:
    """On Keycloak's login page (where any portal page sends a signed-out browser)."""
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(DEV_PASSWORD)
    await page.get_by_role("button", name="Sign In").click()
