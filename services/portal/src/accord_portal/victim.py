"""The victim view (issue 17, SPEC section 7): the harmed person's own pages, on their phone.

Reached only by invitation: the advocate gives a one-time code in person; on `/your-case/start`
the person types it (a POST form, never a URL), the portal redeems it at victim services with
its enrolment token (client credentials of `accord-enrolment`), creates their account in the
`accord-victims` realm through Keycloak's admin REST API (the code is the temporary password,
UPDATE_PASSWORD is required, so they choose their own at Keycloak), links the account to the
invitation, and tells them their username. They then sign in with `accord-victim-view` (code +
PKCE S256, the portal's OidcClient with a second configuration).

The area is a separate ASGI app mounted under `/your-case`, so that nothing of the staff portal
runs on its requests and the reverse: its own session cookie, its own session kind (the staff
portal's `Session.signed_in` is false for it, and this area refuses staff sessions), its own
CSRF check, idle timeout (10 minutes by default), error pages and layout. Its pages say
"Support service" and nothing more in the title, have no favicon, and every one has the GOV.UK
"Exit this page" button (also Shift pressed three times): it goes through `/your-case/exit`,
which ends the portal session and the person's Keycloak sessions and sends the browser to a
neutral site, replacing the history entry when JavaScript runs. Nothing is kept in the browser
but the session cookie; every page is `Cache-Control: no-store` (security.py).

Every sentence on these pages goes through the message catalogue (`_`; English is the source
language, `locale/victim.pot` is extracted by Babel) and reads at Flesch reading ease 70 or more
(tests/portal/test_victim_unit.py).
"""

from __future__ import annotations

import asyncio
import gettext
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from babel.support import Translations
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from accord_portal import words
from accord_portal.api_client import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from accord_portal.areas import Area
from accord_portal.config import PortalSettings
from accord_portal.oidc import OidcClient, SignInFailed
from accord_portal.referrals import long_date
from accord_portal.security import CSRF_FIELD, JS_ENABLED_SCRIPT, csrf_matches
from accord_portal.sessions import Session
from accord_portal.web import Portal
from accord_portal.words import N_

log = logging.getLogger("accord.portal.victim")

PREFIX = "/your-case"
HOME = f"{PREFIX}/"
HERE = Path(__file__).resolve().parent
LOCALE_DIR = HERE / "locale"
DOMAIN = "victim"
KIND = "victim"
# Served by no staff role: the staff start page never sends anyone here and shows no link.
AREA = Area(key="victim", roles=frozenset(), home=HOME, nav=())

# Crockford base32, as victim services issues codes: no I, L, O, U.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 12

NAV = (
    (N_("Your case"), HOME),
    (N_("Your choices"), f"{PREFIX}/choices"),
    (N_("Who has seen your information"), f"{PREFIX}/who-has-seen"),
    (N_("Agreement"), f"{PREFIX}/agreement"),
    (N_("Help now"), f"{PREFIX}/help"),
)


def translations(locale: str = "en") -> gettext.NullTranslations:
    # Babel's catalogue (locale/victim.pot extracted by pybabel; a language's compiled .mo
    # beside it); a locale without one reads the English message ids as they are.
    found: gettext.NullTranslations = Translations.load(LOCALE_DIR, [locale], DOMAIN)
    return found


def templates_environment(locale: str = "en", training: bool = False) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["JS_ENABLED_SCRIPT"] = JS_ENABLED_SCRIPT
    env.globals["CSRF_FIELD"] = CSRF_FIELD
    env.globals["PREFIX"] = PREFIX
    env.globals["HOME"] = HOME
    env.globals["NAV"] = NAV
    env.globals["locale"] = locale
    # Training mode (SPEC 8): the layout shows the training banner on every page.
    env.globals["TRAINING"] = training
    return env


def normalise_code(typed: str) -> str | None:
    """The code as victim services shows it (XXXX-XXXX-XXXX), read as Crockford says (O as 0,
    I and L as 1, dashes and spaces ignored); None for anything that cannot be a code."""
    cleaned = typed.upper().replace("-", "").replace(" ", "").translate(str.maketrans("OIL", "011"))
    if len(cleaned) != CODE_CHARS or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return f"{cleaned[:4]}-{cleaned[4:8]}-{cleaned[8:]}"


# --- enrolment: the portal's own client of the victims' realm --------------------------------


class EnrolmentFailed(Exception):
    """Keycloak refused or could not be reached while creating or signing out an account."""


class EnrolmentClient:
    """Client credentials of `accord-enrolment` and the few admin REST calls it may make
    (manage-users in `accord-victims` only). Keycloak-specific by nature: the admin API is."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        base, _, realm = self.issuer.rpartition("/realms/")
        self.admin = f"{base}/admin/realms/{realm}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = http or httpx.AsyncClient(timeout=10.0)
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or self._expires - time.monotonic() < 30:
                try:
                    response = await self.http.post(
                        f"{self.issuer}/protocol/openid-connect/token",
                        data={"grant_type": "client_credentials"},
                        auth=(self.client_id, self.client_secret),
                    )
                    response.raise_for_status()
                    body = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise EnrolmentFailed(f"no enrolment token: {type(exc).__name__}") from exc
                self._token = str(body["access_token"])
                self._expires = time.monotonic() + int(body.get("expires_in", 60))
            return self._token

    async def _admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = await self.token()
        try:
            return await self.http.request(
                method,
                f"{self.admin}{path}",
                headers={"Authorization": f"Bearer {token}"},
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise EnrolmentFailed(f"admin API unreachable: {type(exc).__name__}") from exc

    async def create_user(self, username: str, org: str, temporary_password: str) -> str:
        """The new account's id (its `sub`)."""
        response = await self._admin(
            "POST",
            "/users",
            json={
                "username": username,
                "enabled": True,
                "attributes": {"agency": ["victim"], "role": ["victim"], "org": [org]},
                "credentials": [
                    {"type": "password", "value": temporary_password, "temporary": True}
                ],
                "requiredActions": ["UPDATE_PASSWORD"],
            },
        )
        if response.status_code != 201:
            raise EnrolmentFailed(f"user not created: {response.status_code}")
        sub = str(response.headers.get("Location", "")).rstrip("/").rpartition("/")[2]
        if not sub:
            raise EnrolmentFailed("user created without a Location")
        return sub

    async def sign_out_everywhere(self, sub: str) -> None:
        # Ends the person's sessions at Keycloak too: otherwise the browser's SSO cookie would
        # sign in whoever presses "Sign in" next on this phone, without a password.
        response = await self._admin("POST", f"/users/{sub}/logout")
        if response.status_code not in (204, 404):
            raise EnrolmentFailed(f"logout answered {response.status_code}")


# --- the area's state, kept on the portal app ------------------------------------------------


@dataclass
class VictimArea:
    portal: Portal
    oidc: OidcClient
    enrolment: EnrolmentClient
    templates: Environment
    idle_timeout: timedelta
    exit_url: str
    code_attempts: int


def build(portal: Portal) -> VictimArea:
    settings: PortalSettings = portal.settings
    return VictimArea(
        portal=portal,
        oidc=OidcClient(
            settings.victim_oidc_issuer,
            settings.victim_oidc_client_id,
            settings.victim_oidc_client_secret,
            settings.victim_redirect_uri,
            "openid",
        ),
        enrolment=EnrolmentClient(
            settings.victim_oidc_issuer,
            settings.enrolment_client_id,
            settings.enrolment_client_secret,
        ),
        templates=templates_environment(training=settings.training),
        idle_timeout=timedelta(minutes=settings.victim_idle_timeout_minutes),
        exit_url=settings.victim_exit_url,
        code_attempts=settings.victim_code_attempts,
    )


def install(app: FastAPI, area: VictimArea) -> None:
    """Tests put fakes in place here; otherwise the first request builds the real thing."""
    app.state.victim_area = area


def area_of(request: Request) -> VictimArea:
    area: VictimArea = request.scope["accord.victim_area"]
    return area


# --- sessions --------------------------------------------------------------------------------


class VictimSignInRequired(Exception):
    """No live victim session."""


class VictimCsrfRejected(Exception):
    """A POST without this session's token."""


def cookie_name(area: VictimArea) -> str:
    # A neutral name: a cookie list read by someone else says nothing.
    return "__Host-visit" if area.portal.settings.secure_cookies else "visit"


async def victim_session(request: Request) -> Session | None:
    """The live victim session, or None: a staff session under this cookie, an unreadable one
    or one idle longer than the victim timeout is deleted and is not there."""
    if "victim_session" in request.scope:
        cached: Session | None = request.scope["victim_session"]
        return cached
    area = area_of(request)
    store = area.portal.store
    cookie = request.cookies.get(cookie_name(area))
    session = await run_in_threadpool(store.get, cookie) if cookie else None
    if session is not None:
        idle = datetime.now(UTC) - session.last_seen_at
        if session.data.get("kind") != KIND or idle > area.idle_timeout:
            await run_in_threadpool(store.delete, session.id)
            session = None
        else:
            await run_in_threadpool(store.touch, session)
    request.scope["victim_session"] = session
    return session


async def new_session(request: Request, data: dict[str, Any]) -> Session:
    """A fresh session for a new step (a code typed, a sign-in started): an id seen before is
    worth nothing after it."""
    area = area_of(request)
    old = await victim_session(request)
    if old is not None:
        await run_in_threadpool(area.portal.store.delete, old.id)
    session = Session.fresh({"kind": KIND, **data})
    await run_in_threadpool(area.portal.store.save, session)
    request.scope["victim_session"] = session
    return session


def with_cookie(request: Request, response: Response, session: Session | None) -> Response:
    area = area_of(request)
    if session is None:
        response.delete_cookie(cookie_name(area), path="/")
    else:
        response.set_cookie(
            cookie_name(area),
            session.id,
            httponly=True,
            secure=area.portal.settings.secure_cookies,
            samesite="lax",
            path="/",
        )
    return response


async def end_session(request: Request) -> str | None:
    """Deletes the portal session; the account's `sub` if one was signed in."""
    area = area_of(request)
    session = await victim_session(request)
    request.scope["victim_session"] = None
    if session is None:
        return None
    await run_in_threadpool(area.portal.store.delete, session.id)
    person = session.data.get("person") or {}
    sub = person.get("sub")
    return str(sub) if sub else None


@dataclass
class Person:
    sub: str
    org: str
    access_token: str
    session: Session


async def signed_in(request: Request) -> Person:
    area = area_of(request)
    session = await victim_session(request)
    if session is None or "person" not in session.data:
        raise VictimSignInRequired()
    tokens = session.data["person_tokens"]
    if tokens["expires_at"] - time.time() < area.portal.settings.refresh_margin_seconds:
        try:
            if not tokens.get("refresh_token"):
                raise SignInFailed("no refresh token")
            fresh = await area.oidc.refresh(tokens["refresh_token"])
        except SignInFailed as exc:
            log.info("victim token refresh failed (%s); session ended", exc)
            await end_session(request)
            raise VictimSignInRequired() from exc
        tokens = token_record(fresh, tokens)
        session.data["person_tokens"] = tokens
        await run_in_threadpool(area.portal.store.save, session)
    person = session.data["person"]
    return Person(person["sub"], person["org"], tokens["access_token"], session)


def token_record(tokens: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    previous = previous or {}
    return {
        "access_token": tokens["access_token"],
        "refresh_token": tokens.get("refresh_token") or previous.get("refresh_token"),
        "id_token": tokens.get("id_token") or previous.get("id_token"),
        "expires_at": time.time() + int(tokens.get("expires_in", 60)),
    }


async def csrf_protect(request: Request) -> None:
    if request.method != "POST":
        return
    session = await victim_session(request)
    form = await request.form()
    if session is None or not csrf_matches(session.csrf_token, form.get(CSRF_FIELD)):
        log.warning("victim csrf token missing or wrong path=%s", request.url.path)
        raise VictimCsrfRejected()


# --- rendering -------------------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    area = area_of(request)
    session: Session | None = request.scope.get("victim_session")
    html = area.templates.get_template(template).render(
        {
            "request_path": request.url.path,
            "signed_in": bool(session and "person" in session.data),
            "csrf_token": session.csrf_token if session else "",
            "error_list": [],
            "errors": {},
            "values": {},
            **(context or {}),
        }
    )
    return HTMLResponse(html, status_code=status_code)


# --- the sub-application ---------------------------------------------------------------------

app = FastAPI(
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
    dependencies=[Depends(csrf_protect)],
)


async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
    """Hands the portal app's victim area to the mounted app (which has its own `app`)."""
    if scope["type"] in ("http", "websocket"):
        parent = scope["app"]
        area = getattr(parent.state, "victim_area", None)
        if area is None:
            area = build(parent.state.portal)
            parent.state.victim_area = area
        scope["accord.victim_area"] = area
    await app(scope, receive, send)


@asynccontextmanager
async def lifespan(parent: FastAPI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        area = getattr(parent.state, "victim_area", None)
        if area is not None:
            await area.oidc.aclose()
            await area.enrolment.aclose()


router = APIRouter(lifespan=lifespan)
router.mount(PREFIX, mounted)


def _no_access(request: Request) -> Awaitable[Response]:
    async def page() -> Response:
        await end_session(request)
        return with_cookie(request, render(request, "victim/no_access.html", status_code=404), None)

    return page()


@app.exception_handler(VictimSignInRequired)
async def _sign_in(request: Request, exc: VictimSignInRequired) -> Response:
    return with_cookie(request, RedirectResponse(HOME, status_code=303), None)


@app.exception_handler(VictimCsrfRejected)
async def _csrf(request: Request, exc: VictimCsrfRejected) -> Response:
    return render(request, "victim/timed_out.html", status_code=403)


@app.exception_handler(NotFound)
async def _not_found(request: Request, exc: NotFound) -> Response:
    # The account is not linked (any more): revoked by the advocate, or never finished.
    return await _no_access(request)


@app.exception_handler(Forbidden)
async def _forbidden(request: Request, exc: Forbidden) -> Response:
    return await _no_access(request)


@app.exception_handler(Conflict)
async def _conflict(request: Request, exc: Conflict) -> Response:
    return render(request, "victim/changed.html", status_code=409)


@app.exception_handler(Unauthenticated)
async def _unauthenticated(request: Request, exc: Unauthenticated) -> Response:
    await end_session(request)
    return with_cookie(request, RedirectResponse(HOME, status_code=303), None)


@app.exception_handler(Unavailable)
async def _unavailable(request: Request, exc: Unavailable) -> Response:
    return render(request, "victim/problem.html", status_code=503)


@app.exception_handler(ApiError)
async def _api_error(request: Request, exc: ApiError) -> Response:
    log.warning("unexpected service answer %s %s path=%s", exc.status, exc.code, request.url.path)
    return render(request, "victim/problem.html", status_code=500)


@app.exception_handler(StarletteHTTPException)
async def _http(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code in (404, 405):
        return render(request, "victim/not_found.html", status_code=404)
    return render(request, "victim/problem.html", status_code=exc.status_code)


@app.exception_handler(RequestValidationError)
async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    return render(request, "victim/not_found.html", status_code=404)


# --- exit and sign-out -----------------------------------------------------------------------


async def _end_everything(request: Request) -> None:
    sub = await end_session(request)
    if sub:
        try:
            await area_of(request).enrolment.sign_out_everywhere(sub)
        except EnrolmentFailed as exc:
            # The portal session is gone regardless; the provider's idle timeout ends the rest.
            log.warning("victim provider sign-out failed: %s", exc)


@app.get("/exit")
async def exit_page(request: Request) -> Response:
    """Exit this page: ends everything and leaves for the neutral site. A GET, so that the
    link works without JavaScript and from the keyboard shortcut alike."""
    await _end_everything(request)
    return with_cookie(request, RedirectResponse(area_of(request).exit_url, status_code=303), None)


@app.post("/sign-out")
async def sign_out(request: Request) -> Response:
    await _end_everything(request)
    return with_cookie(request, RedirectResponse(f"{PREFIX}/signed-out", status_code=303), None)


@app.get("/signed-out")
async def signed_out(request: Request) -> Response:
    return render(request, "victim/signed_out.html")


# --- the code: redeem, create the account, link it ---------------------------------------------


def _start_form(
    request: Request, values: dict[str, str], error: str | None, status: int = 200
) -> Response:
    errors = {"code": error} if error else {}
    return render(
        request,
        "victim/start.html",
        {
            "values": values,
            "errors": errors,
            "error_list": [{"href": "#code", "text": error}] if error else [],
        },
        status,
    )


@app.get("/start")
async def start(request: Request) -> Response:
    session = await victim_session(request)
    if session is None or "person" in session.data:
        # A fresh visit: a new session carries the form's CSRF token and counts the tries.
        session = await new_session(request, {"tries": 0})
    return with_cookie(request, _start_form(request, {}, None), session)


@app.post("/start")
async def redeem(request: Request) -> Response:
    area = area_of(request)
    portal = area.portal
    session = await victim_session(request)
    assert session is not None  # csrf_protect let the POST through
    form = await request.form()
    typed = str(form.get("code") or "").strip()[:64]
    if not typed:
        return _start_form(request, {}, N_("Enter your code"), 400)
    code = normalise_code(typed)
    if code is None:
        return _start_form(
            request, {"code": typed}, N_("Check your code. It has 12 letters and numbers."), 400
        )
    tries = int(session.data.get("tries", 0))
    if tries >= area.code_attempts:
        return render(request, "victim/too_many.html", status_code=429)
    session.data["tries"] = tries + 1
    await run_in_threadpool(portal.store.save, session)
    try:
        token = await area.enrolment.token()
        invitation = await portal.services.post(
            token, "victim-support", "/invitations/redemptions", json={"code": code}
        )
    except EnrolmentFailed as exc:
        log.warning("enrolment unavailable: %s", exc)
        return render(request, "victim/problem.html", status_code=503)
    except ApiError as exc:
        if exc.status == 429:
            return render(request, "victim/too_many.html", status_code=429)
        if exc.status in (400, 404, 410, 422):
            # Wrong, expired, used or revoked: victim services gives one answer for all four.
            return render(request, "victim/refused.html", status_code=400)
        raise
    try:
        sub = await area.enrolment.create_user(
            str(invitation["username"]), str(invitation["org"]), code
        )
        await portal.services.post(
            token,
            "victim-support",
            f"/invitations/{invitation['invitation_id']}/account",
            json={"sub": sub},
        )
    except (EnrolmentFailed, ApiError) as exc:
        # The code is spent; the advocate makes a new one. Nothing about it is logged.
        log.warning("victim account not completed: %s", type(exc).__name__)
        return render(request, "victim/not_finished.html", status_code=503)
    fresh = await new_session(request, {"enrolled": str(invitation["username"])})
    return with_cookie(request, RedirectResponse(f"{PREFIX}/ready", status_code=303), fresh)


@app.get("/ready")
async def ready(request: Request) -> Response:
    session = await victim_session(request)
    username = session.data.get("enrolled") if session else None
    if not username:
        return RedirectResponse(HOME, status_code=303)
    return render(request, "victim/ready.html", {"username": username})


# --- sign-in ---------------------------------------------------------------------------------


@app.get("/sign-in")
async def sign_in(request: Request) -> Response:
    area = area_of(request)
    try:
        login = await area.oidc.login_request()
    except SignInFailed as exc:
        log.warning("victim sign-in unavailable: %s", exc)
        return render(request, "victim/problem.html", status_code=503)
    session = await new_session(
        request,
        {"login": {"state": login.state, "nonce": login.nonce, "verifier": login.code_verifier}},
    )
    return with_cookie(request, RedirectResponse(login.url, status_code=303), session)


@app.get("/auth/callback")
async def callback(request: Request) -> Response:
    area = area_of(request)
    session = await victim_session(request)
    login = session.data.get("login") if session else None
    params = request.query_params
    state, code = params.get("state", ""), params.get("code", "")
    if (
        session is None
        or not isinstance(login, dict)
        or params.get("error")
        or not code
        or not secrets.compare_digest(state.encode(), str(login["state"]).encode())
    ):
        log.info("victim callback refused")
        return render(request, "victim/sign_in_failed.html", status_code=400)
    try:
        tokens = await area.oidc.exchange_code(code, login["verifier"], login["nonce"])
        claims = tokens["id_claims"]
        if claims.get("agency") != "victim" or claims.get("role") != "victim":
            raise SignInFailed("not a victim-view account")
        if not isinstance(claims.get("org"), str) or not claims["org"]:
            raise SignInFailed("no organisation")
    except SignInFailed as exc:
        log.warning("victim sign-in failed: %s", exc)
        await end_session(request)
        return with_cookie(
            request, render(request, "victim/sign_in_failed.html", status_code=400), None
        )
    fresh = await new_session(
        request,
        {
            "person": {"sub": str(claims["sub"]), "org": str(claims["org"])},
            "person_tokens": token_record(tokens),
        },
    )
    return with_cookie(request, RedirectResponse(HOME, status_code=303), fresh)


# --- pages -----------------------------------------------------------------------------------


async def me(person: Person, request: Request, path: str) -> Any:
    return await area_of(request).portal.services.get(
        person.access_token, "victim-support", f"/me/{path}"
    )


def pop_flash(request: Request, person: Person) -> Awaitable[str | None]:
    async def pop() -> str | None:
        message = person.session.data.pop("flash", None)
        if message is not None:
            await run_in_threadpool(area_of(request).portal.store.save, person.session)
        return message if isinstance(message, str) else None

    return pop()


async def set_flash(request: Request, person: Person, message: str) -> None:
    person.session.data["flash"] = message
    await run_in_threadpool(area_of(request).portal.store.save, person.session)


def case_view(doc: dict[str, Any]) -> dict[str, Any]:
    stage = str(doc.get("stage", ""))
    contact = doc.get("advocate_contact")
    contact = contact if isinstance(contact, dict) else {}
    return {
        "stage": words.VICTIM_STAGES.get(stage, N_("Your support service has your case")),
        "stage_code": stage,
        "next_step": words.VICTIM_NEXT_STEPS.get(stage) or str(doc.get("next_step") or ""),
        "since": long_date(doc.get("stage_changed_at")) if doc.get("stage_changed_at") else "",
        "service": str(doc.get("supporting_org_name") or contact.get("organisation") or ""),
        "how": str(contact.get("how") or N_("Contact your support service.")),
    }


@app.get("/")
async def home(request: Request) -> Response:
    session = await victim_session(request)
    if session is None or "person" not in session.data:
        return render(request, "victim/welcome.html")
    person = await signed_in(request)
    doc = await me(person, request, "case")
    return render(request, "victim/case.html", {"case": case_view(doc)})


def _names(values: Any, table: dict[str, str]) -> list[str]:
    return [table.get(str(v), str(v).replace("_", " ")) for v in values or []]


def consent_view(doc: dict[str, Any]) -> dict[str, Any]:
    status = str(doc.get("status", ""))
    parties = []
    for w in doc.get("with_whom") or []:
        if not isinstance(w, dict):
            continue
        parties.append(
            {
                "who": words.VICTIM_AGENCIES.get(str(w.get("agency")), str(w.get("agency"))),
                "why": _names(w.get("purposes"), words.VICTIM_PURPOSES),
                "what": _names(w.get("data_classes"), words.VICTIM_DATA_CLASSES),
                "until": long_date(str(w.get("until") or "")[:10]) if w.get("until") else "",
            }
        )
    until = doc.get("until")
    return {
        "consent_id": str(doc.get("consent_id", "")),
        "scope_code": str(doc.get("scope", "")),
        "scope": words.VICTIM_SCOPES.get(str(doc.get("scope")), N_("Your choice")),
        "status_code": status,
        "status": words.VICTIM_CONSENT_STATUS.get(status, N_("Ended")),
        "status_tag": words.VICTIM_CONSENT_STATUS_TAG.get(status, "govuk-tag--grey"),
        "parties": parties,
        "until": long_date(str(until)[:10]) if until else "",
        "given": long_date(str(doc.get("granted_at") or "")[:10]) if doc.get("granted_at") else "",
        "can_withdraw": bool(doc.get("can_withdraw")) and status == "active",
    }


async def consents(request: Request, person: Person) -> list[dict[str, Any]]:
    docs = await me(person, request, "consents")
    views = [consent_view(d) for d in docs or [] if isinstance(d, dict)]
    views.sort(key=lambda v: v["status_code"] != "active")
    return views


@app.get("/choices")
async def choices(request: Request, person: Person = Depends(signed_in)) -> Response:
    rows = await consents(request, person)
    return render(
        request,
        "victim/choices.html",
        {"rows": rows, "flash": await pop_flash(request, person)},
    )


@app.get("/choices/{consent_id}/stop")
async def stop_confirm(
    request: Request, consent_id: uuid.UUID, person: Person = Depends(signed_in)
) -> Response:
    rows = await consents(request, person)
    consent = next((c for c in rows if c["consent_id"] == str(consent_id)), None)
    if consent is None:
        raise StarletteHTTPException(404)
    if not consent["can_withdraw"]:
        return render(request, "victim/changed.html", status_code=409)
    return render(
        request, "victim/stop.html", {"consent": consent, "sharing": sharing_also(consent, rows)}
    )


def sharing_also(consent: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stopping taking part may come with stopping some sharing too. Consents are separate
    (SPEC 1.3), so each share is the victim's own tick, never stopped for them: sharing flags
    with the police may be what keeps them safe after the process ends."""
    if consent["scope_code"] != "participate":
        return []
    return [c for c in rows if c["scope_code"] == "share" and c["can_withdraw"]]


@app.post("/choices/{consent_id}/stop")
async def stop(
    request: Request, consent_id: uuid.UUID, person: Person = Depends(signed_in)
) -> Response:
    form = await request.form()
    ticked = {str(v) for v in form.getlist("also")}
    also: list[str] = []
    if ticked:
        rows = await consents(request, person)
        consent = next((c for c in rows if c["consent_id"] == str(consent_id)), None)
        offered = {c["consent_id"] for c in sharing_also(consent, rows)} if consent else set()
        # Only the shares this page offered: a forged id stops nothing else.
        also = sorted(ticked & offered)
    services = area_of(request).portal.services
    # Taking part first: stopping the process is what the victim asked for above all.
    for stopped in (str(consent_id), *also):
        await services.post(
            person.access_token, "victim-support", f"/me/consents/{stopped}/withdrawal", json={}
        )
    await set_flash(request, person, "stopped")
    return RedirectResponse(f"{PREFIX}/choices", status_code=303)


def access_view(entries: list[dict[str, Any]], org_name: Callable[[str], str]) -> list[Any]:
    """One card per day, who, why and what, newest first: ten reads of one page in a morning
    are one card saying ten times (a phone screen is short)."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in entries:
        org = str(e.get("org") or "")
        row = {
            "date": long_date(str(e.get("at", ""))[:10]),
            "who": words.VICTIM_AGENCIES.get(str(e.get("agency")), str(e.get("agency"))),
            "organisation": org_name(org) if org else "",
            "role": words.VICTIM_ROLES.get(str(e.get("role")), str(e.get("role"))),
            "why": words.VICTIM_PURPOSES.get(str(e.get("purpose")), str(e.get("purpose"))),
            "what": words.VICTIM_WHAT.get(str(e.get("what")), N_("Your information")),
            "emergency": bool(e.get("break_glass")),
        }
        key = tuple(row.values())
        if key in rows:
            rows[key]["times"] += 1
        else:
            rows[key] = {**row, "times": 1}
    return list(rows.values())


@app.get("/who-has-seen")
async def who_has_seen(request: Request, person: Person = Depends(signed_in)) -> Response:
    entries = await me(person, request, "access-log")
    rows = access_view(
        [e for e in entries or [] if isinstance(e, dict)], area_of(request).portal.org_name
    )
    return render(
        request,
        "victim/who_has_seen.html",
        {"rows": rows, "any_emergency": any(r["emergency"] for r in rows)},
    )


@app.get("/agreement")
async def agreement(request: Request, person: Person = Depends(signed_in)) -> Response:
    doc = await me(person, request, "case")
    items: list[dict[str, Any]] = []
    wanted = bool(doc.get("tell_me_about_agreement"))
    if wanted:
        try:
            progress = await me(person, request, "agreement")
        except NotFound:
            progress = {"items": []}
        for i in (progress or {}).get("items") or []:
            if not isinstance(i, dict):
                continue
            status = str(i.get("status", "open"))
            items.append(
                {
                    "status": words.VICTIM_ITEM_STATUS.get(status, N_("Not done yet")),
                    "tag": words.VICTIM_ITEM_STATUS_TAG.get(status, "govuk-tag--blue"),
                    "due": long_date(str(i.get("due_date") or "")[:10])
                    if i.get("due_date")
                    else "",
                }
            )
    return render(
        request,
        "victim/agreement.html",
        {"wanted": wanted, "items": items, "flash": await pop_flash(request, person)},
    )


@app.post("/agreement")
async def agreement_choice(request: Request, person: Person = Depends(signed_in)) -> Response:
    form = await request.form()
    answer = str(form.get("tell_me") or "")
    if answer not in ("yes", "no"):
        error = N_("Choose yes or no")
        return render(
            request,
            "victim/agreement.html",
            {
                "wanted": False,
                "items": [],
                "flash": None,
                "errors": {"tell_me": error},
                "error_list": [{"href": "#tell_me", "text": error}],
            },
            400,
        )
    await area_of(request).portal.services.request(
        person.access_token,
        "victim-support",
        "PUT",
        "/me/preferences",
        json={"tell_me_about_agreement": answer == "yes"},
    )
    await set_flash(request, person, "news_on" if answer == "yes" else "news_off")
    return RedirectResponse(f"{PREFIX}/agreement", status_code=303)


def tel(number: str) -> str:
    return "".join(c for c in number if c.isdigit() or c == "+")


@app.get("/help")
async def help_now(request: Request, person: Person = Depends(signed_in)) -> Response:
    doc = await me(person, request, "case")
    numbers = [
        {
            "name": str(h.get("name", "")),
            "number": str(h.get("number", "")),
            "tel": tel(str(h.get("number", ""))),
            "note": str(h.get("note") or ""),
        }
        for h in doc.get("help") or []
        if isinstance(h, dict) and h.get("number")
    ]
    return render(request, "victim/help.html", {"numbers": numbers})
