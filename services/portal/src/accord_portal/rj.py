"""RJ provider's screens (SPEC section 7): the intake queue with accept and decline, the
facilitators and their endorsements, the RJ cases, and one case's page with assignment,
preparation, the gate as a checklist, scheduling, the conference, the outcome agreement,
monitoring and stopping.

Everything shown comes from the conference service, read with the signed-in user's token; the
service asks the policy about every read and every change, so the buttons shown here are a
convenience, never the control. Case pages live under /rj-cases/<id> so that the shared
"changed meanwhile" page links back to the case.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from accord_portal import words
from accord_portal.api_client import Conflict, Invalid, NotFound
from accord_portal.areas import Area, NavItem
from accord_portal.referrals import form_values, long_date, pop_flash, set_flash, summary
from accord_portal.web import Portal, User, portal_of, render, require_area

AREA = Area(
    key="rj",
    roles=frozenset(
        {
            ("rj_provider", "coordinator"),
            ("rj_provider", "facilitator"),
            ("rj_provider", "supervisor"),
        }
    ),
    home="/rj",
    nav=(
        NavItem("Intake", "/intake"),
        NavItem("RJ cases", "/rj-cases"),
        NavItem("Facilitators", "/facilitators"),
    ),
)
router = APIRouter()
rj = require_area(AREA)

MANAGERS = frozenset({"coordinator", "supervisor"})
TERMINAL = frozenset({"completed", "returned", "stopped"})
ELIGIBLE = ("eligible_direct", "eligible_indirect_only")
SHORT_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
CLOCK = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")
# A conference's time is entered and shown in the jurisdiction's own clock.
ZONES = {
    "england-wales": "Europe/London",
    "scotland": "Europe/London",
    "new-zealand": "Pacific/Auckland",
    "nova-scotia": "America/Halifax",
}
EXPIRING_DAYS = 30
AGREEMENT_ROWS = 3
YES_NO = (("yes", "Yes"), ("no", "No"))


# --- small helpers ---------------------------------------------------------------------------


def is_manager(user: User) -> bool:
    return user.role in MANAGERS


def reference(case_id: Any) -> str:
    return str(case_id)[:8].upper()


def zone(jurisdiction: Any) -> ZoneInfo:
    return ZoneInfo(ZONES.get(str(jurisdiction), "UTC"))


def local_moment(value: Any, jurisdiction: Any) -> str:
    """1 October 2026 at 2:05pm, on the jurisdiction's clock."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return long_date(moment.astimezone(zone(jurisdiction)).replace(tzinfo=None).isoformat())


def parse_day(
    values: dict[str, str], name: str, label: str, *, required: bool, not_before: date | None
) -> tuple[date | None, str]:
    """A GOV.UK date input (name-day, name-month, name-year); `not_before` for future dates."""
    parts = [values.get(f"{name}-{p}", "") for p in ("day", "month", "year")]
    if not any(parts):
        return None, (f"Enter {label}" if required else "")
    if not all(parts):
        return None, f"{label[0].upper()}{label[1:]} must include a day, month and year"
    try:
        day, month, year = (int(p) for p in parts)
        value = date(year, month, day)
    except ValueError:
        return None, f"{label[0].upper()}{label[1:]} must be a real date"
    if not_before is not None and value < not_before:
        return None, f"{label[0].upper()}{label[1:]} must be today or in the future"
    if value.year > 2200:
        return None, f"{label[0].upper()}{label[1:]} must be a real date"
    return value, ""


def date_values(name: str, value: Any) -> dict[str, str]:
    """A stored ISO date back into a date input's three fields."""
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return {}
    return {
        f"{name}-day": str(day.day),
        f"{name}-month": str(day.month),
        f"{name}-year": str(day.year),
    }


def version_of(values: dict[str, str]) -> int | None:
    text = values.get("expected_version", "")
    return int(text) if text.isdigit() and int(text) >= 1 else None


def with_version(body: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    version = version_of(values)
    if version is not None:
        body["expected_version"] = version
    return body


def changed_meanwhile(request: Request, case_id: uuid.UUID) -> Response:
    return render(
        request, "errors/conflict.html", {"back": f"/rj-cases/{case_id}"}, status_code=409
    )


def form_page(
    request: Request,
    template: str,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
    first_part: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    return render(
        request,
        template,
        {
            "values": values,
            "errors": errors,
            "error_list": summary(errors, first_part),
            **context,
        },
        status_code=400 if errors and status_code == 200 else status_code,
    )


# --- words for what the API returned -------------------------------------------------------


def band_words(doc: dict[str, Any]) -> str:
    if "risk_band" not in doc:
        return "Withheld"
    band = doc.get("risk_band")
    if not band:
        return "Not assessed yet"
    return words.BANDS.get(str(band), str(band).capitalize())


def intake_row(doc: dict[str, Any]) -> dict[str, Any]:
    status = str(doc.get("status", ""))
    return {
        "case_id": str(doc.get("case_id", "")),
        "reference": reference(doc.get("case_id", "")),
        "status": words.INTAKE_STATUS.get(status, status.replace("_", " ").capitalize()),
        "status_tag": words.INTAKE_STATUS_TAG.get(status, "govuk-tag--grey"),
        "eligible": status in ELIGIBLE,
        "accepted": status == "accepted",
        "risk_band": band_words(doc),
        "jurisdiction": words.JURISDICTIONS.get(str(doc.get("jurisdiction")), "Not known"),
        "received": long_date(str(doc.get("received_at") or "")[:10]),
        "received_at": str(doc.get("received_at") or ""),
        "reassessment_required": bool(doc.get("reassessment_required")),
    }


def intake_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Eligible referrals first (oldest first: they have waited longest), then those waiting
    for the police's decision, then the decided ones, newest first."""
    eligible = sorted((r for r in rows if r["eligible"]), key=lambda r: r["received_at"])
    waiting = sorted(
        (r for r in rows if r["status_tag"] == "govuk-tag--grey" and not r["eligible"]),
        key=lambda r: r["received_at"],
    )
    rest = sorted(
        (r for r in rows if r not in eligible and r not in waiting),
        key=lambda r: r["received_at"],
        reverse=True,
    )
    return eligible + waiting + rest


def facilitator_row(doc: dict[str, Any], today: date) -> dict[str, Any]:
    def day(value: Any) -> date | None:
        try:
            return date.fromisoformat(str(value)[:10]) if value else None
        except ValueError:
            return None

    accredited = day(doc.get("accredited_until"))
    endorsed = day(doc.get("endorsement_expires"))
    endorsement_tag = None
    if endorsed is None:
        endorsement_tag = ("None", "govuk-tag--red")
    elif endorsed < today:
        endorsement_tag = ("Expired", "govuk-tag--red")
    elif not doc.get("endorsement_valid_today", True):
        endorsement_tag = ("Not valid", "govuk-tag--red")
    elif endorsed <= today + timedelta(days=EXPIRING_DAYS):
        endorsement_tag = ("Expires soon", "govuk-tag--yellow")
    accreditation_tag = None
    if accredited is not None and accredited < today:
        accreditation_tag = ("Expired", "govuk-tag--red")
    elif accredited is not None and accredited <= today + timedelta(days=EXPIRING_DAYS):
        accreditation_tag = ("Expires soon", "govuk-tag--yellow")
    return {
        "id": str(doc.get("facilitator_id", "")),
        "name": str(doc.get("name", "")),
        "accreditation_id": str(doc.get("accreditation_id", "")),
        "accredited_until": long_date(doc.get("accredited_until")) or "Not given",
        "accreditation_tag": accreditation_tag,
        "endorsement_expires": long_date(doc.get("endorsement_expires")) or "No endorsement",
        "endorsement_tag": endorsement_tag,
        "valid": bool(doc.get("endorsement_valid_today")),
    }


def gate_checklist(failed: list[str], codes: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """Every condition of a gate with whether it holds; failures the service names that this
    portal does not know are listed too, never dropped."""
    known = list(codes) + [c for c in failed if c not in codes]
    items = []
    for code in known:
        condition, problem = words.GATE_CONDITIONS.get(
            code, (code.replace("_", " ").capitalize(), code.replace("_", " ").capitalize())
        )
        items.append(
            {"code": code, "condition": condition, "met": code not in failed, "problem": problem}
        )
    return items


def gate_view(gate: dict[str, Any]) -> dict[str, Any]:
    direct = [str(c) for c in gate.get("direct") or []]
    indirect = [str(c) for c in gate.get("indirect") or []]
    return {
        "as_of": long_date(gate.get("as_of")),
        "direct": gate_checklist(direct, tuple(words.GATE_CONDITIONS)),
        "indirect": gate_checklist(indirect, words.GATE_INDIRECT),
        "direct_open": not direct,
        "indirect_open": not indirect,
        "direct_failed": [words.GATE_CONDITIONS.get(c, (c, c))[1] for c in direct],
        "indirect_failed": [words.GATE_CONDITIONS.get(c, (c, c))[1] for c in indirect],
    }


def case_view(
    portal: Portal,
    doc: dict[str, Any],
    names: dict[str, str],
    user: User,
    today: date,
) -> dict[str, Any]:
    classes = portal.field_classes.get("rj_case", {})
    jurisdiction = doc.get("jurisdiction")

    def withheld(key: str) -> dict[str, Any]:
        data_class = classes.get(key, "")
        return {"withheld": True, "reason": words.withheld_reason(data_class)}

    def field(key: str, fmt: Any = None) -> dict[str, Any]:
        if key not in doc:
            return withheld(key)
        value = doc[key]
        return {"withheld": False, "value": fmt(value) if fmt else value}

    def person(user_id: Any) -> str:
        if not user_id:
            return "Not assigned"
        if user_id == user.sub:
            return f"{names.get(str(user_id), user.name)} (you)"
        return names.get(str(user_id), "A facilitator of your organisation")

    status = str(doc.get("status", ""))
    assigned = {str(doc.get("facilitator_id") or ""), str(doc.get("co_facilitator_id") or "")}
    can_change = is_manager(user) or user.sub in assigned
    live = status not in TERMINAL and "status" in doc

    preparation = None
    if "preparation" in doc:
        preparation = [
            {
                "who": words.PARTICIPANTS.get(str(p.get("participant")), "A participant"),
                "at": local_moment(p.get("at"), jurisdiction),
                "by": person(p.get("by"))
                if p.get("by") in names or p.get("by") == user.sub
                else "A member of your organisation",
                "seen_alone": _yes_no(p.get("seen_alone")),
                "coercion_screen": {"passed": "Passed", "failed": "Failed"}.get(
                    str(p.get("coercion_screen")), ""
                ),
                "support_persons": ", ".join(str(s) for s in p.get("support_persons") or []),
                "childrens_needs": p.get("childrens_needs") or "",
                "notes": p.get("notes") or "",
            }
            for p in reversed(doc.get("preparation") or [])
            if isinstance(p, dict)
        ]

    compliance = doc.get("compliance") if isinstance(doc.get("compliance"), dict) else None
    statuses = {
        str(i.get("item_id")): i
        for i in (compliance or {}).get("items") or []
        if isinstance(i, dict)
    }
    overdue = set((compliance or {}).get("overdue") or [])
    items = []
    for item in doc.get("agreement_items") or []:
        item_id = str(item.get("item_id"))
        state = statuses.get(item_id, {})
        item_status = str(state.get("status", "open"))
        items.append(
            {
                "id": item_id,
                "what": item.get("what", ""),
                "owner": words.ITEM_OWNERS.get(str(item.get("owner")), "Not given"),
                "due": long_date(item.get("due_date")),
                "agency": words.MONITORING_AGENCIES.get(str(item.get("monitoring_agency")), ""),
                "status": words.ITEM_STATUS.get(item_status, item_status),
                "status_tag": words.ITEM_STATUS_TAG.get(item_status, "govuk-tag--grey"),
                "overdue": item_id in overdue,
                "completed_at": long_date(state.get("completed_at")),
                "reportable": can_change
                and status == "monitoring"
                and item_status == "open"
                and item.get("monitoring_agency") == "rj_provider",
            }
        )
    if "agreement_items" not in doc and compliance:
        # Only the compliance status may be read: the items without their text.
        items = [
            {
                "id": item_id,
                "what": None,
                "owner": "",
                "due": long_date(state.get("due_date")),
                "agency": "",
                "status": words.ITEM_STATUS.get(str(state.get("status")), ""),
                "status_tag": words.ITEM_STATUS_TAG.get(str(state.get("status")), ""),
                "overdue": item_id in overdue,
                "completed_at": long_date(state.get("completed_at")),
                "reportable": False,
            }
            for item_id, state in statuses.items()
        ]
    consents = None
    if "agreement_consents" in doc:
        consents = [
            {
                "party": words.PARTIES[party],
                "given": party in (doc.get("agreement_consents") or {}),
                "agrees": _yes_no((doc["agreement_consents"] or {}).get(party, {}).get("agrees")),
                "share": _yes_no(
                    (doc["agreement_consents"] or {}).get(party, {}).get("share_with_court")
                ),
            }
            for party in words.PARTIES
        ]
    returned = (compliance or {}).get("returned_to")
    return {
        "status": words.RJ_STATUS.get(status, status.replace("_", " ").capitalize() or "Withheld"),
        "status_tag": words.RJ_STATUS_TAG.get(status, "govuk-tag--grey"),
        "raw_status": status,
        "summary": [
            ("Status", field("status", lambda s: words.RJ_STATUS.get(s, s))),
            ("Jurisdiction", field("jurisdiction", lambda j: words.JURISDICTIONS.get(j, j))),
            ("Opened", field("opened_at", lambda v: local_moment(v, jurisdiction))),
            ("Risk band", field("risk_band", lambda b: words.BANDS.get(str(b), "Not known"))),
            (
                "Risk reassessment",
                field(
                    "reassessment_required",
                    lambda r: "Needed: a new incident was reported" if r else "Not needed",
                ),
            ),
            (
                "Victim's consent to take part",
                field("participate_consent_active", lambda a: "Active" if a else "Not active"),
            ),
            (
                "Consent of the person who caused harm",
                field("offender_consent", lambda a: "Given" if a else "Not recorded"),
            ),
        ],
        "stop_reason": words.STOP_REASONS.get(str(doc.get("stop_reason")), "")
        if doc.get("stop_reason")
        else "",
        "returned_to": words.MONITORING_AGENCIES.get(str(returned), "") if returned else "",
        "lead": field("facilitator_id", person),
        "co": field("co_facilitator_id", person),
        "conference": {
            "at": field(
                "conference_at", lambda v: local_moment(v, jurisdiction) or "Not scheduled"
            ),
            "modality": field("modality", lambda m: words.MODALITIES.get(str(m), "Not chosen")),
            "notes": field("conference_notes", lambda n: n or ""),
        },
        "preparation": preparation,
        "preparation_withheld": withheld("preparation") if preparation is None else None,
        "agreement_rows": items,
        "agreement_withheld": withheld("agreement_items") if "agreement_items" not in doc else None,
        "compliance_withheld": withheld("compliance") if compliance is None else None,
        "consents": consents,
        "consents_withheld": withheld("agreement_consents") if consents is None else None,
        "can_change": can_change,
        "can_assign": is_manager(user) and live,
        "can_prepare": can_change and status in ("preparing", "scheduled", "suspended"),
        "can_consent": can_change and live,
        "can_schedule": can_change and status in ("preparing", "scheduled"),
        "can_hold": can_change and status == "scheduled",
        "can_draft": can_change and status in ("conference_held", "agreement"),
        "can_record_consent": can_change and status == "agreement",
        "can_stop": can_change and live,
        "assigned_to_me": user.sub in assigned,
        # Once the conference is held the gate has done its work; it is shown until then.
        "show_gate": status in ("open", "preparing", "scheduled", "suspended"),
        "any_overdue": bool(overdue),
        "today": long_date(today.isoformat()),
    }


def _yes_no(value: Any) -> str:
    return "Yes" if value is True else "No" if value is False else "Not recorded"


# --- fetching --------------------------------------------------------------------------------


async def get_case(portal: Portal, user: User, case_id: uuid.UUID) -> dict[str, Any]:
    doc: dict[str, Any] = await portal.services.get(
        user.access_token, "conference", f"/cases/{case_id}"
    )
    return doc


async def facilitator_docs(portal: Portal, user: User) -> list[dict[str, Any]]:
    docs = await portal.services.get(user.access_token, "conference", "/facilitators")
    return [d for d in docs or [] if isinstance(d, dict)]


def caption(case_id: uuid.UUID) -> str:
    return f"RJ case {reference(case_id)}"


# --- home ------------------------------------------------------------------------------------


@router.get("/rj")
async def home(request: Request, user: User = Depends(rj)) -> Response:
    # Coordinators start from the intake; facilitators from the cases they work on.
    return RedirectResponse("/intake" if is_manager(user) else "/rj-cases", status_code=303)


# --- intake ----------------------------------------------------------------------------------


@router.get("/intake")
async def intake(request: Request, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    docs = await portal.services.get(user.access_token, "conference", "/intake")
    rows = intake_order([intake_row(d) for d in docs or [] if isinstance(d, dict)])
    return render(
        request,
        "rj/intake.html",
        {
            "rows": rows,
            "eligible_count": sum(1 for r in rows if r["eligible"]),
            "can_decide": is_manager(user),
            "flash": await pop_flash(portal, user),
        },
    )


@router.get("/intake/{case_id}")
async def intake_entry(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    doc = await portal.services.get(user.access_token, "conference", f"/intake/{case_id}")
    return render(
        request,
        "rj/intake_entry.html",
        {"row": intake_row(doc), "case_id": str(case_id), "can_decide": is_manager(user)},
    )


@router.post("/intake/{case_id}/accept")
async def accept(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    try:
        await portal.services.post(user.access_token, "conference", f"/intake/{case_id}/accept")
    except Conflict as exc:
        if exc.code == "already_exists":
            return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)
        return render(
            request,
            "rj/not_now.html",
            {
                "title": "This referral cannot be accepted now",
                "detail": "It is no longer eligible, or another decision was made meanwhile.",
                "back": f"/intake/{case_id}",
            },
            status_code=409,
        )
    await set_flash(portal, user, "Referral accepted: the RJ case is open")
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)


def _decline_errors(values: dict[str, str]) -> dict[str, str]:
    reason = values.get("reason", "")
    if not reason:
        return {"reason": "Enter why your organisation is declining the referral"}
    if len(reason) > 500:
        return {"reason": "The reason must be 500 characters or fewer"}
    return {}


@router.get("/intake/{case_id}/decline")
async def decline_form(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    await portal.services.get(user.access_token, "conference", f"/intake/{case_id}")
    return form_page(request, "rj/decline.html", {}, {}, case_id=str(case_id))


@router.post("/intake/{case_id}/decline/confirm")
async def decline_confirm(
    request: Request, case_id: uuid.UUID, user: User = Depends(rj)
) -> Response:
    values = form_values(await request.form())
    errors = _decline_errors(values)
    if errors:
        return form_page(request, "rj/decline.html", values, errors, case_id=str(case_id))
    return render(request, "rj/decline_confirm.html", {"values": values, "case_id": str(case_id)})


@router.post("/intake/{case_id}/decline")
async def decline(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors = _decline_errors(values)
    if errors:
        return form_page(request, "rj/decline.html", values, errors, case_id=str(case_id))
    try:
        await portal.services.post(
            user.access_token,
            "conference",
            f"/intake/{case_id}/decline",
            json={"reason": values["reason"]},
        )
    except Invalid:
        errors = {"reason": "Enter a shorter reason, without special characters"}
        return form_page(request, "rj/decline.html", values, errors, case_id=str(case_id))
    except Conflict:
        return render(
            request,
            "rj/not_now.html",
            {
                "title": "This referral cannot be declined now",
                "detail": "It is no longer eligible, or another decision was made meanwhile.",
                "back": f"/intake/{case_id}",
            },
            status_code=409,
        )
    await set_flash(portal, user, "Referral declined")
    return RedirectResponse("/intake", status_code=303)


# --- facilitators ----------------------------------------------------------------------------


@router.get("/facilitators")
async def facilitators(request: Request, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    today = datetime.now(UTC).date()
    rows = [facilitator_row(d, today) for d in await facilitator_docs(portal, user)]
    return render(
        request,
        "rj/facilitators.html",
        {
            "rows": rows,
            "can_register": is_manager(user),
            "account_id": user.sub,
            "flash": await pop_flash(portal, user),
        },
    )


FACILITATOR_DATES = {n: f"{n}-day" for n in ("accredited_until", "endorsement_expires")}


def validate_facilitator(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    facilitator_id = values.get("facilitator_id", "")
    if not facilitator_id:
        errors["facilitator_id"] = "Enter the facilitator's staff account ID"
    elif not SHORT_ID.match(facilitator_id):
        errors["facilitator_id"] = (
            "The staff account ID can only include letters, numbers, dots, dashes, @ and _"
        )
    name = values.get("name", "")
    if not name:
        errors["name"] = "Enter the facilitator's full name"
    elif len(name) > 200:
        errors["name"] = "The name must be 200 characters or fewer"
    accreditation = values.get("accreditation_id", "")
    if not accreditation:
        errors["accreditation_id"] = "Enter the accreditation number"
    elif not SHORT_ID.match(accreditation):
        errors["accreditation_id"] = (
            "The accreditation number can only include letters, numbers, dots, dashes, @ and _"
        )
    accredited, message = parse_day(
        values,
        "accredited_until",
        "the date the accreditation ends",
        required=True,
        not_before=None,
    )
    if message:
        errors["accredited_until"] = message
    endorsed, message = parse_day(
        values,
        "endorsement_expires",
        "the date the endorsement ends",
        required=False,
        not_before=None,
    )
    if message:
        errors["endorsement_expires"] = message
    body = {
        "facilitator_id": facilitator_id,
        "name": name,
        "accreditation_id": accreditation,
        "accredited_until": accredited.isoformat() if accredited else None,
        "endorsement_expires": endorsed.isoformat() if endorsed else None,
    }
    return body, errors


@router.get("/facilitators/new")
async def new_facilitator(request: Request, user: User = Depends(rj)) -> Response:
    return form_page(request, "rj/facilitator_new.html", {}, {})


@router.post("/facilitators/new")
async def register_facilitator(request: Request, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    body, errors = validate_facilitator(values)
    if errors:
        return form_page(
            request, "rj/facilitator_new.html", values, errors, first_part=FACILITATOR_DATES
        )
    try:
        await portal.services.post(user.access_token, "conference", "/facilitators", json=body)
    except Conflict:
        errors = {
            "facilitator_id": "A facilitator with this staff account ID is already registered"
        }
        return form_page(request, "rj/facilitator_new.html", values, errors)
    except Invalid as exc:
        errors = {
            _facilitator_field(e.field): "Check this answer: the service did not accept it"
            for e in exc.errors
        } or {"facilitator_id": "Check this answer: the service did not accept it"}
        return form_page(
            request, "rj/facilitator_new.html", values, errors, first_part=FACILITATOR_DATES
        )
    await set_flash(portal, user, "Facilitator registered")
    return RedirectResponse("/facilitators", status_code=303)


def _facilitator_field(api_field: str) -> str:
    name = api_field.rsplit(".", 1)[-1]
    return (
        name
        if name
        in ("facilitator_id", "name", "accreditation_id", "accredited_until", "endorsement_expires")
        else "facilitator_id"
    )


# --- RJ cases --------------------------------------------------------------------------------


@router.get("/rj-cases")
async def cases(request: Request, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    docs, facs = await asyncio.gather(
        portal.services.get(user.access_token, "conference", "/cases"),
        facilitator_docs(portal, user),
    )
    names = {str(f.get("facilitator_id")): str(f.get("name")) for f in facs}
    rows = []
    for doc in docs or []:
        if not isinstance(doc, dict):
            continue
        status = str(doc.get("status", ""))
        assigned = [doc.get("facilitator_id"), doc.get("co_facilitator_id")]
        rows.append(
            {
                "case_id": str(doc.get("case_id")),
                "reference": reference(doc.get("case_id")),
                "opened": long_date(str(doc.get("opened_at") or "")[:10]),
                "status": words.RJ_STATUS.get(status, status.replace("_", " ").capitalize()),
                "status_tag": words.RJ_STATUS_TAG.get(status, "govuk-tag--grey"),
                "facilitators": ", ".join(names.get(str(f), "A facilitator") for f in assigned if f)
                or "Not assigned",
                "mine": user.sub in assigned,
                "conference": local_moment(doc.get("conference_at"), doc.get("jurisdiction"))
                or "Not scheduled",
                "overdue": bool((doc.get("compliance") or {}).get("overdue")),
            }
        )
    if not is_manager(user):
        rows.sort(key=lambda r: not r["mine"])
    return render(request, "rj/cases.html", {"rows": rows})


@router.get("/rj-cases/{case_id}")
async def case_page(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    doc, gate, facs = await asyncio.gather(
        get_case(portal, user, case_id),
        portal.services.get(user.access_token, "conference", f"/cases/{case_id}/gate"),
        facilitator_docs(portal, user),
    )
    names = {str(f.get("facilitator_id")): str(f.get("name")) for f in facs}
    today = datetime.now(UTC).date()
    return render(
        request,
        "rj/case.html",
        {
            "case_id": str(case_id),
            "reference": reference(case_id),
            "view": case_view(portal, doc, names, user, today),
            "gate": gate_view(gate),
            "flash": await pop_flash(portal, user),
        },
    )


# --- assignment ------------------------------------------------------------------------------


def facilitator_options(facs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    today = datetime.now(UTC).date()
    options = []
    for f in facs:
        row = facilitator_row(f, today)
        note = "" if row["valid"] else " (no valid endorsement)"
        options.append((row["id"], f"{row['name']}{note}"))
    return options


async def _assign_page(
    request: Request,
    portal: Portal,
    user: User,
    case_id: uuid.UUID,
    values: dict[str, str],
    errors: dict[str, str],
) -> Response:
    facs = await facilitator_docs(portal, user)
    return form_page(
        request,
        "rj/assign.html",
        values,
        errors,
        case_id=str(case_id),
        caption=caption(case_id),
        options=facilitator_options(facs),
        roles=list(words.FACILITATOR_ROLES.items()),
    )


@router.get("/rj-cases/{case_id}/assign")
async def assign_form(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    doc = await get_case(portal, user, case_id)
    values = {"role": "co" if doc.get("facilitator_id") else "lead"}
    return await _assign_page(request, portal, user, case_id, values, {})


@router.post("/rj-cases/{case_id}/assign")
async def assign(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    if not SHORT_ID.match(values.get("facilitator_id", "")):
        errors["facilitator_id"] = "Select a facilitator"
    if values.get("role") not in words.FACILITATOR_ROLES:
        errors["role"] = "Select whether they lead or co-facilitate"
    if errors:
        return await _assign_page(request, portal, user, case_id, values, errors)
    try:
        await portal.services.post(
            user.access_token,
            "conference",
            f"/cases/{case_id}/facilitators",
            json={"facilitator_id": values["facilitator_id"], "role": values["role"]},
        )
    except Conflict as exc:
        if exc.code == "version_conflict":
            return changed_meanwhile(request, case_id)
        message = {
            "endorsement_invalid": "This facilitator has no valid family-violence endorsement. "
            "Choose another, or renew their endorsement first",
        }.get(exc.code, "A lead facilitator must be assigned before a co-facilitator")
        return await _assign_page(
            request, portal, user, case_id, values, {"facilitator_id": message}
        )
    except Invalid:
        errors = {"facilitator_id": "The lead and the co-facilitator must be different people"}
        return await _assign_page(request, portal, user, case_id, values, errors)
    await set_flash(portal, user, "Facilitator assigned")
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)


# --- offender consent ------------------------------------------------------------------------


@router.get("/rj-cases/{case_id}/offender-consent")
async def offender_consent_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(rj)
) -> Response:
    portal = portal_of(request)
    await get_case(portal, user, case_id)
    return form_page(
        request,
        "rj/offender_consent.html",
        {},
        {},
        case_id=str(case_id),
        caption=caption(case_id),
        yes_no=YES_NO,
    )


@router.post("/rj-cases/{case_id}/offender-consent")
async def offender_consent(
    request: Request, case_id: uuid.UUID, user: User = Depends(rj)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    if values.get("given") not in ("yes", "no"):
        return form_page(
            request,
            "rj/offender_consent.html",
            values,
            {"given": "Select yes if the person who caused harm consents to take part"},
            case_id=str(case_id),
            caption=caption(case_id),
            yes_no=YES_NO,
        )
    try:
        await portal.services.post(
            user.access_token,
            "conference",
            f"/cases/{case_id}/offender-consent",
            json={"given": values["given"] == "yes"},
        )
    except Conflict:
        return changed_meanwhile(request, case_id)
    await set_flash(portal, user, "Consent of the person who caused harm recorded")
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)


# --- preparation -----------------------------------------------------------------------------


def validate_preparation(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    participant = values.get("participant", "")
    if participant not in words.PARTICIPANTS:
        errors["participant"] = "Select who the meeting was with"
    body: dict[str, Any] = {"participant": participant}
    if participant == "victim":
        if values.get("seen_alone") not in ("yes", "no"):
            errors["seen_alone"] = "Select yes if the victim was seen alone"
        if values.get("coercion_screen") not in ("passed", "failed"):
            errors["coercion_screen"] = "Select the result of the coercion screen"
        body["seen_alone"] = values.get("seen_alone") == "yes"
        body["coercion_screen"] = values.get("coercion_screen")
    persons = [p.strip() for p in values.get("support_persons", "").splitlines() if p.strip()]
    if len(persons) > 10:
        errors["support_persons"] = "Enter up to 10 support persons, one on each line"
    elif any(len(p) > 200 for p in persons):
        errors["support_persons"] = "Each support person must be 200 characters or fewer"
    body["support_persons"] = persons
    needs = values.get("childrens_needs", "")
    if len(needs) > 2000:
        errors["childrens_needs"] = "Children's needs must be 2000 characters or fewer"
    if needs:
        body["childrens_needs"] = needs
    notes = values.get("notes", "")
    if len(notes) > 20000:
        errors["notes"] = "Notes must be 20000 characters or fewer"
    body["notes"] = notes
    return body, errors


def _preparation_page(
    request: Request, case_id: uuid.UUID, values: dict[str, str], errors: dict[str, str]
) -> Response:
    return form_page(
        request,
        "rj/preparation.html",
        values,
        errors,
        case_id=str(case_id),
        caption=caption(case_id),
        participants=list(words.PARTICIPANTS.items()),
        yes_no=YES_NO,
        screens=[("passed", "Passed"), ("failed", "Failed")],
    )


@router.get("/rj-cases/{case_id}/preparation")
async def preparation_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(rj)
) -> Response:
    portal = portal_of(request)
    await get_case(portal, user, case_id)
    return _preparation_page(request, case_id, {}, {})


@router.post("/rj-cases/{case_id}/preparation")
async def preparation(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    body, errors = validate_preparation(values)
    if errors:
        return _preparation_page(request, case_id, values, errors)
    try:
        await portal.services.post(
            user.access_token, "conference", f"/cases/{case_id}/preparations", json=body
        )
    except Invalid as exc:
        field = next((e.field for e in exc.errors), "") or str(exc.extensions.get("field", ""))
        name = field.split(".")[0].split("[")[0]
        if name not in (
            "participant",
            "seen_alone",
            "coercion_screen",
            "support_persons",
            "childrens_needs",
            "notes",
        ):
            name = "participant"
        return _preparation_page(
            request, case_id, values, {name: "Check this answer: the service did not accept it"}
        )
    except Conflict:
        return changed_meanwhile(request, case_id)
    who = words.PARTICIPANTS[body["participant"]]
    await set_flash(portal, user, f"Preparation meeting recorded: {who.lower()}")
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)


# --- scheduling ------------------------------------------------------------------------------


def validate_schedule(
    values: dict[str, str], jurisdiction: Any, now: datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    tz = zone(jurisdiction)
    today = now.astimezone(tz).date()
    if values.get("modality") not in words.MODALITIES:
        errors["modality"] = "Select how the parties will take part"
    day, message = parse_day(
        values, "conference_date", "the date of the conference", required=True, not_before=today
    )
    if message:
        errors["conference_date"] = message
    clock = CLOCK.match(values.get("conference_time", ""))
    if not values.get("conference_time"):
        errors["conference_time"] = "Enter the time of the conference"
    elif clock is None:
        errors["conference_time"] = "Enter the time using the 24-hour clock, for example 14:30"
    at: datetime | None = None
    if day is not None and clock is not None:
        at = datetime.combine(day, time(int(clock.group(1)), int(clock.group(2))), tzinfo=tz)
        if at <= now:
            errors["conference_time"] = "The conference must be in the future"
    body: dict[str, Any] = {
        "modality": values.get("modality"),
        "at_time": at.isoformat() if at else None,
    }
    if version_of(values) is not None:
        body["expected_version"] = version_of(values)
    return body, errors


SCHEDULE_PARTS = {"conference_date": "conference_date-day"}


def _schedule_page(
    request: Request,
    case_id: uuid.UUID,
    values: dict[str, str],
    errors: dict[str, str],
    gate: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    return form_page(
        request,
        "rj/schedule.html",
        values,
        errors,
        status_code=status_code,
        first_part=SCHEDULE_PARTS,
        case_id=str(case_id),
        caption=caption(case_id),
        modalities=list(words.MODALITIES.items()),
        gate=gate,
    )


@router.get("/rj-cases/{case_id}/schedule")
async def schedule_form(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    doc = await get_case(portal, user, case_id)
    values = {
        "expected_version": str(doc.get("version", "")),
        "jurisdiction": str(doc.get("jurisdiction", "")),
    }
    return _schedule_page(request, case_id, values, {})


@router.post("/rj-cases/{case_id}/schedule")
async def schedule(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    jurisdiction = values.get("jurisdiction", "")
    if jurisdiction not in ZONES:
        jurisdiction = str((await get_case(portal, user, case_id)).get("jurisdiction", ""))
    body, errors = validate_schedule(values, jurisdiction, datetime.now(UTC))
    if errors:
        return _schedule_page(request, case_id, values, errors)
    if "expected_version" not in body:
        return changed_meanwhile(request, case_id)
    try:
        await portal.services.post(
            user.access_token, "conference", f"/cases/{case_id}/conference", json=body
        )
    except Conflict as exc:
        if exc.code == "gate_refused":
            failed = [str(c) for c in exc.extensions.get("failed") or []]
            modality = str(exc.extensions.get("modality") or body["modality"])
            codes = tuple(words.GATE_CONDITIONS) if modality == "direct" else words.GATE_INDIRECT
            errors = {
                "modality": "The conference cannot be scheduled this way yet: "
                + "; ".join(words.GATE_CONDITIONS.get(c, (c, c))[1] for c in failed)
            }
            return _schedule_page(
                request,
                case_id,
                values,
                errors,
                gate={"items": gate_checklist(failed, codes), "modality": modality},
                status_code=409,
            )
        if exc.code == "invalid_state":
            return render(
                request,
                "rj/not_now.html",
                {
                    "title": "A conference cannot be scheduled at this stage",
                    "detail": "The case has moved on, or has been stopped or suspended.",
                    "back": f"/rj-cases/{case_id}",
                },
                status_code=409,
            )
        return changed_meanwhile(request, case_id)
    except Invalid:
        errors = {"conference_time": "The conference must be in the future"}
        return _schedule_page(request, case_id, values, errors)
    await set_flash(portal, user, "Conference scheduled")
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)


# --- the conference held ---------------------------------------------------------------------


@router.get("/rj-cases/{case_id}/held")
async def held_form(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    doc = await get_case(portal, user, case_id)
    return form_page(
        request,
        "rj/held.html",
        {"expected_version": str(doc.get("version", ""))},
        {},
        case_id=str(case_id),
        caption=caption(case_id),
    )


@router.post("/rj-cases/{case_id}/held")
async def held(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    notes = values.get("notes", "")
    if len(notes) > 20000:
        return form_page(
            request,
            "rj/held.html",
            values,
            {"notes": "Notes must be 20000 characters or fewer"},
            case_id=str(case_id),
            caption=caption(case_id),
        )
    try:
        await portal.services.post(
            user.access_token,
            "conference",
            f"/cases/{case_id}/conference/held",
            json=with_version({"notes": notes}, values),
        )
    except Conflict:
        return changed_meanwhile(request, case_id)
    await set_flash(portal, user, "Conference recorded as held")
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)


# --- the outcome agreement -------------------------------------------------------------------


def validate_agreement(
    values: dict[str, str], today: date
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Up to AGREEMENT_ROWS items; a row left wholly empty is no item, a part-filled one is an
    error; at least one item."""
    errors: dict[str, str] = {}
    items = []
    for n in range(1, AGREEMENT_ROWS + 1):
        what = values.get(f"item{n}_what", "")
        owner = values.get(f"item{n}_owner", "")
        agency = values.get(f"item{n}_agency", "")
        due_parts = [values.get(f"item{n}_due-{p}", "") for p in ("day", "month", "year")]
        if not (what or owner or agency or any(due_parts)):
            continue
        if not what:
            errors[f"item{n}_what"] = f"Enter what item {n} asks for"
        elif len(what) > 2000:
            errors[f"item{n}_what"] = f"Item {n} must be 2000 characters or fewer"
        if owner not in words.ITEM_OWNERS:
            errors[f"item{n}_owner"] = f"Select who does item {n}"
        due, message = parse_day(
            values, f"item{n}_due", f"the date item {n} is due", required=True, not_before=today
        )
        if message:
            errors[f"item{n}_due"] = message
        if agency not in words.MONITORING_AGENCIES:
            errors[f"item{n}_agency"] = f"Select the agency that checks item {n}"
        items.append(
            {
                "item_id": f"item-{n}",
                "what": what,
                "owner": owner,
                "due_date": due.isoformat() if due else None,
                "monitoring_agency": agency,
            }
        )
    if not items and not errors:
        errors["item1_what"] = "Enter at least one item of the agreement"
    return items, errors


AGREEMENT_PARTS = {f"item{n}_due": f"item{n}_due-day" for n in range(1, AGREEMENT_ROWS + 1)}


def _agreement_page(
    request: Request, case_id: uuid.UUID, values: dict[str, str], errors: dict[str, str]
) -> Response:
    return form_page(
        request,
        "rj/agreement.html",
        values,
        errors,
        first_part=AGREEMENT_PARTS,
        case_id=str(case_id),
        caption=caption(case_id),
        rows=range(1, AGREEMENT_ROWS + 1),
        owners=list(words.ITEM_OWNERS.items()),
        agencies=list(words.MONITORING_AGENCIES.items()),
    )


@router.get("/rj-cases/{case_id}/agreement")
async def agreement_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(rj)
) -> Response:
    portal = portal_of(request)
    doc = await get_case(portal, user, case_id)
    values = {"expected_version": str(doc.get("version", ""))}
    # A new draft replaces the last one, so the form starts from it.
    for n, item in enumerate((doc.get("agreement_items") or [])[:AGREEMENT_ROWS], start=1):
        values[f"item{n}_what"] = str(item.get("what", ""))
        values[f"item{n}_owner"] = str(item.get("owner", ""))
        values[f"item{n}_agency"] = str(item.get("monitoring_agency", ""))
        values.update(date_values(f"item{n}_due", item.get("due_date")))
    return _agreement_page(request, case_id, values, {})


@router.post("/rj-cases/{case_id}/agreement")
async def agreement(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    items, errors = validate_agreement(values, datetime.now(UTC).date())
    if errors:
        return _agreement_page(request, case_id, values, errors)
    try:
        await portal.services.request(
            user.access_token,
            "conference",
            "PUT",
            f"/cases/{case_id}/agreement",
            json=with_version({"items": items}, values),
        )
    except Invalid:
        errors = {"item1_what": "Check the items: the service did not accept them"}
        return _agreement_page(request, case_id, values, errors)
    except Conflict:
        return changed_meanwhile(request, case_id)
    await set_flash(portal, user, "Outcome agreement drafted")
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)


def _agreement_consent_page(
    request: Request, case_id: uuid.UUID, values: dict[str, str], errors: dict[str, str]
) -> Response:
    return form_page(
        request,
        "rj/agreement_consent.html",
        values,
        errors,
        case_id=str(case_id),
        caption=caption(case_id),
        parties=list(words.PARTIES.items()),
        yes_no=YES_NO,
    )


@router.get("/rj-cases/{case_id}/agreement/consent")
async def agreement_consent_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(rj)
) -> Response:
    portal = portal_of(request)
    doc = await get_case(portal, user, case_id)
    return _agreement_consent_page(
        request, case_id, {"expected_version": str(doc.get("version", ""))}, {}
    )


@router.post("/rj-cases/{case_id}/agreement/consent")
async def agreement_consent(
    request: Request, case_id: uuid.UUID, user: User = Depends(rj)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    if values.get("party") not in words.PARTIES:
        errors["party"] = "Select whose consent this is"
    if values.get("agrees") not in ("yes", "no"):
        errors["agrees"] = "Select yes if they agree to the outcome agreement"
    if values.get("share_with_court") not in ("yes", "no"):
        errors["share_with_court"] = (
            "Select yes if they agree to share the agreement with the court"
        )
    if errors:
        return _agreement_consent_page(request, case_id, values, errors)
    body: dict[str, Any] = {
        "party": values["party"],
        "agrees": values["agrees"] == "yes",
        "share_with_court": values["share_with_court"] == "yes",
    }
    try:
        await portal.services.post(
            user.access_token,
            "conference",
            f"/cases/{case_id}/agreement/consents",
            json=with_version(body, values),
        )
    except Conflict:
        return changed_meanwhile(request, case_id)
    await set_flash(portal, user, f"Consent recorded: {words.PARTIES[body['party']].lower()}")
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)


# --- monitoring ------------------------------------------------------------------------------


ITEM_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


async def _item(
    portal: Portal, user: User, case_id: uuid.UUID, item_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    if not ITEM_ID.match(item_id):
        raise NotFound(404, "not_found")
    doc = await get_case(portal, user, case_id)
    item = next(
        (i for i in doc.get("agreement_items") or [] if str(i.get("item_id")) == item_id), None
    )
    if item is None:
        raise NotFound(404, "not_found")
    return doc, item


def _report_page(
    request: Request,
    case_id: uuid.UUID,
    item: dict[str, Any],
    values: dict[str, str],
    errors: dict[str, str],
) -> Response:
    return form_page(
        request,
        "rj/report.html",
        values,
        errors,
        case_id=str(case_id),
        caption=caption(case_id),
        item={
            "id": str(item.get("item_id")),
            "what": item.get("what", ""),
            "due": long_date(item.get("due_date")),
            "owner": words.ITEM_OWNERS.get(str(item.get("owner")), ""),
        },
        outcomes=[("completed", "Completed"), ("breached", "Breached (not kept)")],
    )


@router.get("/rj-cases/{case_id}/items/{item_id}/report")
async def report_form(
    request: Request, case_id: uuid.UUID, item_id: str, user: User = Depends(rj)
) -> Response:
    portal = portal_of(request)
    doc, item = await _item(portal, user, case_id, item_id)
    return _report_page(
        request, case_id, item, {"expected_version": str(doc.get("version", ""))}, {}
    )


@router.post("/rj-cases/{case_id}/items/{item_id}/report")
async def report(
    request: Request, case_id: uuid.UUID, item_id: str, user: User = Depends(rj)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    _, item = await _item(portal, user, case_id, item_id)
    errors: dict[str, str] = {}
    if values.get("status") not in ("completed", "breached"):
        errors["status"] = "Select whether the item was completed or breached"
    evidence = values.get("evidence", "")
    if not evidence:
        errors["evidence"] = "Enter the evidence, or where it is kept"
    elif len(evidence) > 2000:
        errors["evidence"] = "The evidence must be 2000 characters or fewer"
    if errors:
        return _report_page(request, case_id, item, values, errors)
    try:
        await portal.services.post(
            user.access_token,
            "conference",
            f"/cases/{case_id}/agreement/items/{item_id}/report",
            json={"status": values["status"], "evidence": evidence},
        )
    except Conflict:
        return changed_meanwhile(request, case_id)
    await set_flash(
        portal,
        user,
        "Item reported as completed" if values["status"] == "completed" else "Breach reported",
    )
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)


# --- stopping --------------------------------------------------------------------------------


def _stop_page(
    request: Request, case_id: uuid.UUID, values: dict[str, str], errors: dict[str, str]
) -> Response:
    return form_page(
        request,
        "rj/stop.html",
        values,
        errors,
        case_id=str(case_id),
        caption=caption(case_id),
        reasons=list(words.STOP_REASONS.items()),
    )


def _stop_errors(values: dict[str, str]) -> dict[str, str]:
    if values.get("reason") not in words.STOP_REASONS:
        return {"reason": "Select why the case is being stopped"}
    return {}


@router.get("/rj-cases/{case_id}/stop")
async def stop_form(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    await get_case(portal, user, case_id)
    return _stop_page(request, case_id, {}, {})


@router.post("/rj-cases/{case_id}/stop/confirm")
async def stop_confirm(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    values = form_values(await request.form())
    errors = _stop_errors(values)
    if errors:
        return _stop_page(request, case_id, values, errors)
    return render(
        request,
        "rj/stop_confirm.html",
        {
            "values": values,
            "case_id": str(case_id),
            "caption": caption(case_id),
            "reason": words.STOP_REASONS[values["reason"]],
        },
    )


@router.post("/rj-cases/{case_id}/stop")
async def stop(request: Request, case_id: uuid.UUID, user: User = Depends(rj)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors = _stop_errors(values)
    if errors:
        return _stop_page(request, case_id, values, errors)
    try:
        await portal.services.post(
            user.access_token,
            "conference",
            f"/cases/{case_id}/stop",
            json={"reason": values["reason"]},
        )
    except Conflict:
        return render(
            request,
            "rj/not_now.html",
            {
                "title": "This case has already ended",
                "detail": "It was completed, returned or stopped meanwhile.",
                "back": f"/rj-cases/{case_id}",
            },
            status_code=409,
        )
    await set_flash(portal, user, "Case stopped")
    return RedirectResponse(f"/rj-cases/{case_id}", status_code=303)
