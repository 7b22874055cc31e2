"""Every failure becomes a GOV.UK page in plain words; never a stack trace."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response

from accord_portal.api_client import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from accord_portal.auth import start_sign_in
from accord_portal.security import CsrfRejected, apply_security_headers, content_security_policy
from accord_portal.web import NotForRole, SignInRequired, portal_of, render

log = logging.getLogger("accord.portal.errors")
FALLBACK_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sorry, there is a problem'
    " with the service - Accord staff portal</title></head><body><main><h1>Sorry, there is a"
    " problem with the service</h1><p>Try again later.</p></main></body></html>"
)
CASE_PATH = re.compile(r"^(/[a-z-]+/[0-9a-fA-F-]{36})(/|$)")


def case_page_of(path: str) -> str:
    """The case page behind a case's sub-page (`/referrals/<id>/withdraw` -> `/referrals/<id>`)."""
    match = CASE_PATH.match(path)
    return match.group(1) if match else "/"


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return await start_sign_in(request, exc.return_to)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, exc: CsrfRejected) -> Response:
        return render(request, "errors/csrf.html", status_code=403)

    @app.exception_handler(NotForRole)
    async def _not_for_role(request: Request, exc: NotForRole) -> Response:
        return render(request, "errors/not_for_role.html", status_code=403)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return render(request, "errors/case_not_found.html", status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        return render(
            request,
            "errors/conflict.html",
            {"back": case_page_of(request.url.path)},
            status_code=409,
        )

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "errors/forbidden.html", status_code=403)

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated) -> Response:
        # The service no longer accepts this token: a new sign-in gets a new one.
        session = getattr(request.state, "session", None)
        if session is not None:
            await run_in_threadpool(portal_of(request).store.delete, session.id)
            request.state.session = None
        return await start_sign_in(request, request.url.path if request.method == "GET" else "/")

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> Response:
        return render(request, "errors/unavailable.html", status_code=503)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        log.warning(
            "unexpected service answer %s %s path=%s", exc.status, exc.code, request.url.path
        )
        return render(request, "errors/problem.html", status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405):
            return render(request, "errors/page_not_found.html", status_code=404)
        return render(request, "errors/problem.html", status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "errors/page_not_found.html", status_code=404)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The class only: messages of library errors can carry what was submitted.
        log.error("unexpected error %s path=%s", type(exc).__name__, request.url.path)
        csp = content_security_policy(portal_of(request).settings.oidc_issuer)
        try:
            page = render(request, "errors/problem.html", status_code=500)
        except Exception:
            page = HTMLResponse(FALLBACK_PAGE, status_code=500)
        return apply_security_headers(request, page, csp)
