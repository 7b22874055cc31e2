"""Supervisor's emergency (break-glass) access (SPEC sections 3 and 7): request it for a case with
a reason from the service's list, a written justification and a time limit, after a warning that
a privacy officer reviews every use; check answers; a confirmation with the expiry; then the
victim's location and safety flags, read at victim services with purpose `emergency` under a
banner saying when the access ends.

Victim services decide who may break glass (today a police supervisor only: SPEC section 4
names emergency access in the police column); the area is offered to police supervisors, and a
refusal by the service is shown as a refusal. The grant's id and expiry are kept in the
supervisor's session (no case data) so the banner can say when access ends.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from accord_portal import words
from accord_portal.api_client import Forbidden, Invalid, NotFound
from accord_portal.areas import Area, NavItem
from accord_portal.referrals import form_values, summary
from accord_portal.web import Portal, User, portal_of, render, require_area

AREA = Area(
    key="emergency",
    roles=frozenset({("police", "supervisor")}),
    home="/emergency",
    nav=(NavItem("Emergency access", "/emergency"),),
)
router = APIRouter(prefix="/emergency")
supervisor = require_area(AREA)

CASE_REFERENCE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
JUSTIFICATION_MIN = 20
JUSTIFICATION_MAX = 4000
GRANTS = "emergency_grants"
FIELDS = ("reason_code", "justification", "duration_minutes")


def moment(value: Any) -> str:
    """A moment in words with its time zone: 3 March 2026 at 2:05pm (UTC)."""
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return str(value or "")
    hour = at.strftime("%I").lstrip("0") or "12"
    return (
        f"{at.day} {at:%B %Y} at {hour}:{at:%M}{at:%p}".replace("AM", "am").replace("PM", "pm")
        + " (UTC)"
    )


def grant_of(user: User, case_id: str) -> dict[str, Any] | None:
    grants = user.session.data.get(GRANTS)
    found = grants.get(case_id) if isinstance(grants, dict) else None
    return found if isinstance(found, dict) else None


def active(grant: dict[str, Any] | None, now: datetime | None = None) -> bool:
    if grant is None:
        return False
    try:
        expires = datetime.fromisoformat(str(grant["expires_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return False
    return (now or datetime.now(UTC)) < expires


async def remember(portal: Portal, user: User, case_id: str, grant: dict[str, Any]) -> None:
    grants = user.session.data.get(GRANTS)
    kept = (
        {k: g for k, g in (grants or {}).items() if active(g)} if isinstance(grants, dict) else {}
    )
    kept[case_id] = {
        "grant_id": str(grant.get("grant_id", "")),
        "expires_at": str(grant.get("expires_at", "")),
        "data_classes": [str(c) for c in grant.get("data_classes") or []],
    }
    user.session.data[GRANTS] = kept
    await run_in_threadpool(portal.store.save, user.session)


# --- which case ----------------------------------------------------------------------------


@router.get("")
async def start(request: Request, user: User = Depends(supervisor)) -> Response:
    grants = user.session.data.get(GRANTS)
    current = [
        {"case_id": case_id, "reference": case_id[:8].upper(), "expires": moment(g["expires_at"])}
        for case_id, g in (grants.items() if isinstance(grants, dict) else [])
        if active(g)
    ]
    return render(request, "emergency/start.html", {"values": {}, "errors": {}, "current": current})


@router.post("")
async def find(request: Request, user: User = Depends(supervisor)) -> Response:
    values = form_values(await request.form())
    reference = values.get("case_reference", "").strip().lower()
    error = ""
    if not reference:
        error = "Enter the case reference"
    elif not CASE_REFERENCE.match(reference):
        error = (
            "Enter the full case reference, 32 letters and numbers in 5 groups separated by hyphens"
        )
    if error:
        errors = {"case_reference": error}
        return render(
            request,
            "emergency/start.html",
            {"values": values, "errors": errors, "error_list": summary(errors), "current": []},
            400,
        )
    return RedirectResponse(f"/emergency/{reference}/request", status_code=303)


# --- the request ---------------------------------------------------------------------------


def parse_request(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    if values.get("reason_code") not in words.BREAK_GLASS_REASONS:
        errors["reason_code"] = "Select why emergency access is needed"
    classes = [c for c in words.BREAK_GLASS_CLASSES if values.get(f"data_classes_{c}") == "yes"]
    if not classes:
        errors["data_classes"] = "Select what you need to see"
    justification = values.get("justification", "")
    if len(justification) < JUSTIFICATION_MIN:
        errors["justification"] = (
            f"Explain why this cannot wait for consent, in at least {JUSTIFICATION_MIN} characters"
            if justification
            else "Enter why this cannot wait for the victim's consent"
        )
    elif len(justification) > JUSTIFICATION_MAX:
        errors["justification"] = (
            f"The justification must be {JUSTIFICATION_MAX} characters or fewer"
        )
    if values.get("duration_minutes") not in words.BREAK_GLASS_DURATIONS:
        errors["duration_minutes"] = "Select how long you need access for"
    body = {
        "reason_code": values.get("reason_code"),
        "justification": justification,
        "data_classes": classes,
        "duration_minutes": int(values["duration_minutes"])
        if values.get("duration_minutes", "").isdigit()
        else None,
    }
    return body, errors


# The service's field names -> the form's, for a 422 it answers.
API_FIELDS = {
    "reason_code": "reason_code",
    "justification": "justification",
    "data_classes": "data_classes",
    "duration_minutes": "duration_minutes",
}


def request_context(
    case_id: uuid.UUID, values: dict[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    first = {"data_classes": f"data_classes_{next(iter(words.BREAK_GLASS_CLASSES))}"}
    return {
        "case_id": str(case_id),
        "reference": str(case_id)[:8].upper(),
        "values": values,
        "errors": errors,
        "error_list": summary(errors, first),
        "reasons": list(words.BREAK_GLASS_REASONS.items()),
        "classes": list(words.BREAK_GLASS_CLASSES.items()),
        "durations": list(words.BREAK_GLASS_DURATIONS.items()),
    }


@router.get("/{case_id}/request")
async def request_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(supervisor)
) -> Response:
    return render(request, "emergency/request.html", request_context(case_id, {}, {}))


@router.post("/{case_id}/request/edit")
async def request_edit(
    request: Request, case_id: uuid.UUID, user: User = Depends(supervisor)
) -> Response:
    values = form_values(await request.form())
    return render(request, "emergency/request.html", request_context(case_id, values, {}))


@router.post("/{case_id}/request/check")
async def request_check(
    request: Request, case_id: uuid.UUID, user: User = Depends(supervisor)
) -> Response:
    values = form_values(await request.form())
    body, errors = parse_request(values)
    if errors:
        return render(
            request, "emergency/request.html", request_context(case_id, values, errors), 400
        )
    return render(
        request,
        "emergency/check.html",
        {
            "case_id": str(case_id),
            "reference": str(case_id)[:8].upper(),
            "values": values,
            "rows": [
                ("Reason", words.BREAK_GLASS_REASONS[body["reason_code"]], "reason_code"),
                (
                    "What you will see",
                    "; ".join(words.BREAK_GLASS_CLASSES[c] for c in body["data_classes"]),
                    "data_classes",
                ),
                ("Why it cannot wait", body["justification"], "justification"),
                (
                    "For how long",
                    words.BREAK_GLASS_DURATIONS[values["duration_minutes"]],
                    "duration_minutes",
                ),
            ],
        },
    )


@router.post("/{case_id}/request")
async def request_submit(
    request: Request, case_id: uuid.UUID, user: User = Depends(supervisor)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    body, errors = parse_request(values)
    if errors:
        return render(
            request, "emergency/request.html", request_context(case_id, values, errors), 400
        )
    try:
        grant = await portal.services.post(
            user.access_token,
            "victim-support",
            f"/cases/{case_id}/emergency-access",
            json=body,
        )
    except Invalid as exc:
        errors = {}
        for error in exc.errors:
            name = API_FIELDS.get(error.field.split(".", 1)[0])
            if name:
                errors.setdefault(name, "Victim services did not accept this answer; check it")
        if not errors:
            errors = {"justification": "Victim services did not accept this request; check it"}
        return render(
            request, "emergency/request.html", request_context(case_id, values, errors), 400
        )
    await remember(portal, user, str(case_id), grant)
    return RedirectResponse(f"/emergency/{case_id}/granted", status_code=303)


@router.get("/{case_id}/granted")
async def granted(
    request: Request, case_id: uuid.UUID, user: User = Depends(supervisor)
) -> Response:
    grant = grant_of(user, str(case_id))
    if grant is None:
        return RedirectResponse(f"/emergency/{case_id}", status_code=303)
    return render(
        request,
        "emergency/granted.html",
        {
            "case_id": str(case_id),
            "reference": str(case_id)[:8].upper(),
            "expires": moment(grant["expires_at"]),
            "what": [words.BREAK_GLASS_CLASSES.get(c, c) for c in grant["data_classes"]],
        },
    )


# --- what the grant opens ------------------------------------------------------------------


async def read_emergency(
    portal: Portal, user: User, case_id: uuid.UUID, path: str
) -> dict[str, Any] | None:
    """A read with purpose emergency; None where victim services show nothing."""
    try:
        doc = await portal.services.get(
            user.access_token,
            "victim-support",
            f"/cases/{case_id}/{path}",
            params={"purpose": "emergency"},
        )
    except (Forbidden, NotFound):
        return None
    return doc if isinstance(doc, dict) else None


def location_view(portal: Portal, doc: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    reason = words.withheld_reason("victim.location")

    def field(key: str, fmt: Any = None) -> dict[str, Any]:
        if doc is None or key not in doc:
            return {"withheld": True, "reason": reason}
        value = doc[key]
        return {"withheld": False, "value": fmt(value) if fmt and value is not None else value}

    return [
        ("Address", field("address")),
        ("Safe contact number", field("safe_contact_number")),
        (
            "Safe way to contact them",
            field("safe_contact_method", lambda v: words.CONTACT_METHODS.get(str(v), str(v))),
        ),
        ("In a refuge", field("refuge", lambda v: "Yes" if v else "No")),
    ]


def flags_view(doc: dict[str, Any] | None) -> dict[str, Any]:
    if doc is None or "flags" not in doc:
        return {"withheld": True, "reason": words.withheld_reason("safety.flags"), "rows": []}
    return {
        "withheld": False,
        "rows": [
            {
                "what": words.SAFETY_FLAGS.get(str(f.get("code")), str(f.get("code"))),
                "severity": words.SEVERITIES.get(str(f.get("severity")), str(f.get("severity"))),
            }
            for f in doc.get("flags") or []
            if isinstance(f, dict)
        ],
    }


@router.get("/{case_id}")
async def emergency_view(
    request: Request, case_id: uuid.UUID, user: User = Depends(supervisor)
) -> Response:
    portal = portal_of(request)
    victim, flags = await asyncio.gather(
        read_emergency(portal, user, case_id, "victim"),
        read_emergency(portal, user, case_id, "safety-flags"),
    )
    grant = grant_of(user, str(case_id))
    return render(
        request,
        "emergency/view.html",
        {
            "case_id": str(case_id),
            "reference": str(case_id)[:8].upper(),
            "grant": grant,
            "active": active(grant),
            "expires": moment(grant["expires_at"]) if grant else "",
            "location": location_view(portal, victim),
            "flags": flags_view(flags),
        },
    )
