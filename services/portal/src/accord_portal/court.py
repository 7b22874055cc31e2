"""Court clerk's and judge's screens (SPEC section 7): the court's cases, a case's compliance per
agreement item (the item text only where the court service returns it: every party consented to
share the outcome with the court, SPEC section 4), and review decisions with check answers.

Paths carry the RJ case's opaque id, never the court reference; the court service finds the
court cases of an RJ case by that id (`GET /court-cases?case_id=`), and answers nothing for
another court's case, which the portal shows as not found. A decision is sent with the version
the judge saw (If-Match), so a decision recorded meanwhile by someone else is a clear
"changed meanwhile" page rather than a second decision on a stale picture.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from accord_portal import words
from accord_portal.api_client import Invalid, NotFound
from accord_portal.areas import Area, NavItem
from accord_portal.referrals import form_values, long_date, pop_flash, set_flash, summary
from accord_portal.web import Portal, User, portal_of, render, require_area

AREA = Area(
    key="court",
    roles=frozenset({("court", "clerk"), ("court", "judge")}),
    home="/court",
    nav=(NavItem("Court cases", "/court"),),
)
router = APIRouter(prefix="/court")
court = require_area(AREA)

FINAL_DECISIONS = frozenset({"compliance_accepted", "returned_for_sentencing"})
NOTES_MAX = 2000


def today() -> date:
    return datetime.now(UTC).date()


def review_status(doc: dict[str, Any]) -> str:
    """`awaiting_review` until a final decision; an adjournment keeps the review open."""
    decisions = [d for d in doc.get("decisions") or [] if isinstance(d, dict)]
    latest = str(decisions[-1].get("decision")) if decisions else ""
    return latest if latest in FINAL_DECISIONS else "awaiting_review"


def _overdue(item: dict[str, Any], on: date) -> bool:
    if item.get("status") != "open":
        return False
    try:
        return date.fromisoformat(str(item.get("due_date"))[:10]) < on
    except ValueError:
        return False


def items_view(doc: dict[str, Any], on: date) -> dict[str, Any]:
    """Each item's compliance, and its text only where the service returned it."""
    if "items_text" not in doc:
        text_reason: str | None = words.COURT_TEXT_WITHHELD
    elif doc["items_text"] is None:
        text_reason = words.COURT_TEXT_NOT_RECEIVED
    else:
        text_reason = None
    texts = {
        str(t.get("item_id")): t
        for t in (doc.get("items_text") or [])
        if isinstance(t, dict) and t.get("item_id") is not None
    }
    statuses = [s for s in doc.get("items_status") or [] if isinstance(s, dict)]
    rows = []
    for number, item in enumerate(statuses, start=1):
        status = str(item.get("status", ""))
        text = texts.get(str(item.get("item_id")))
        if text is not None and text.get("what"):
            what = {"withheld": False, "value": str(text["what"])}
        else:
            what = {"withheld": True, "reason": text_reason or words.COURT_TEXT_NOT_RECEIVED}
        rows.append(
            {
                "number": number,
                "what": what,
                "status": words.ITEM_STATUS.get(status, status.replace("_", " ").capitalize()),
                "status_tag": words.ITEM_STATUS_TAG.get(status, "govuk-tag--grey"),
                "due": long_date(item.get("due_date")),
                "overdue": _overdue(item, on),
                "completed": long_date(item.get("completed_at")),
            }
        )
    return {
        "rows": rows,
        "text_shown": text_reason is None,
        "text_reason": text_reason,
        "total": len(rows),
        "completed": sum(1 for s in statuses if s.get("status") == "completed"),
        "breached": sum(1 for s in statuses if s.get("status") == "breached"),
        "overdue": sum(1 for r in rows if r["overdue"]),
    }


def case_row(doc: dict[str, Any], on: date) -> dict[str, Any]:
    status = review_status(doc)
    items = items_view(doc, on)
    decisions = [d for d in doc.get("decisions") or [] if isinstance(d, dict)]
    return {
        "case_id": str(doc.get("case_id", "")),
        "court_reference": str(doc.get("court_reference", "")),
        "version": doc.get("version"),
        "status": words.COURT_REVIEW_STATUS[status],
        "status_tag": words.COURT_REVIEW_STATUS_TAG[status],
        "decided": status in FINAL_DECISIONS,
        "compliance": items,
        "decisions": [
            {
                "decision": words.COURT_DECISIONS.get(
                    str(d.get("decision")), str(d.get("decision", "")).replace("_", " ")
                ),
                "at": long_date(d.get("at")),
                "notes": str(d.get("notes") or ""),
            }
            for d in reversed(decisions)
        ],
    }


async def court_cases_of(portal: Portal, user: User, case_id: uuid.UUID) -> list[dict[str, Any]]:
    """This court's court cases of one RJ case; another court's case is not found."""
    docs = await portal.services.get(
        user.access_token, "court", "/court-cases", params={"case_id": str(case_id)}
    )
    found = [d for d in docs or [] if isinstance(d, dict)]
    if not found:
        raise NotFound(404, "not_found")
    return found


# --- the court's cases ---------------------------------------------------------------------


@router.get("")
async def cases(request: Request, user: User = Depends(court)) -> Response:
    portal = portal_of(request)
    docs = await portal.services.get(
        user.access_token, "court", "/court-cases", params={"limit": 500}
    )
    on = today()
    rows = [case_row(d, on) for d in docs or [] if isinstance(d, dict)]
    return render(
        request,
        "court/cases.html",
        {
            "rows": rows,
            "overdue_count": sum(1 for r in rows if r["compliance"]["overdue"]),
            "flash": await pop_flash(portal, user),
        },
    )


# --- a case --------------------------------------------------------------------------------


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: uuid.UUID, user: User = Depends(court)) -> Response:
    portal = portal_of(request)
    on = today()
    court_cases = [case_row(d, on) for d in await court_cases_of(portal, user, case_id)]
    return render(
        request,
        "court/case.html",
        {
            "case_id": str(case_id),
            "court_cases": court_cases,
            "flash": await pop_flash(portal, user),
        },
    )


# --- review decision -----------------------------------------------------------------------


def decision_errors(values: dict[str, str], references: list[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if values.get("court_reference") not in references:
        errors["court_reference"] = "Select the court reference the decision is for"
    if values.get("decision") not in words.COURT_DECISIONS:
        errors["decision"] = "Select the review decision"
    if len(values.get("notes", "")) > NOTES_MAX:
        errors["notes"] = f"Notes must be {NOTES_MAX} characters or fewer"
    return errors


def decision_context(
    case_id: uuid.UUID,
    court_cases: list[dict[str, Any]],
    values: dict[str, str],
    errors: dict[str, str],
) -> dict[str, Any]:
    open_cases = [c for c in court_cases if not c["decided"]]
    return {
        "case_id": str(case_id),
        "court_cases": court_cases,
        "references": [(c["court_reference"], c["court_reference"]) for c in open_cases],
        "decisions": [
            (code, text, words.COURT_DECISION_HINTS[code])
            for code, text in words.COURT_DECISIONS.items()
        ],
        "values": values,
        "errors": errors,
        "error_list": summary(errors),
    }


def _open(court_cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in court_cases if not c["decided"]]


def _with_version(values: dict[str, str], court_cases: list[dict[str, Any]]) -> dict[str, str]:
    """The version of the chosen court case as the user first saw it (kept once set)."""
    if values.get("expected_version"):
        return values
    chosen = next(
        (c for c in court_cases if c["court_reference"] == values.get("court_reference")), None
    )
    if chosen is None or chosen["version"] is None:
        return values
    return {**values, "expected_version": str(chosen["version"])}


@router.get("/cases/{case_id}/decision")
async def decision_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(court)
) -> Response:
    portal = portal_of(request)
    on = today()
    court_cases = [case_row(d, on) for d in await court_cases_of(portal, user, case_id)]
    open_cases = _open(court_cases)
    if not open_cases:
        return RedirectResponse(f"/court/cases/{case_id}", status_code=303)
    values: dict[str, str] = {}
    if len(open_cases) == 1:
        values = _with_version({"court_reference": open_cases[0]["court_reference"]}, court_cases)
    return render(
        request, "court/decision.html", decision_context(case_id, court_cases, values, {})
    )


@router.post("/cases/{case_id}/decision/edit")
async def decision_edit(
    request: Request, case_id: uuid.UUID, user: User = Depends(court)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    on = today()
    court_cases = [case_row(d, on) for d in await court_cases_of(portal, user, case_id)]
    return render(
        request, "court/decision.html", decision_context(case_id, court_cases, values, {})
    )


@router.post("/cases/{case_id}/decision/check")
async def decision_check(
    request: Request, case_id: uuid.UUID, user: User = Depends(court)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    on = today()
    court_cases = [case_row(d, on) for d in await court_cases_of(portal, user, case_id)]
    references = [c["court_reference"] for c in _open(court_cases)]
    errors = decision_errors(values, references)
    if errors:
        context = decision_context(case_id, court_cases, values, errors)
        return render(request, "court/decision.html", context, 400)
    values = _with_version(values, court_cases)
    values.setdefault("idempotency_key", str(uuid.uuid4()))
    chosen = next(c for c in court_cases if c["court_reference"] == values["court_reference"])
    return render(
        request,
        "court/decision_check.html",
        {
            "case_id": str(case_id),
            "values": values,
            "court_case": chosen,
            "decision": words.COURT_DECISIONS[values["decision"]],
        },
    )


@router.post("/cases/{case_id}/decision")
async def decision_submit(
    request: Request, case_id: uuid.UUID, user: User = Depends(court)
) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    on = today()
    court_cases = [case_row(d, on) for d in await court_cases_of(portal, user, case_id)]
    # The hidden fields came back from the browser: checked again, never trusted.
    errors = decision_errors(values, [c["court_reference"] for c in _open(court_cases)])
    if errors:
        context = decision_context(case_id, court_cases, values, errors)
        return render(request, "court/decision.html", context, 400)
    headers = {"Idempotency-Key": f"portal-{values.get('idempotency_key') or uuid.uuid4()}"[:128]}
    if values.get("expected_version", "").isdigit():
        headers["If-Match"] = f'"{values["expected_version"]}"'
    try:
        await portal.services.post(
            user.access_token,
            "court",
            f"/court-cases/{values['court_reference']}/decisions",
            json={"decision": values["decision"], "notes": values.get("notes", "")},
            headers=headers,
        )
    except Invalid:
        errors = {"decision": "The court service did not accept this decision; check it"}
        context = decision_context(case_id, court_cases, values, errors)
        return render(request, "court/decision.html", context, 400)
    await set_flash(portal, user, words.COURT_DECISIONS[values["decision"]] + " recorded")
    return RedirectResponse(f"/court/cases/{case_id}/decision/recorded", status_code=303)


@router.get("/cases/{case_id}/decision/recorded")
async def decision_recorded(
    request: Request, case_id: uuid.UUID, user: User = Depends(court)
) -> Response:
    portal = portal_of(request)
    on = today()
    court_cases = [case_row(d, on) for d in await court_cases_of(portal, user, case_id)]
    # The flash is the confirmation's title; shown once, like every flash.
    message = await pop_flash(portal, user)
    latest = next((c for c in court_cases if c["decisions"]), court_cases[0])
    return render(
        request,
        "court/decision_recorded.html",
        {"case_id": str(case_id), "court_case": latest, "message": message},
    )
