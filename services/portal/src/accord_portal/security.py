"""Page security: response headers on everything, CSRF on every POST.

The one inline script is GOV.UK Frontend's `js-enabled` line, which must run before the body is
painted (otherwise components flash unstyled); it is allowed by its SHA-256 hash, so the policy
needs no `unsafe-inline` and any injected script is refused by the browser.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

JS_ENABLED_SCRIPT = (
    "document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype"
    " ? ' govuk-frontend-supported' : '');"
)
JS_ENABLED_HASH = "sha256-" + base64.b64encode(
    hashlib.sha256(JS_ENABLED_SCRIPT.encode()).digest()
).decode("ascii")

CSRF_FIELD = "csrf_token"
STATIC_PREFIXES = ("/assets/", "/govuk/", "/static/")


class CsrfRejected(Exception):
    """A POST without the session's CSRF token: refused before anything is read or changed."""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(provider_url: str) -> str:
    # form-action names the provider: the sign-out and sign-in redirects follow form posts in
    # some browsers' reading of the directive, and Chromium applies it to redirects.
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' '{JS_ENABLED_HASH}'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            f"form-action 'self' {origin_of(provider_url)}",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "object-src 'none'",
        ]
    )


def security_headers_middleware(
    provider_url: str,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    csp = content_security_policy(provider_url)

    async def add_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        return apply_security_headers(request, await call_next(request), csp)

    return add_headers


def apply_security_headers(request: Request, response: Response, csp: str) -> Response:
    """Also called by the unexpected-error page: Starlette answers a 500 from outside every
    middleware, so that page would otherwise go out without them."""
    headers = response.headers
    headers["Content-Security-Policy"] = csp
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not request.url.path.startswith(STATIC_PREFIXES):
        # Every page may show case data or be behind sign-in: never kept by the browser,
        # so the back button after sign-out or on a shared computer shows nothing.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


def csrf_matches(expected: str | None, given: object) -> bool:
    if not expected or not isinstance(given, str) or not given:
        return False
    return secrets.compare_digest(expected.encode(), given.encode())
