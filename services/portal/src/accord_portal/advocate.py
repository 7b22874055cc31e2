"""Victim-services advocate's screens (SPEC section 7): the cases referred to the advocate's
organisation, a case as a task list, the victim record (location marked confidential), consent
capture with check answers, withdrawal in one action, safety flags, the safety plan and who
accessed the victim's data. Supervisors of the organisation see the same screens.

Every page reads at its source with the user's own token: the referral service for the case
(it lists only the cases the caller's organisation is responsible for), victim services for the
victim's record, consents, flags and plan, and audit for the access log. Invitations to the
victim view (issue 17): a one-time code shown once, the list with statuses, and revocation.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import Counter
from collections.abc import Awaitable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from accord_portal import words
from accord_portal.api_client import Invalid, NotFound
from accord_portal.areas import Area, NavItem
from accord_portal.referrals import form_values, long_date, pop_flash, set_flash, summary
from accord_portal.web import Portal, User, portal_of, render, require_area

AREA = Area(
    key="advocate",
    roles=frozenset({("victim_services", "advocate"), ("victim_services", "supervisor")}),
    home="/victims",
    nav=(NavItem("Cases", "/victims"),),
)
router = APIRouter(prefix="/victims")
advocate = require_area(AREA)
T = TypeVar("T")

CLOSED = ("accepted", "declined", "withdrawn", "ineligible")
CONTACT_DEADLINE = "victim_information_due"
YES_NO = (("yes", "Yes"), ("no", "No"))
MAX_PROVISIONS = 20
MAX_CHILDREN = 3
WITHDRAWN_BANNER = "Consent withdrawn - this takes effect at once"


# --- helpers -------------------------------------------------------------------------------


def today() -> date:
    return datetime.now(UTC).date()


async def optional(call: Awaitable[T]) -> T | None:
    """A victim-services read that answers 404 while the victim is not registered yet. The
    referral read beside it decides whether the case is the user's at all."""
    try:
        return await call
    except NotFound:
        return None


def read_date(values: dict[str, str], name: str, label: str) -> tuple[date | None, str]:
    """A GOV.UK date input (`name-day`, `name-month`, `name-year`): the date, or a message."""
    parts = [values.get(f"{name}-{p}", "") for p in ("day", "month", "year")]
    if not any(parts):
        return None, f"Enter {label}"
    if not all(parts):
        return None, f"{label[0].upper()}{label[1:]} must include a day, month and year"
    try:
        day, month, year = (int(p) for p in parts)
        return date(year, month, day), ""
    except ValueError:
        return None, f"{label[0].upper()}{label[1:]} must be a real date"


def date_values(name: str, value: date) -> dict[str, str]:
    return {
        f"{name}-day": str(value.day),
        f"{name}-month": str(value.month),
        f"{name}-year": str(value.year),
    }


def case_header(portal: Portal, doc: dict[str, Any]) -> dict[str, Any]:
    """What every advocate page shows of the case, from the referral service's document."""
    status = str(doc.get("status", ""))
    open_case = status not in CLOSED
    deadlines = []
    for name, due in sorted((doc.get("deadlines") or {}).items(), key=lambda kv: str(kv[1])):
        try:
            missed = open_case and date.fromisoformat(str(due)[:10]) < today()
        except ValueError:
            missed = False
        deadlines.append(
            {
                "key": name,
                "name": words.DEADLINES.get(name, name.replace("_", " ").capitalize()),
                "due": long_date(due),
                "overdue": missed,
            }
        )
    contact = next((d for d in deadlines if d["key"] == CONTACT_DEADLINE), None)
    return {
        "case_id": str(doc.get("case_id", "")),
        "reference": str(doc.get("case_id", ""))[:8].upper(),
        "victim_name": doc.get("victim_name") if "victim_name" in doc else None,
        "received": long_date(str(doc.get("submitted_at", ""))[:10]),
        "status": words.STATUS.get(status, status.replace("_", " ").capitalize()),
        "status_tag": words.STATUS_TAG.get(status, "govuk-tag--grey"),
        "jurisdiction": words.JURISDICTIONS.get(str(doc.get("jurisdiction")), "Not given"),
        "risk_band": words.BANDS.get(str(doc.get("risk_band")), "Withheld")
        if "risk_band" in doc
        else "Withheld",
        "deadlines": deadlines,
        "contact": contact,
        "overdue": any(d["overdue"] for d in deadlines),
        "open": open_case,
    }


async def referral(portal: Portal, user: User, case_id: uuid.UUID) -> dict[str, Any]:
    doc: dict[str, Any] = await portal.services.get(
        user.access_token, "referral", f"/referrals/{case_id}"
    )
    return doc


async def victim_record(portal: Portal, user: User, case_id: uuid.UUID) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await optional(
        portal.services.get(user.access_token, "victim-support", f"/cases/{case_id}/victim")
    )
    return doc


async def consents_of(portal: Portal, user: User, case_id: uuid.UUID) -> list[dict[str, Any]]:
    docs = await optional(
        portal.services.get(user.access_token, "victim-support", f"/cases/{case_id}/consents")
    )
    return [d for d in docs or [] if isinstance(d, dict)]


def page_context(header: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"case": header, "case_id": header["case_id"], "errors": {}, **extra}


# --- cases ---------------------------------------------------------------------------------


async def registered(portal: Portal, user: User, case_id: str) -> bool:
    """Whether victim services hold a victim record for the case. The consent summary is the
    smallest read that tells (it answers 404 until the victim is registered)."""
    try:
        await portal.services.get(
            user.access_token, "victim-support", f"/cases/{case_id}/consent-summary"
        )
    except NotFound:
        return False
    return True


@router.get("")
async def cases(request: Request, user: User = Depends(advocate)) -> Response:
    portal = portal_of(request)
    docs = await portal.services.get(user.access_token, "referral", "/referrals")
    headers = [case_header(portal, d) for d in docs if isinstance(d, dict)]
    known = await asyncio.gather(*(registered(portal, user, h["case_id"]) for h in headers))
    rows = [{**h, "registered": k} for h, k in zip(headers, known, strict=True)]
    return render(
        request,
        "advocate/cases.html",
        {
            "rows": rows,
            "overdue_count": sum(1 for r in rows if r["overdue"]),
            "flash": await pop_flash(portal, user),
        },
    )


# --- a case as a task list -----------------------------------------------------------------


def tasks(
    case_id: str,
    victim: dict[str, Any] | None,
    consents: list[dict[str, Any]],
    flags: dict[str, Any] | None,
    plan: dict[str, Any] | None,
    invitations: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    base = f"/victims/{case_id}"
    ready = victim is not None
    active = [c for c in consents if c.get("status") == "active"]
    raised = (flags or {}).get("flags") or []
    plan_exists = bool(plan and plan.get("exists"))
    review = (plan or {}).get("review_date")
    review_overdue = plan_exists and bool(review) and str(review)[:10] < today().isoformat()

    def task(
        name: str, href: str, status: str, tag: str | None = None, hint: str = "", link: bool = True
    ) -> dict[str, Any]:
        return {
            "name": name,
            "href": href,
            "status": status,
            "tag": tag,
            "hint": hint,
            "link": link,
        }

    cannot = "Cannot start yet"
    return [
        task(
            "Register the victim",
            f"{base}/victim" if ready else f"{base}/victim/new",
            "Completed" if ready else "Not yet started",
            None if ready else "govuk-tag--blue",
            "Identity, contact and confidential location details",
        ),
        task(
            "Record consent",
            f"{base}/consents",
            (f"{len(active)} active" if active else "Not yet started") if ready else cannot,
            None if active or not ready else "govuk-tag--blue",
            "Taking part, sharing information, sharing the outcome",
            ready,
        ),
        task(
            "Safety flags",
            f"{base}/safety-flags",
            (f"{len(raised)} raised" if raised else "None raised") if ready else cannot,
            "govuk-tag--red" if raised and ready else None,
            "Risks other agencies may need to know about",
            ready,
        ),
        task(
            "Safety plan",
            f"{base}/safety-plan",
            (
                "Review overdue"
                if review_overdue
                else "Completed"
                if plan_exists
                else "Not yet started"
            )
            if ready
            else cannot,
            "govuk-tag--red"
            if review_overdue
            else None
            if plan_exists or not ready
            else "govuk-tag--blue",
            f"Review by {long_date(review)}"
            if plan_exists and review
            else "Content and review date",
            ready,
        ),
        task(
            "Who accessed this victim's data",
            f"{base}/access-log",
            "View" if ready else cannot,
            None,
            "Every agency that read the victim's information, and why",
            ready,
        ),
        task(
            "Invite the victim to see their case",
            f"{base}/invitations",
            invitation_task_status(invitations or []) if ready else cannot,
            None if invitations or not ready else "govuk-tag--blue",
            "A one-time code, given in person, for their own view on their phone",
            ready,
        ),
    ]


@router.get("/{case_id}")
async def case_page(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    token = user.access_token
    doc, victim, consents, flags, plan, invites = await asyncio.gather(
        referral(portal, user, case_id),
        victim_record(portal, user, case_id),
        consents_of(portal, user, case_id),
        optional(portal.services.get(token, "victim-support", f"/cases/{case_id}/safety-flags")),
        optional(portal.services.get(token, "victim-support", f"/cases/{case_id}/safety-plan")),
        invitations_of(portal, user, case_id),
    )
    header = case_header(portal, doc)
    return render(
        request,
        "advocate/case.html",
        page_context(
            header,
            tasks=tasks(header["case_id"], victim, consents, flags, plan, invites),
            flash=await pop_flash(portal, user),
        ),
    )


# --- victim record -------------------------------------------------------------------------


def victim_view(portal: Portal, doc: dict[str, Any]) -> dict[str, Any]:
    classes = portal.field_classes.get("victim_record", {})

    def field(key: str, fmt: Any = None) -> dict[str, Any]:
        if key not in doc:
            return {"withheld": True, "reason": words.withheld_reason(classes.get(key, ""))}
        value = doc[key]
        return {"withheld": False, "value": fmt(value) if fmt and value is not None else value}

    def method(value: Any) -> str:
        return words.CONTACT_METHODS.get(str(value), str(value))

    def yes_no(value: Any) -> str:
        return "Yes" if value else "No"

    def children(value: Any) -> str:
        if not value:
            return "None recorded"
        return "; ".join(
            f"Aged {c.get('age')}" + (f": {c['needs']}" if c.get("needs") else "")
            for c in value
            if isinstance(c, dict)
        )

    return {
        "identity": [
            ("Full name", field("name")),
            ("Date of birth", field("date_of_birth", long_date)),
            ("Preferred contact method", field("preferred_contact_method", method)),
            ("Language", field("language")),
            ("Needs an interpreter", field("interpreter_needed", yes_no)),
            ("Children", field("children", children)),
        ],
        "location": [
            ("Address", field("address")),
            ("Safe contact number", field("safe_contact_number")),
            ("Safe way to contact them", field("safe_contact_method", method)),
            ("In a refuge", field("refuge", yes_no)),
        ],
    }


@router.get("/{case_id}/victim")
async def victim_page(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    doc, victim = await asyncio.gather(
        referral(portal, user, case_id), victim_record(portal, user, case_id)
    )
    if victim is None:
        return RedirectResponse(f"/victims/{case_id}/victim/new", status_code=303)
    return render(
        request,
        "advocate/victim.html",
        page_context(case_header(portal, doc), view=victim_view(portal, victim)),
    )


def victim_form_context(
    header: dict[str, Any], values: dict[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    return page_context(
        header,
        values=values,
        errors=errors,
        error_list=summary(
            errors, {"date_of_birth": "date_of_birth-day", "children": "child-1-age"}
        ),
        methods=list(words.CONTACT_METHODS.items()),
        yes_no=YES_NO,
        child_slots=range(1, MAX_CHILDREN + 1),
    )


def parse_victim(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    name = values.get("name", "")
    if not name:
        errors["name"] = "Enter the victim's full name"
    elif len(name) > 200:
        errors["name"] = "The name must be 200 characters or fewer"
    dob: date | None = None
    if any(values.get(f"date_of_birth-{p}") for p in ("day", "month", "year")):
        dob, message = read_date(values, "date_of_birth", "the date of birth")
        if message:
            errors["date_of_birth"] = message
        elif dob is not None and (dob > today() or dob.year < 1900):
            errors["date_of_birth"] = "The date of birth must be a real date in the past"
    address = values.get("address", "")
    if len(address) > 500:
        errors["address"] = "The address must be 500 characters or fewer"
    number = values.get("safe_contact_number", "")
    if number and not (
        3 <= len(number) <= 40
        and (number[0].isdigit() or (number[0] == "+" and number[1:2].isdigit()))
        and all(ch.isdigit() or ch in " ()-" for ch in number[1:])
    ):
        errors["safe_contact_number"] = (
            "Enter a phone number using only numbers, spaces, brackets and dashes, "
            "like 07700 900123"
        )
    if values.get("refuge") not in ("yes", "no"):
        errors["refuge"] = "Select yes if the victim is in a refuge"
    if values.get("preferred_contact_method") not in words.CONTACT_METHODS:
        errors["preferred_contact_method"] = "Select how the victim prefers to be contacted"
    safe_method = values.get("safe_contact_method", "")
    if safe_method and safe_method not in words.CONTACT_METHODS:
        errors["safe_contact_method"] = "Select a safe way to contact the victim"
    language = values.get("language", "") or "English"
    if not 2 <= len(language) <= 35:
        errors["language"] = "Enter the language in 2 to 35 characters"
    if values.get("interpreter_needed") not in ("yes", "no"):
        errors["interpreter_needed"] = "Select yes if the victim needs an interpreter"
    children = []
    for i in range(1, MAX_CHILDREN + 1):
        age, needs = values.get(f"child-{i}-age", ""), values.get(f"child-{i}-needs", "")
        if not age and not needs:
            continue
        if not age.isdigit() or int(age) > 17:
            errors.setdefault("children", f"Enter child {i}'s age as a number from 0 to 17")
            continue
        if len(needs) > 1000:
            errors.setdefault("children", f"Child {i}'s needs must be 1000 characters or fewer")
            continue
        # An empty string, not null: victim services' domain refuses a null `needs`.
        children.append({"age": int(age), "needs": needs})
    body = {
        "name": name,
        "date_of_birth": dob.isoformat() if dob else None,
        "address": address or None,
        "safe_contact_number": number or None,
        "refuge": values.get("refuge") == "yes",
        "preferred_contact_method": values.get("preferred_contact_method"),
        "safe_contact_method": safe_method or None,
        "language": language,
        "interpreter_needed": values.get("interpreter_needed") == "yes",
        "children": children,
    }
    return body, errors


VICTIM_API_FIELDS = {
    "name": "name",
    "date_of_birth": "date_of_birth",
    "address": "address",
    "safe_contact_number": "safe_contact_number",
    "refuge": "refuge",
    "preferred_contact_method": "preferred_contact_method",
    "safe_contact_method": "safe_contact_method",
    "language": "language",
    "interpreter_needed": "interpreter_needed",
    "children": "children",
}


def invalid_fields(exc: Invalid, known: dict[str, str], fallback: str) -> dict[str, str]:
    """Form errors from a 422: schema errors name fields in `errors`, domain refusals in the
    problem's `field` extension (like `children[0].age`)."""
    paths = [e.field for e in exc.errors] + [str(exc.extensions.get("field") or "")]
    errors: dict[str, str] = {}
    for path in filter(None, paths):
        field_id = known.get(re.split(r"[.\[]", path, maxsplit=1)[0], fallback)
        # The service's own message is developer wording; the page names the answer instead.
        errors.setdefault(field_id, "Check this answer: victim services did not accept it")
    return errors or {fallback: "Check your answers: victim services did not accept them"}


@router.get("/{case_id}/victim/new")
async def register_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    doc, victim = await asyncio.gather(
        referral(portal, user, case_id), victim_record(portal, user, case_id)
    )
    if victim is not None:
        return RedirectResponse(f"/victims/{case_id}/victim", status_code=303)
    header = case_header(portal, doc)
    values = {"name": str(doc.get("victim_name") or ""), "language": "English"}
    return render(request, "advocate/register.html", victim_form_context(header, values, {}))


@router.post("/{case_id}/victim/new")
async def register(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    body, errors = parse_victim(values)
    if not errors:
        try:
            await portal.services.post(
                user.access_token, "victim-support", f"/cases/{case_id}/victim", json=body
            )
        except Invalid as exc:
            errors = invalid_fields(exc, VICTIM_API_FIELDS, "name")
        else:
            await set_flash(portal, user, "Victim registered")
            return RedirectResponse(f"/victims/{case_id}", status_code=303)
    header = case_header(portal, await referral(portal, user, case_id))
    return render(
        request, "advocate/register.html", victim_form_context(header, values, errors), 400
    )


# --- consents ------------------------------------------------------------------------------


def _key(code: str) -> str:
    return code.replace(".", "_")


def provision_count(values: dict[str, str]) -> int:
    raw = values.get("provisions", "1")
    return max(1, min(MAX_PROVISIONS, int(raw))) if raw.isdigit() else 1


def parse_consent(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The request body for victim services' POST /cases/{id}/consents, and the errors by the
    form's field ids (in form order)."""
    errors: dict[str, str] = {}
    scope = values.get("scope", "")
    if scope not in words.CONSENT_SCOPES:
        errors["scope"] = "Select what the victim is consenting to"
    provisions = []
    for i in range(1, provision_count(values) + 1):
        p = f"p{i}"
        kind = values.get(f"{p}_type", "")
        if kind not in words.PROVISION_TYPES:
            errors[f"{p}_type"] = f"Select whether provision {i} allows or refuses sharing"
        agency = values.get(f"{p}_agency", "")
        if agency not in words.CONSENT_AGENCIES:
            errors[f"{p}_agency"] = f"Select the agency for provision {i}"
        purposes = [x for x in words.CONSENT_PURPOSES if values.get(f"{p}_purpose_{x}") == "yes"]
        if not purposes:
            errors[f"{p}_purpose"] = f"Select at least one purpose for provision {i}"
        classes = [c for c in words.CONSENT_CLASSES if values.get(f"{p}_class_{_key(c)}") == "yes"]
        if scope == "share" and not classes:
            errors[f"{p}_class"] = f"Select what may be shared under provision {i}"
        start, message = read_date(values, f"{p}_start", f"the start date of provision {i}")
        if message:
            errors[f"{p}_start"] = message
        elif start is not None and start < today():
            errors[f"{p}_start"] = f"The start date of provision {i} must be today or later"
        end, message = read_date(values, f"{p}_end", f"the end date of provision {i}")
        if message:
            errors[f"{p}_end"] = message
        elif end is not None and end < today():
            errors[f"{p}_end"] = f"The end date of provision {i} must be today or later"
        elif end is not None and start is not None and end < start:
            errors[f"{p}_end"] = f"The end date of provision {i} must be on or after its start date"
        provisions.append(
            {
                "type": kind,
                "agency": agency,
                "purposes": purposes,
                "data_classes": classes,
                # A provision runs from the start of its first day to the end of its last.
                "start": datetime.combine(start, time.min, UTC).isoformat() if start else None,
                "end": datetime.combine(end + timedelta(days=1), time.min, UTC).isoformat()
                if end
                else None,
            }
        )
    lawful_basis = values.get("lawful_basis", "")
    if lawful_basis not in words.LAWFUL_BASES:
        errors["lawful_basis"] = "Select the lawful basis for recording this"
    if values.get("seen_alone") != "yes":
        errors["seen_alone"] = "Confirm that you saw the victim alone when they gave this consent"
    body = {
        "scope": scope,
        "seen_alone": values.get("seen_alone") == "yes",
        "provisions": provisions,
        "lawful_basis": lawful_basis,
    }
    return body, errors


def consent_error_links(errors: dict[str, str]) -> list[dict[str, str]]:
    first = {}
    for name in errors:
        if name.endswith(("_start", "_end")):
            first[name] = f"{name}-day"
        elif name.endswith("_purpose"):
            first[name] = f"{name}_{words.CONSENT_PURPOSES[0]}"
        elif name.endswith("_class"):
            first[name] = f"{name}_{_key(next(iter(words.CONSENT_CLASSES)))}"
    return summary(errors, first)


def consent_form_context(
    header: dict[str, Any], values: dict[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    count = provision_count(values)
    values = {**values, "provisions": str(count)}
    return page_context(
        header,
        values=values,
        errors=errors,
        error_list=consent_error_links(errors),
        scopes=[(k, v, words.CONSENT_SCOPE_HINTS[k]) for k, v in words.CONSENT_SCOPES.items()],
        provision_numbers=range(1, count + 1),
        can_add=count < MAX_PROVISIONS,
        types=list(words.PROVISION_TYPES.items()),
        agencies=list(words.CONSENT_AGENCIES.items()),
        purposes=[(x, words.PURPOSES[x]) for x in words.CONSENT_PURPOSES],
        classes=[(_key(c), text) for c, text in words.CONSENT_CLASSES.items()],
        lawful_bases=list(words.LAWFUL_BASES.items()),
    )


def provision_words(p: dict[str, Any]) -> dict[str, str]:
    end = str(p.get("end") or "")
    try:
        # Stored as the moment after the last day, so the page names the last day itself.
        last = (datetime.fromisoformat(end.replace("Z", "+00:00")) - timedelta(seconds=1)).date()
        until = long_date(last.isoformat())
    except ValueError:
        until = long_date(end)
    classes = [
        words.CONSENT_CLASSES.get(c, words.DATA_CLASSES.get(c, c))
        for c in p.get("data_classes") or []
    ]
    return {
        "type": words.PROVISION_TYPES.get(str(p.get("type")), str(p.get("type"))),
        "agency": words.AGENCIES.get(str(p.get("agency")), str(p.get("agency"))),
        "purposes": ", ".join(words.PURPOSES.get(x, x) for x in p.get("purposes") or []),
        "what": "; ".join(classes) if classes else "No information: taking part only",
        "period": f"{long_date(str(p.get('start') or '')[:10])} to {until}",
    }


def consent_row(doc: dict[str, Any]) -> dict[str, Any]:
    status = str(doc.get("status", ""))
    history = [h for h in doc.get("history") or [] if isinstance(h, dict)]
    given = next((h.get("at") for h in history if h.get("action") == "granted"), None)
    return {
        "consent_id": str(doc.get("consent_id", "")),
        "scope": words.CONSENT_SCOPES.get(str(doc.get("scope")), "Withheld"),
        "scope_code": str(doc.get("scope", "")),
        "status_code": status,
        "status": words.CONSENT_STATUS.get(status, status.capitalize() or "Withheld"),
        "status_tag": words.CONSENT_STATUS_TAG.get(status, "govuk-tag--grey"),
        "provisions": [
            provision_words(p) for p in doc.get("provisions") or [] if isinstance(p, dict)
        ],
        "lawful_basis": words.LAWFUL_BASES.get(str(doc.get("lawful_basis")), "Not given"),
        "seen_alone": "Yes" if doc.get("seen_alone") else "No",
        "given": long_date(given) if given else "",
        "history": [
            {
                "what": words.CONSENT_HISTORY.get(str(h.get("action")), str(h.get("action"))),
                "at": long_date(h.get("at")),
            }
            for h in history
        ],
    }


@router.get("/{case_id}/consents")
async def consents_page(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    doc, victim, consents = await asyncio.gather(
        referral(portal, user, case_id),
        victim_record(portal, user, case_id),
        consents_of(portal, user, case_id),
    )
    rows = [consent_row(c) for c in consents]
    # Active first; within each, the order victim services gave (oldest first).
    rows.sort(key=lambda r: r["status_code"] != "active")
    return render(
        request,
        "advocate/consents.html",
        page_context(
            case_header(portal, doc),
            registered=victim is not None,
            rows=rows,
            flash=await pop_flash(portal, user),
        ),
    )


@router.get("/{case_id}/consents/new")
async def consent_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    doc, victim = await asyncio.gather(
        referral(portal, user, case_id), victim_record(portal, user, case_id)
    )
    if victim is None:
        return RedirectResponse(f"/victims/{case_id}/victim/new", status_code=303)
    values = {
        "provisions": "1",
        "p1_type": "permit",
        "lawful_basis": "consent",
        **date_values("p1_start", today()),
    }
    return render(
        request,
        "advocate/consent_new.html",
        consent_form_context(case_header(portal, doc), values, {}),
    )


def with_new_provision(values: dict[str, str]) -> dict[str, str]:
    count = provision_count(values)
    if count >= MAX_PROVISIONS:
        return values
    n = count + 1
    return {
        **values,
        "provisions": str(n),
        f"p{n}_type": "permit",
        **date_values(f"p{n}_start", today()),
    }


@router.post("/{case_id}/consents/new")
async def consent_check(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    action = values.pop("action", "")
    header = case_header(portal, await referral(portal, user, case_id))
    if action == "add":
        values = with_new_provision(values)
        return render(
            request, "advocate/consent_new.html", consent_form_context(header, values, {})
        )
    body, errors = parse_consent(values)
    if errors:
        return render(
            request, "advocate/consent_new.html", consent_form_context(header, values, errors), 400
        )
    return render(
        request,
        "advocate/consent_check.html",
        page_context(header, values=values, check=check_rows(body)),
    )


def check_rows(body: dict[str, Any]) -> list[dict[str, str]]:
    rows = [
        {
            "key": "What the victim consents to",
            "value": words.CONSENT_SCOPES[body["scope"]],
            "field": "scope",
        }
    ]
    for i, p in enumerate(body["provisions"], start=1):
        w = provision_words(p)
        rows.append(
            {
                "key": f"Provision {i}",
                "value": f"{w['type']}: {w['agency']}. Information: {w['what']}. "
                f"For: {w['purposes']}. From {w['period']}.",
                "field": f"p{i}_agency",
            }
        )
    rows.append(
        {
            "key": "Lawful basis",
            "value": words.LAWFUL_BASES[body["lawful_basis"]],
            "field": "lawful_basis",
        }
    )
    rows.append(
        {"key": "Seen alone", "value": "Yes, I saw the victim alone", "field": "seen_alone"}
    )
    return rows


@router.post("/{case_id}/consents/new/edit")
async def consent_edit(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    header = case_header(portal, await referral(portal, user, case_id))
    return render(request, "advocate/consent_new.html", consent_form_context(header, values, {}))


@router.post("/{case_id}/consents/new/submit")
async def consent_submit(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    # The hidden fields came back from the browser: checked again, never trusted.
    body, errors = parse_consent(values)
    if not errors:
        try:
            created = await portal.services.post(
                user.access_token, "victim-support", f"/cases/{case_id}/consents", json=body
            )
        except Invalid as exc:
            errors = invalid_fields(
                exc,
                {"scope": "scope", "seen_alone": "seen_alone", "lawful_basis": "lawful_basis"},
                "p1_agency",
            )
        else:
            return RedirectResponse(
                f"/victims/{case_id}/consents/{created['consent_id']}/recorded", status_code=303
            )
    header = case_header(portal, await referral(portal, user, case_id))
    return render(
        request, "advocate/consent_new.html", consent_form_context(header, values, errors), 400
    )


async def find_consent(
    portal: Portal, user: User, case_id: uuid.UUID, consent_id: uuid.UUID
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case's referral document and one of its consents; a consent of another case (or
    none) is not found, so a consent id never works through another case's pages."""
    doc, consents = await asyncio.gather(
        referral(portal, user, case_id), consents_of(portal, user, case_id)
    )
    found = next((c for c in consents if c.get("consent_id") == str(consent_id)), None)
    if found is None:
        raise NotFound(404, "not_found")
    return doc, found


@router.get("/{case_id}/consents/{consent_id}/recorded")
async def consent_recorded(
    request: Request, case_id: uuid.UUID, consent_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    doc, consent = await find_consent(portal, user, case_id, consent_id)
    return render(
        request,
        "advocate/consent_recorded.html",
        page_context(case_header(portal, doc), consent=consent_row(consent)),
    )


@router.get("/{case_id}/consents/{consent_id}/withdraw")
async def withdraw_confirm(
    request: Request, case_id: uuid.UUID, consent_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    doc, consent = await find_consent(portal, user, case_id, consent_id)
    return render(
        request,
        "advocate/consent_withdraw.html",
        page_context(case_header(portal, doc), consent=consent_row(consent), values={}),
    )


@router.post("/{case_id}/consents/{consent_id}/withdraw")
async def withdraw(
    request: Request, case_id: uuid.UUID, consent_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    doc, consent = await find_consent(portal, user, case_id, consent_id)
    reason = values.get("reason", "")
    if len(reason) > 2000:
        errors = {"reason": "The reason must be 2000 characters or fewer"}
        return render(
            request,
            "advocate/consent_withdraw.html",
            page_context(
                case_header(portal, doc),
                consent=consent_row(consent),
                values=values,
                errors=errors,
                error_list=summary(errors),
            ),
            400,
        )
    await portal.services.post(
        user.access_token,
        "victim-support",
        f"/consents/{consent_id}/withdrawal",
        json={"reason": reason or None},
    )
    await set_flash(portal, user, WITHDRAWN_BANNER)
    return RedirectResponse(f"/victims/{case_id}/consents", status_code=303)


# --- safety flags --------------------------------------------------------------------------


def flag_rows(doc: dict[str, Any] | None) -> list[dict[str, str]]:
    return [
        {
            "code": str(f.get("code")),
            "what": words.SAFETY_FLAGS.get(str(f.get("code")), str(f.get("code"))),
            "severity": words.SEVERITIES.get(str(f.get("severity")), str(f.get("severity"))),
            "raised": long_date(f.get("raised_at")),
        }
        for f in (doc or {}).get("flags") or []
        if isinstance(f, dict)
    ]


async def flags_context(
    portal: Portal, user: User, case_id: uuid.UUID, values: dict[str, str], errors: dict[str, str]
) -> dict[str, Any] | None:
    doc, victim, flags = await asyncio.gather(
        referral(portal, user, case_id),
        victim_record(portal, user, case_id),
        optional(
            portal.services.get(
                user.access_token, "victim-support", f"/cases/{case_id}/safety-flags"
            )
        ),
    )
    if victim is None:
        return None
    return page_context(
        case_header(portal, doc),
        rows=flag_rows(flags),
        values={**values, "expected_version": str(victim.get("version", ""))},
        errors=errors,
        error_list=summary(errors),
        codes=list(words.SAFETY_FLAGS.items()),
        severities=list(words.SEVERITIES.items()),
        flash=await pop_flash(portal, user),
    )


@router.get("/{case_id}/safety-flags")
async def flags_page(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    context = await flags_context(portal_of(request), user, case_id, {}, {})
    if context is None:
        return RedirectResponse(f"/victims/{case_id}/victim/new", status_code=303)
    return render(request, "advocate/flags.html", context)


def version_of(values: dict[str, str]) -> dict[str, int]:
    raw = values.get("expected_version", "")
    return {"expected_version": int(raw)} if raw.isdigit() and int(raw) >= 1 else {}


@router.post("/{case_id}/safety-flags")
async def raise_flag(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    if values.get("code") not in words.SAFETY_FLAGS:
        errors["code"] = "Select the safety flag to raise"
    if values.get("severity") not in words.SEVERITIES:
        errors["severity"] = "Select how severe the risk is"
    if not errors:
        try:
            await portal.services.post(
                user.access_token,
                "victim-support",
                f"/cases/{case_id}/safety-flags",
                json={"code": values["code"], "severity": values["severity"], **version_of(values)},
            )
        except Invalid:
            errors = {"code": "Check this answer: victim services did not accept it"}
        else:
            await set_flash(portal, user, "Safety flag raised")
            return RedirectResponse(f"/victims/{case_id}/safety-flags", status_code=303)
    context = await flags_context(portal, user, case_id, values, errors)
    if context is None:
        return RedirectResponse(f"/victims/{case_id}/victim/new", status_code=303)
    return render(request, "advocate/flags.html", context, 400)


async def clear_context(
    portal: Portal,
    user: User,
    case_id: uuid.UUID,
    code: str,
    values: dict[str, str],
    errors: dict[str, str],
) -> dict[str, Any]:
    context = await flags_context(portal, user, case_id, values, errors)
    flag = next((f for f in (context or {}).get("rows", []) if f["code"] == code), None)
    if context is None or flag is None:
        raise NotFound(404, "not_found")
    return {**context, "flag": flag}


@router.get("/{case_id}/safety-flags/{code}/clear")
async def clear_form(
    request: Request, case_id: uuid.UUID, code: str, user: User = Depends(advocate)
) -> Response:
    if code not in words.SAFETY_FLAGS:
        raise NotFound(404, "not_found")
    context = await clear_context(portal_of(request), user, case_id, code, {}, {})
    return render(request, "advocate/flag_clear.html", context)


@router.post("/{case_id}/safety-flags/{code}/clear")
async def clear_flag(
    request: Request, case_id: uuid.UUID, code: str, user: User = Depends(advocate)
) -> Response:
    if code not in words.SAFETY_FLAGS:
        raise NotFound(404, "not_found")
    portal = portal_of(request)
    values = form_values(await request.form())
    reason = values.get("reason", "")
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Enter why the flag is being cleared"
    elif len(reason) > 2000:
        errors["reason"] = "The reason must be 2000 characters or fewer"
    if not errors:
        await portal.services.post(
            user.access_token,
            "victim-support",
            f"/cases/{case_id}/safety-flags/{code}/clearance",
            json={"reason": reason, **version_of(values)},
        )
        await set_flash(portal, user, "Safety flag cleared")
        return RedirectResponse(f"/victims/{case_id}/safety-flags", status_code=303)
    context = await clear_context(portal, user, case_id, code, values, errors)
    return render(request, "advocate/flag_clear.html", context, 400)


# --- safety plan ---------------------------------------------------------------------------


async def plan_context(
    portal: Portal,
    user: User,
    case_id: uuid.UUID,
    values: dict[str, str] | None,
    errors: dict[str, str],
) -> dict[str, Any] | None:
    doc, victim, plan = await asyncio.gather(
        referral(portal, user, case_id),
        victim_record(portal, user, case_id),
        optional(
            portal.services.get(
                user.access_token, "victim-support", f"/cases/{case_id}/safety-plan"
            )
        ),
    )
    if victim is None:
        return None
    plan = plan or {}
    exists = bool(plan.get("exists"))
    review = str(plan.get("review_date") or "")
    if values is None:
        values = {"content": str(plan.get("content") or "")}
        if review:
            with contextlib.suppress(ValueError):
                values.update(date_values("review_date", date.fromisoformat(review[:10])))
    return page_context(
        case_header(portal, doc),
        plan={
            "exists": exists,
            "review": long_date(review) if review else "",
            "review_overdue": exists and bool(review) and review[:10] < today().isoformat(),
            "content_withheld": exists and "content" not in plan,
            "content": plan.get("content") or "",
        },
        values={**values, "expected_version": str(victim.get("version", ""))},
        errors=errors,
        error_list=summary(errors, {"review_date": "review_date-day"}),
        flash=await pop_flash(portal, user),
    )


@router.get("/{case_id}/safety-plan")
async def plan_page(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    context = await plan_context(portal_of(request), user, case_id, None, {})
    if context is None:
        return RedirectResponse(f"/victims/{case_id}/victim/new", status_code=303)
    return render(request, "advocate/plan.html", context)


@router.post("/{case_id}/safety-plan")
async def record_plan(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    content = values.get("content", "")
    if not content:
        errors["content"] = "Enter the safety plan"
    elif len(content) > 8000:
        errors["content"] = "The safety plan must be 8000 characters or fewer"
    review, message = read_date(values, "review_date", "the review date")
    if message:
        errors["review_date"] = message
    elif review is not None and review < today():
        errors["review_date"] = "The review date must be today or in the future"
    if not errors and review is not None:
        try:
            await portal.services.request(
                user.access_token,
                "victim-support",
                "PUT",
                f"/cases/{case_id}/safety-plan",
                json={"content": content, "review_date": review.isoformat(), **version_of(values)},
            )
        except Invalid:
            errors = {"content": "Check this answer: victim services did not accept it"}
        else:
            await set_flash(portal, user, "Safety plan saved")
            return RedirectResponse(f"/victims/{case_id}/safety-plan", status_code=303)
    context = await plan_context(portal, user, case_id, values, errors)
    if context is None:
        return RedirectResponse(f"/victims/{case_id}/victim/new", status_code=303)
    return render(request, "advocate/plan.html", context, 400)


# --- who accessed this victim's data -------------------------------------------------------


def access_rows(portal: Portal, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per day, organisation, role, purpose, what and result, latest read first:
    the same page read ten times in a morning is one row saying ten times."""
    counted: Counter[tuple[str, str, str, str, str, str, str, bool]] = Counter()
    latest: dict[tuple[str, str, str, str, str, str, str, bool], str] = {}
    for e in entries:
        key = (
            str(e.get("at", ""))[:10],
            str(e.get("agency", "")),
            str(e.get("org", "")),
            str(e.get("role", "")),
            str(e.get("purpose", "")),
            str(e.get("resource_type", "")),
            str(e.get("decision", "")),
            bool(e.get("break_glass")),
        )
        counted[key] += 1
        latest[key] = max(latest.get(key, ""), str(e.get("at", "")))
    rows = []
    for (day, agency, org, role, purpose, resource, decision, glass), times in sorted(
        counted.items(), key=lambda kv: latest[kv[0]], reverse=True
    ):
        rows.append(
            {
                "date": long_date(day),
                "agency": words.AGENCIES.get(agency, agency.replace("_", " ").capitalize()),
                "organisation": portal.org_name(org) if org else "",
                "role": words.ROLES.get(role, role.replace("_", " ").capitalize()),
                "purpose": words.PURPOSES.get(purpose, purpose.replace("_", " ").capitalize()),
                "what": words.RESOURCE_TYPES.get(resource, resource.replace("_", " ").capitalize()),
                "result": words.ACCESS_DECISIONS.get(decision, decision.capitalize()),
                "emergency": glass,
                "times": times,
            }
        )
    return rows


@router.get("/{case_id}/access-log")
async def access_log(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    doc, entries = await asyncio.gather(
        referral(portal, user, case_id),
        optional(portal.services.get(user.access_token, "audit", f"/victims/{case_id}/access-log")),
    )
    rows = access_rows(portal, [e for e in entries or [] if isinstance(e, dict)])
    return render(
        request,
        "advocate/access_log.html",
        page_context(case_header(portal, doc), rows=rows),
    )


# --- invitations to the victim view (issue 17) ---------------------------------------------
REVOKED_BANNER = "Access ended - the code and the victim's account stop working at once"
# The victim's start page, said to the victim with the code (never sent in a message).
VICTIM_START = "/your-case/start"


async def invitations_of(portal: Portal, user: User, case_id: uuid.UUID) -> list[dict[str, Any]]:
    docs = await optional(
        portal.services.get(user.access_token, "victim-support", f"/cases/{case_id}/invitations")
    )
    return [d for d in docs or [] if isinstance(d, dict)]


def invitation_task_status(invitations: list[dict[str, Any]]) -> str:
    statuses = {str(i.get("status")) for i in invitations}
    if any(i.get("account_linked") and i.get("status") == "redeemed" for i in invitations):
        return "Victim has access"
    if "pending" in statuses:
        return "Code given, not used yet"
    return "Access ended" if "revoked" in statuses else "Not yet started"


def invitation_row(doc: dict[str, Any]) -> dict[str, Any]:
    status = str(doc.get("status", ""))
    return {
        "invitation_id": str(doc.get("invitation_id", "")),
        "status": words.INVITATION_STATUS.get(status, status.capitalize()),
        "status_tag": words.INVITATION_STATUS_TAG.get(status, "govuk-tag--grey"),
        "created": long_date(doc.get("created_at")),
        "expires": long_date(doc.get("expires_at")) if status == "pending" else "",
        "used": long_date(doc.get("redeemed_at")) if doc.get("redeemed_at") else "",
        "account": "Yes" if doc.get("account_linked") else "No",
        "can_revoke": status in ("pending", "redeemed"),
    }


@router.get("/{case_id}/invitations")
async def invitations_page(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    doc, victim, invites = await asyncio.gather(
        referral(portal, user, case_id),
        victim_record(portal, user, case_id),
        invitations_of(portal, user, case_id),
    )
    return render(
        request,
        "advocate/invitations.html",
        page_context(
            case_header(portal, doc),
            registered=victim is not None,
            rows=[invitation_row(i) for i in reversed(invites)],
            flash=await pop_flash(portal, user),
        ),
    )


@router.post("/{case_id}/invitations")
async def create_invitation(
    request: Request, case_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    """Shows the code once, in this response only: it is in no URL, no session and no log,
    and the page is never cached (Cache-Control: no-store on every page)."""
    portal = portal_of(request)
    doc = await referral(portal, user, case_id)
    created = await portal.services.post(
        user.access_token, "victim-support", f"/cases/{case_id}/invitations", json={}
    )
    return render(
        request,
        "advocate/invitation_code.html",
        page_context(
            case_header(portal, doc),
            code=str(created.get("code", "")),
            expires=long_date(created.get("expires_at")),
            start_url=portal.settings.public_url.rstrip("/") + VICTIM_START,
        ),
        201,
    )


async def find_invitation(
    portal: Portal, user: User, case_id: uuid.UUID, invitation_id: uuid.UUID
) -> tuple[dict[str, Any], dict[str, Any]]:
    doc, invites = await asyncio.gather(
        referral(portal, user, case_id), invitations_of(portal, user, case_id)
    )
    found = next((i for i in invites if i.get("invitation_id") == str(invitation_id)), None)
    if found is None:
        raise NotFound(404, "not_found")
    return doc, found


@router.get("/{case_id}/invitations/{invitation_id}/revoke")
async def revoke_confirm(
    request: Request, case_id: uuid.UUID, invitation_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    doc, found = await find_invitation(portal, user, case_id, invitation_id)
    return render(
        request,
        "advocate/invitation_revoke.html",
        page_context(case_header(portal, doc), invitation=invitation_row(found)),
    )


@router.post("/{case_id}/invitations/{invitation_id}/revoke")
async def revoke(
    request: Request, case_id: uuid.UUID, invitation_id: uuid.UUID, user: User = Depends(advocate)
) -> Response:
    portal = portal_of(request)
    await find_invitation(portal, user, case_id, invitation_id)
    await portal.services.post(
        user.access_token, "victim-support", f"/invitations/{invitation_id}/revocation", json={}
    )
    await set_flash(portal, user, REVOKED_BANNER)
    return RedirectResponse(f"/victims/{case_id}/invitations", status_code=303)
