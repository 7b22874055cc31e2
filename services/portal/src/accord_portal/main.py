"""Composition root: `create_app(settings)` and the `accord-portal` command."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from accord_kernel.deployment import DeploymentHeaderMiddleware
from accord_kernel.observability import configure_logging, serve_metrics
from accord_kernel.organisations import load_directory
from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from prometheus_client import CollectorRegistry
from starlette.responses import Response

from accord_portal import auth
from accord_portal.api_client import ServiceClient
from accord_portal.areas import load_areas
from accord_portal.config import PortalSettings
from accord_portal.errors import install_error_pages
from accord_portal.oidc import OidcClient
from accord_portal.security import CSRF_FIELD, JS_ENABLED_SCRIPT, security_headers_middleware
from accord_portal.sessions import make_store
from accord_portal.web import Portal, csrf_protect, current_session, portal_of, render

HERE = Path(__file__).resolve().parent
log = logging.getLogger("accord.portal")


def templates_environment(training: bool = False) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["JS_ENABLED_SCRIPT"] = JS_ENABLED_SCRIPT
    env.globals["CSRF_FIELD"] = CSRF_FIELD
    # Training mode (SPEC 8): the layout shows the training banner on every page.
    env.globals["TRAINING"] = training
    return env


def _policy_file(path: Path) -> Path:
    if not path.is_absolute() and not path.exists():
        # From another working directory, the repository's own file.
        path = HERE.parents[3] / path
    return path


def _field_classes(path: Path) -> dict[str, dict[str, str]]:
    resources = json.loads(path.read_text()).get("resources", {})
    return {str(k): dict(v) for k, v in resources.items() if isinstance(v, dict)}


def create_app(
    settings: PortalSettings | None = None,
    services: ServiceClient | None = None,
    oidc: OidcClient | None = None,
) -> FastAPI:
    settings = settings or PortalSettings()
    store = make_store(
        settings.session_database_url,
        settings.data_dir,
        settings.session_encryption_key,
        settings.idle_timeout_minutes,
        settings.absolute_lifetime_hours,
    )
    portal = Portal(
        settings=settings,
        store=store,
        oidc=oidc
        or OidcClient(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret,
            settings.redirect_uri,
            settings.oidc_scopes,
        ),
        services=services
        or ServiceClient(settings.service_urls, timeout=settings.api_timeout_seconds),
        templates=templates_environment(training=settings.training),
        directory=load_directory(_policy_file(settings.organisations_file)),
        field_classes=_field_classes(_policy_file(settings.catalogue_file)),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await portal.services.aclose()
            await portal.oidc.aclose()
            store.close()

    app = FastAPI(
        title="Accord staff portal",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.portal = portal
    app.middleware("http")(security_headers_middleware(settings.oidc_issuer))
    app.add_middleware(DeploymentHeaderMiddleware, training=settings.training)
    install_error_pages(app)

    govuk = settings.node_modules / "govuk-frontend" / "dist" / "govuk"
    # GOV.UK Frontend's CSS asks for /assets/fonts and /assets/images.
    app.mount("/assets", StaticFiles(directory=govuk / "assets", check_dir=False), name="assets")
    app.mount("/govuk", StaticFiles(directory=govuk, check_dir=False), name="govuk")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.include_router(auth.router)
    for area, router in load_areas():
        portal.areas.append(area)
        app.include_router(router)

    @app.get("/")
    async def start(request: Request) -> Response:
        """Signed in: the role's home. Otherwise the start page with its sign-in button."""
        session = await current_session(request)
        if session is None or not session.signed_in:
            return render(request, "start.html")
        profile = session.data["user"]
        area = portal_of(request).home_for(profile["agency"], profile["role"])
        if area is None:
            return render(request, "errors/not_for_role.html", status_code=200)
        return RedirectResponse(area.home, status_code=303)

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    # A registry of its own, so that tests running several apps in one process stay apart.
    serve_metrics(
        app, CollectorRegistry(auto_describe=True), ["/health/live", "/static", "/govuk", "/assets"]
    )
    return app


def cli() -> None:
    import uvicorn

    settings = PortalSettings()
    configure_logging("portal", settings.log_format)
    log.info("Accord staff portal on %s", settings.public_url)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        # uvicorn's access log prints query strings; ours carry no case data, but the callback's
        # `code` is a credential for a few seconds.
        access_log=False,
        proxy_headers=False,
        log_config=None,
    )
