"""What every page shares: the portal's state, the session and signed-in user, rendering."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from accord_kernel.organisations import OrganisationDirectory
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from accord_portal.api_client import ServiceClient
from accord_portal.areas import Area, NavItem
from accord_portal.config import PortalSettings
from accord_portal.oidc import OidcClient, SignInFailed
from accord_portal.security import CSRF_FIELD, CsrfRejected, csrf_matches
from accord_portal.sessions import Session, SessionStore

log = logging.getLogger("accord.portal")

AGENCY_NAMES = {
    "police": "Police",
    "victim_services": "Victim services",
    "rj_provider": "Restorative justice provider",
    "court": "Court",
    "audit": "Privacy office",
}
ROLE_NAMES = {
    "officer": "officer",
    "supervisor": "supervisor",
    "advocate": "advocate",
    "coordinator": "coordinator",
    "facilitator": "facilitator",
    "clerk": "clerk",
    "judge": "judge",
    "privacy_officer": "privacy officer",
}


class SignInRequired(Exception):
    """No live session: the browser goes to sign-in (and comes back to `return_to`)."""

    def __init__(self, return_to: str = "/") -> None:
        super().__init__(return_to)
        self.return_to = return_to


class NotForRole(Exception):
    """The signed-in role has no screens here (yet)."""


@dataclass
class Portal:
    settings: PortalSettings
    store: SessionStore
    oidc: OidcClient
    services: ServiceClient
    templates: Environment
    directory: OrganisationDirectory
    # Data class of each field, per resource type (policies/accord/catalogue/data.json).
    field_classes: dict[str, dict[str, str]] = field(default_factory=dict)
    areas: list[Area] = field(default_factory=list)

    @property
    def cookie_name(self) -> str:
        # __Host- makes the browser refuse the cookie unless Secure, path /, no Domain.
        return "__Host-accord-session" if self.settings.secure_cookies else "accord_session"

    def org_name(self, org_id: str) -> str:
        found = self.directory.get(org_id)
        return found.name if found else org_id

    def home_for(self, agency: str, role: str) -> Area | None:
        return next((a for a in self.areas if a.serves(agency, role)), None)


@dataclass
class User:
    sub: str
    name: str
    agency: str
    role: str
    org: str
    org_name: str
    access_token: str
    session: Session

    @property
    def role_in_words(self) -> str:
        return (
            f"{AGENCY_NAMES.get(self.agency, self.agency)} {ROLE_NAMES.get(self.role, self.role)}"
        )


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


async def current_session(request: Request) -> Session | None:
    """The live session for this request (loaded once), with its last-seen time moved on."""
    if hasattr(request.state, "session"):
        cached: Session | None = request.state.session
        return cached
    portal = portal_of(request)
    cookie = request.cookies.get(portal.cookie_name)
    session = await run_in_threadpool(portal.store.get, cookie) if cookie else None
    if session is not None:
        await run_in_threadpool(portal.store.touch, session)
    request.state.session = session
    return session


def _return_to(request: Request) -> str:
    # Only a path of ours, and only for GET: a POST's form cannot be replayed after sign-in.
    return request.url.path if request.method == "GET" else "/"


async def signed_in(request: Request) -> User:
    portal = portal_of(request)
    session = await current_session(request)
    if session is None or not session.signed_in:
        raise SignInRequired(_return_to(request))
    tokens = session.data["tokens"]
    if tokens["expires_at"] - time.time() < portal.settings.refresh_margin_seconds:
        await _refresh(portal, session, request)
    profile = session.data["user"]
    return User(
        sub=profile["sub"],
        name=profile["name"],
        agency=profile["agency"],
        role=profile["role"],
        org=profile["org"],
        org_name=portal.org_name(profile["org"]),
        access_token=session.data["tokens"]["access_token"],
        session=session,
    )


async def _refresh(portal: Portal, session: Session, request: Request) -> None:
    tokens = session.data["tokens"]
    refresh_token = tokens.get("refresh_token")
    try:
        if not refresh_token:
            raise SignInFailed("no refresh token")
        fresh = await portal.oidc.refresh(refresh_token)
    except SignInFailed as exc:
        log.info("token refresh failed (%s); session ended", exc)
        await run_in_threadpool(portal.store.delete, session.id)
        request.state.session = None
        raise SignInRequired(_return_to(request)) from exc
    session.data["tokens"] = token_record(fresh, previous=tokens)
    await run_in_threadpool(portal.store.save, session)


def token_record(tokens: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    previous = previous or {}
    return {
        "access_token": tokens["access_token"],
        "refresh_token": tokens.get("refresh_token") or previous.get("refresh_token"),
        "id_token": tokens.get("id_token") or previous.get("id_token"),
        "expires_at": time.time() + int(tokens.get("expires_in", 60)),
    }


async def csrf_protect(request: Request) -> None:
    """Runs before every route: a POST must carry the session's token, compared in constant
    time, or nothing behind it runs."""
    if request.method != "POST":
        return
    session = await current_session(request)
    if session is None:
        raise SignInRequired("/")
    form = await request.form()
    if not csrf_matches(session.csrf_token, form.get(CSRF_FIELD)):
        log.warning("csrf token missing or wrong path=%s", request.url.path)
        raise CsrfRejected()


def require_area(area: Area) -> Callable[[Request], Awaitable[User]]:
    async def check(request: Request) -> User:
        user = await signed_in(request)
        if not area.serves(user.agency, user.role):
            raise NotForRole()
        return user

    return check


def navigation(portal: Portal, agency: str, role: str) -> list[NavItem]:
    return [item for area in portal.areas if area.serves(agency, role) for item in area.nav]


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    portal = portal_of(request)
    session: Session | None = getattr(request.state, "session", None)
    user_view: dict[str, Any] | None = None
    nav: list[NavItem] = []
    if session is not None and session.signed_in:
        profile = session.data["user"]
        user_view = {
            "name": profile["name"],
            "org_name": portal.org_name(profile["org"]),
            "role_in_words": ROLE_NAMES.get(profile["role"], profile["role"]),
        }
        nav = navigation(portal, profile["agency"], profile["role"])
    html = portal.templates.get_template(template).render(
        {
            "request_path": request.url.path,
            "current_user": user_view,
            "navigation": nav,
            "csrf_token": session.csrf_token if session else "",
            "error_list": [],
            **(context or {}),
        }
    )
    return HTMLResponse(html, status_code=status_code)
