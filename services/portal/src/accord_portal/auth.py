"""Sign-in, callback and sign-out (OpenID Connect, authorization code + PKCE S256)."""

from __future__ import annotations

import logging
import secrets

from accord_kernel.identity import AGENCY_ROLES, ENROLMENT, VICTIM
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from accord_portal.oidc import SignInFailed
from accord_portal.sessions import Session
from accord_portal.web import Portal, current_session, portal_of, render, token_record

log = logging.getLogger("accord.portal.auth")
router = APIRouter()


def safe_return_to(value: object) -> str:
    # Only our own paths: an open redirect after sign-in is a phishing tool.
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def set_session_cookie(portal: Portal, response: Response, session: Session) -> None:
    response.set_cookie(
        portal.cookie_name,
        session.id,
        httponly=True,
        secure=portal.settings.secure_cookies,
        samesite="lax",
        path="/",
    )


async def start_sign_in(request: Request, return_to: str = "/") -> Response:
    portal = portal_of(request)
    try:
        login = await portal.oidc.login_request()
    except SignInFailed as exc:
        log.warning("sign-in unavailable: %s", exc)
        return render(request, "errors/sign_in_unavailable.html", status_code=503)
    pending = {
        "login": {
            "state": login.state,
            "nonce": login.nonce,
            "code_verifier": login.code_verifier,
            "return_to": safe_return_to(return_to),
        }
    }
    # A fresh pre-sign-in session every time, never one the browser brought along.
    old = await current_session(request)
    if old is not None:
        await run_in_threadpool(portal.store.delete, old.id)
    session = Session.fresh(pending)
    await run_in_threadpool(portal.store.save, session)
    response = RedirectResponse(login.url, status_code=303)
    set_session_cookie(portal, response, session)
    return response


@router.get("/auth/sign-in")
async def sign_in(request: Request) -> Response:
    return await start_sign_in(request)


def _profile(claims: dict[str, object]) -> dict[str, str]:
    values = {k: claims.get(k) for k in ("sub", "agency", "role", "org")}
    if not all(isinstance(v, str) and v for v in values.values()):
        raise SignInFailed("ID token lacks agency, role or org")
    agency, role = str(values["agency"]), str(values["role"])
    if role not in AGENCY_ROLES.get(agency, frozenset()):
        raise SignInFailed("ID token names an unknown agency or role")
    # The staff portal is for staff: a victim signs in to the victim view (its own realm and
    # session kind), and the enrolment service account never signs in as a person at all.
    if agency == VICTIM or role == ENROLMENT:
        raise SignInFailed("ID token is not a staff member's")
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        given, family = claims.get("given_name", ""), claims.get("family_name", "")
        name = f"{given} {family}".strip() or str(claims.get("preferred_username") or values["sub"])
    return {**{k: str(v) for k, v in values.items()}, "name": name[:200]}


@router.get("/auth/callback")
async def callback(request: Request) -> Response:
    portal = portal_of(request)
    session = await current_session(request)
    params = request.query_params
    login = session.data.get("login") if session else None
    if session is None or not isinstance(login, dict):
        log.info("callback without a pending sign-in")
        return render(request, "errors/sign_in_failed.html", status_code=400)
    if params.get("error"):
        log.info("provider refused sign-in: %s", params.get("error", "")[:64])
        return render(request, "errors/sign_in_failed.html", status_code=400)
    state, code = params.get("state", ""), params.get("code", "")
    if not code or not secrets.compare_digest(state.encode(), str(login["state"]).encode()):
        log.warning("sign-in state mismatch")
        return render(request, "errors/sign_in_failed.html", status_code=400)
    try:
        tokens = await portal.oidc.exchange_code(code, login["code_verifier"], login["nonce"])
        profile = _profile(tokens["id_claims"])
    except SignInFailed as exc:
        log.warning("sign-in failed: %s", exc)
        await run_in_threadpool(portal.store.delete, session.id)
        return render(request, "errors/sign_in_failed.html", status_code=400)
    new = await run_in_threadpool(
        portal.store.rotate, session, {"tokens": token_record(tokens), "user": profile}
    )
    request.state.session = new
    log.info(
        "signed in sub=%s agency=%s role=%s org=%s",
        *(profile[k] for k in ("sub", "agency", "role", "org")),
    )
    response = RedirectResponse(safe_return_to(login.get("return_to")), status_code=303)
    set_session_cookie(portal, response, new)
    return response


@router.get("/auth/sign-out")
async def sign_out(request: Request) -> Response:
    portal = portal_of(request)
    session = await current_session(request)
    id_token = None
    if session is not None:
        id_token = (session.data.get("tokens") or {}).get("id_token")
        await run_in_threadpool(portal.store.delete, session.id)
    request.state.session = None
    url = await portal.oidc.end_session_url(id_token, portal.settings.post_logout_redirect_uri)
    response = RedirectResponse(url, status_code=303)
    response.delete_cookie(portal.cookie_name, path="/")
    return response


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    return render(request, "signed_out.html")
