"""Police officer's screens (SPEC section 7): my force's referrals, a new referral with DASH,
a referral's page with its timeline and risk history, reassessment and withdrawal.

The answers of a referral in progress are never stored by the portal: between the form and
"Check your answers" they travel in the POST body (hidden fields), and only the referral
service keeps them once submitted. An Idempotency-Key made when the form is first shown means a
double click or a resubmitted page creates one referral, not two.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from accord_portal import words
from accord_portal.api_client import Forbidden, Invalid, NotFound
from accord_portal.areas import Area, NavItem
from accord_portal.security import CSRF_FIELD
from accord_portal.web import Portal, User, portal_of, render, require_area

AREA = Area(
    key="police",
    roles=frozenset({("police", "officer"), ("police", "supervisor")}),
    home="/referrals",
    nav=(NavItem("Referrals", "/referrals"), NavItem("New referral", "/referrals/new")),
)
router = APIRouter(prefix="/referrals")
police = require_area(AREA)

COURT_REFERENCE = re.compile(r"^[A-Za-z0-9/-]{1,64}$")
YES_NO = (("yes", "Yes"), ("no", "No"))
DASH_FIELDS = tuple(f"dash_{code}" for code, _ in words.QUESTIONS)
# The referral service's field paths (RFC 9457 `errors[].field`) -> the form's field ids.
API_FIELDS = {
    "jurisdiction": "jurisdiction",
    "initiated_by": "initiated_by",
    "incident.date": "incident_date",
    "incident.summary": "incident_summary",
    "incident.offence_type": "offence_type",
    "victim.name": "victim_name",
    "victim.date_of_birth": "victim_dob",
    "offender.name": "offender_name",
    "offender.date_of_birth": "offender_dob",
    "offender_acknowledged": "offender_acknowledged",
    "guilty_plea": "guilty_plea",
    "court_reference": "court_reference",
    "court_org": "court_org",
    "victim_services_org": "victim_services_org",
    "risk_assessment.answers": DASH_FIELDS[0],
    "answers": DASH_FIELDS[0],
    "risk_assessment.professional_judgement_high": "professional_judgement_high",
    "professional_judgement_high": "professional_judgement_high",
    "reason": "reason",
}


# --- helpers -------------------------------------------------------------------------------


def form_values(form: FormData) -> dict[str, str]:
    return {k: str(v).strip() for k, v in form.items() if k != CSRF_FIELD and isinstance(v, str)}


def long_date(value: Any) -> str:
    """GOV.UK style: 1 October 2026, or 1 October 2026 at 2:05pm for a moment."""
    if value in (None, ""):
        return ""
    text = str(value)
    try:
        if "T" in text:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            hour = moment.strftime("%I").lstrip("0") or "12"
            return f"{moment.day} {moment:%B %Y} at {hour}:{moment:%M}{moment:%p}".replace(
                "AM", "am"
            ).replace("PM", "pm")
        day = date.fromisoformat(text[:10])
        return f"{day.day} {day:%B %Y}"
    except ValueError:
        return text


def yes_no(value: Any) -> str:
    return "Yes" if value is True else "No" if value is False else ""


def parse_date(values: dict[str, str], name: str, label: str, required: bool) -> tuple[Any, str]:
    parts = [values.get(f"{name}-{p}", "") for p in ("day", "month", "year")]
    if not any(parts):
        return None, (f"Enter {label}" if required else "")
    if not all(parts):
        return None, f"{label.capitalize()} must include a day, month and year"
    try:
        day, month, year = (int(p) for p in parts)
        value = date(year, month, day)
    except ValueError:
        return None, f"{label.capitalize()} must be a real date"
    if value > datetime.now(UTC).date():
        return None, f"{label.capitalize()} must be today or in the past"
    if value.year < 1900:
        return None, f"{label.capitalize()} must be after 1900"
    return value, ""


def dash_answers(values: dict[str, str], errors: dict[str, str]) -> dict[str, bool]:
    answers: dict[str, bool] = {}
    for (code, question), name in zip(words.QUESTIONS, DASH_FIELDS, strict=True):
        answer = values.get(name)
        if answer not in ("yes", "no"):
            number = DASH_FIELDS.index(name) + 1
            errors[name] = f"Select yes or no for question {number}: {question}"
        else:
            answers[code] = answer == "yes"
    if values.get("professional_judgement_high") not in ("yes", "no"):
        errors["professional_judgement_high"] = (
            "Select yes if your professional judgement is that the risk is high"
        )
    return answers


def validate_referral(
    portal: Portal, values: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The request body for the referral service, and the errors by field id (form order)."""
    errors: dict[str, str] = {}
    incident_date, message = parse_date(values, "incident_date", "the date of the incident", True)
    if message:
        errors["incident_date"] = message
    for name, label, limit in (
        ("offence_type", "the offence", 200),
        ("incident_summary", "a summary of the incident", 4000),
        ("victim_name", "the victim's full name", 200),
    ):
        if not values.get(name):
            errors[name] = f"Enter {label}"
        elif len(values[name]) > limit:
            errors[name] = f"{label[0].upper()}{label[1:]} must be {limit} characters or fewer"
    victim_dob, message = parse_date(values, "victim_dob", "the victim's date of birth", False)
    if message:
        errors["victim_dob"] = message
    if not values.get("offender_name"):
        errors["offender_name"] = "Enter the full name of the person who caused harm"
    elif len(values["offender_name"]) > 200:
        errors["offender_name"] = "The name must be 200 characters or fewer"
    offender_dob, message = parse_date(
        values, "offender_dob", "the date of birth of the person who caused harm", False
    )
    if message:
        errors["offender_dob"] = message
    if values.get("initiated_by") not in words.INITIATORS:
        errors["initiated_by"] = "Select who asked for restorative justice"
    if values.get("offender_acknowledged") not in ("yes", "no"):
        errors["offender_acknowledged"] = (
            "Select yes if the person who caused harm has acknowledged responsibility"
        )
    if values.get("guilty_plea") not in ("yes", "no"):
        errors["guilty_plea"] = "Select yes if there was a guilty plea"
    jurisdiction = values.get("jurisdiction", "")
    if jurisdiction not in words.JURISDICTIONS:
        errors["jurisdiction"] = "Select the jurisdiction"
    court_reference = court_org = None
    if values.get("has_court_reference") not in ("yes", "no"):
        errors["has_court_reference"] = "Select yes if a court has given a reference"
    elif values["has_court_reference"] == "yes":
        court_reference = values.get("court_reference", "")
        if not COURT_REFERENCE.match(court_reference):
            errors["court_reference"] = (
                "Enter the court reference using only letters, numbers, / and -"
                if court_reference
                else "Enter the court reference"
            )
        court_org = values.get("court_org", "")
        if not _serves(portal, court_org, "court", jurisdiction):
            errors["court_org"] = "Select the court that gave the reference"
    if not _serves(portal, values.get("victim_services_org", ""), "victim_services", jurisdiction):
        errors["victim_services_org"] = (
            "Select a victim-services organisation that serves the jurisdiction"
        )
    answers = dash_answers(values, errors)
    body = {
        "jurisdiction": jurisdiction,
        "initiated_by": values.get("initiated_by"),
        "incident": {
            "date": incident_date.isoformat() if incident_date else None,
            "summary": values.get("incident_summary"),
            "offence_type": values.get("offence_type"),
        },
        "victim": {
            "name": values.get("victim_name"),
            "date_of_birth": victim_dob.isoformat() if victim_dob else None,
        },
        "offender": {
            "name": values.get("offender_name"),
            "date_of_birth": offender_dob.isoformat() if offender_dob else None,
        },
        "offender_acknowledged": values.get("offender_acknowledged") == "yes",
        "guilty_plea": values.get("guilty_plea") == "yes",
        "court_reference": court_reference,
        "court_org": court_org,
        "victim_services_org": values.get("victim_services_org"),
        "risk_assessment": {
            "answers": answers,
            "professional_judgement_high": values.get("professional_judgement_high") == "yes",
        },
    }
    return body, errors


def _serves(portal: Portal, org_id: str, agency: str, jurisdiction: str) -> bool:
    found = portal.directory.get(org_id) if org_id else None
    return (
        found is not None
        and found.agency == agency
        and (not jurisdiction or jurisdiction in found.jurisdictions)
    )


def summary(
    errors: dict[str, str], first_part: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """The error summary's entries, each linking to its field (a date's day, a radio's first)."""
    first_part = first_part or {}
    return [{"href": first_part.get(name, name), "text": text} for name, text in errors.items()]


DATE_FIELDS = {n: f"{n}-day" for n in ("incident_date", "victim_dob", "offender_dob")}


def api_errors(exc: Invalid) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors:
        field_id = API_FIELDS.get(error.field)
        if field_id is None:
            field_id = API_FIELDS.get(error.field.rsplit(".", 1)[0], "incident_summary")
        errors.setdefault(field_id, _api_message(error.field))
    if not errors:
        # A refusal naming no field (an organisation outside the jurisdiction, say).
        field_id = API_FIELDS.get(str(exc.extensions.get("field", "")), "jurisdiction")
        errors[field_id] = "Check this answer: the referral service did not accept it"
    return errors


def _api_message(field: str) -> str:
    # The service's own message is developer wording; the page names the question instead.
    return {
        "court_org": "Select a court that serves the jurisdiction",
        "victim_services_org": "Select a victim-services organisation that serves the jurisdiction",
    }.get(field, "Check this answer: the referral service did not accept it")


def org_options(portal: Portal, agency: str) -> list[tuple[str, str]]:
    return [
        (o.id, f"{o.name} ({', '.join(words.JURISDICTIONS.get(j, j) for j in o.jurisdictions)})")
        for o in portal.directory.organisations
        if o.agency == agency
    ]


def form_context(portal: Portal, values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "error_list": summary(errors, DATE_FIELDS),
        "questions": [
            {
                "name": name,
                "number": i + 1,
                "text": text,
                "hint": words.HINTS.get(code, ""),
            }
            for i, ((code, text), name) in enumerate(zip(words.QUESTIONS, DASH_FIELDS, strict=True))
        ],
        "yes_no": YES_NO,
        "initiators": list(words.INITIATORS.items()),
        "jurisdictions": list(words.JURISDICTIONS.items()),
        "victim_services_orgs": org_options(portal, "victim_services"),
        "court_orgs": org_options(portal, "court"),
    }


def check_rows(
    portal: Portal, values: dict[str, str], body: dict[str, Any]
) -> list[dict[str, Any]]:
    """The check-answers summary list: (section, rows of key, value, field id, hidden name)."""

    def org(org_id: str | None) -> str:
        return portal.org_name(org_id) if org_id else "None"

    incident, victim, offender = body["incident"], body["victim"], body["offender"]
    sections = [
        (
            "Incident",
            [
                ("Date of incident", long_date(incident["date"]), "incident_date-day"),
                ("Offence", incident["offence_type"], "offence_type"),
                ("Summary", incident["summary"], "incident_summary"),
            ],
        ),
        (
            "People",
            [
                ("Victim's name", victim["name"], "victim_name"),
                (
                    "Victim's date of birth",
                    long_date(victim["date_of_birth"]) or "Not given",
                    "victim_dob-day",
                ),
                ("Name of the person who caused harm", offender["name"], "offender_name"),
                (
                    "Their date of birth",
                    long_date(offender["date_of_birth"]) or "Not given",
                    "offender_dob-day",
                ),
                (
                    "Responsibility acknowledged",
                    yes_no(body["offender_acknowledged"]),
                    "offender_acknowledged",
                ),
                ("Guilty plea", yes_no(body["guilty_plea"]), "guilty_plea"),
            ],
        ),
        (
            "Referral",
            [
                ("Asked for by", words.INITIATORS.get(body["initiated_by"], ""), "initiated_by"),
                ("Jurisdiction", words.JURISDICTIONS.get(body["jurisdiction"], ""), "jurisdiction"),
                ("Victim services", org(body["victim_services_org"]), "victim_services_org"),
                ("Court reference", body["court_reference"] or "None", "has_court_reference"),
                ("Court", org(body["court_org"]), "has_court_reference"),
            ],
        ),
    ]
    answers = body["risk_assessment"]["answers"]
    score = sum(answers.values())
    sections.append(
        (
            "DASH risk checklist",
            [
                (f"{i + 1}. {text}", yes_no(answers.get(code)), DASH_FIELDS[i])
                for i, (code, text) in enumerate(words.QUESTIONS)
            ]
            + [
                ("Score", f"{score} out of {len(words.QUESTIONS)}", DASH_FIELDS[0]),
                (
                    "Professional judgement: high risk",
                    yes_no(body["risk_assessment"]["professional_judgement_high"]),
                    "professional_judgement_high",
                ),
            ],
        )
    )
    return [
        {"title": title, "rows": [{"key": k, "value": v, "field": f} for k, v, f in rows]}
        for title, rows in sections
    ]


# --- dashboard -----------------------------------------------------------------------------


def row_for(doc: dict[str, Any], today: date) -> dict[str, Any]:
    status = doc.get("status", "")
    open_case = status not in ("accepted", "declined", "withdrawn", "ineligible")
    deadlines = []
    for name, due in sorted((doc.get("deadlines") or {}).items(), key=lambda kv: kv[1]):
        try:
            missed = open_case and date.fromisoformat(str(due)[:10]) < today
        except ValueError:
            missed = False
        deadlines.append(
            {
                "name": words.DEADLINES.get(name, name.replace("_", " ").capitalize()),
                "due": long_date(due),
                "overdue": missed,
            }
        )
    return {
        "case_id": doc.get("case_id", ""),
        "reference": str(doc.get("case_id", ""))[:8].upper(),
        "submitted": long_date(str(doc.get("submitted_at", ""))[:10]),
        "status": words.STATUS.get(status, status.replace("_", " ").capitalize()),
        "status_tag": words.STATUS_TAG.get(status, "govuk-tag--grey"),
        "risk_band": words.BANDS.get(str(doc.get("risk_band")), "Withheld")
        if "risk_band" in doc
        else "Withheld",
        "deadlines": deadlines,
        "overdue": bool(doc.get("overdue")),
        "reassessment_required": bool(doc.get("reassessment_required")),
    }


@router.get("")
async def dashboard(request: Request, user: User = Depends(police)) -> Response:
    portal = portal_of(request)
    # A non-personal filter, so a query string is fine here.
    overdue_only = request.query_params.get("show") == "overdue"
    docs = await portal.services.get(
        user.access_token, "referral", "/referrals", params={"overdue": str(overdue_only).lower()}
    )
    today = datetime.now(UTC).date()
    rows = [row_for(doc, today) for doc in docs]
    return render(
        request,
        "referrals/dashboard.html",
        {
            "rows": rows,
            "overdue_only": overdue_only,
            "overdue_count": sum(1 for r in rows if r["overdue"]),
            "flash": await pop_flash(portal, user),
        },
    )


async def pop_flash(portal: Portal, user: User) -> str | None:
    # Flash messages are fixed sentences of ours ("Referral withdrawn"), never case data.
    message = user.session.data.pop("flash", None)
    if message is not None:
        await run_in_threadpool(portal.store.save, user.session)
    return message if isinstance(message, str) else None


async def set_flash(portal: Portal, user: User, message: str) -> None:
    user.session.data["flash"] = message
    await run_in_threadpool(portal.store.save, user.session)


# --- new referral --------------------------------------------------------------------------


@router.get("/new")
async def new_referral(request: Request, user: User = Depends(police)) -> Response:
    portal = portal_of(request)
    values = {"idempotency_key": str(uuid.uuid4())}
    return render(request, "referrals/new.html", form_context(portal, values, {}))


@router.post("/new/edit")
async def edit_referral(request: Request, user: User = Depends(police)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    return render(request, "referrals/new.html", form_context(portal, values, {}))


@router.post("/new/check")
async def check_referral(request: Request, user: User = Depends(police)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    values.setdefault("idempotency_key", str(uuid.uuid4()))
    body, errors = validate_referral(portal, values)
    if errors:
        return render(request, "referrals/new.html", form_context(portal, values, errors), 400)
    return render(
        request,
        "referrals/check.html",
        {"values": values, "sections": check_rows(portal, values, body)},
    )


@router.post("/new/submit")
async def submit_referral(request: Request, user: User = Depends(police)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    # The hidden fields came back from the browser: checked again, never trusted.
    body, errors = validate_referral(portal, values)
    if errors:
        return render(request, "referrals/new.html", form_context(portal, values, errors), 400)
    key = values.get("idempotency_key") or str(uuid.uuid4())
    try:
        created = await portal.services.post(
            user.access_token,
            "referral",
            "/referrals",
            json=body,
            headers={"Idempotency-Key": f"portal-{key}"[:128]},
        )
    except Invalid as exc:
        errors = api_errors(exc)
        return render(request, "referrals/new.html", form_context(portal, values, errors), 400)
    return RedirectResponse(f"/referrals/{created['case_id']}/submitted", status_code=303)


@router.get("/{case_id}/submitted")
async def submitted(request: Request, case_id: uuid.UUID, user: User = Depends(police)) -> Response:
    portal = portal_of(request)
    doc = await portal.services.get(user.access_token, "referral", f"/referrals/{case_id}")
    return render(
        request,
        "referrals/submitted.html",
        {
            "case": row_for(doc, datetime.now(UTC).date()),
            "doc": doc,
            "eligibility_reasons": _reasons(doc),
        },
    )


def _reasons(doc: dict[str, Any]) -> list[str]:
    return [
        words.ELIGIBILITY_REASONS.get(code, code.replace("_", " ").capitalize())
        for code in doc.get("eligibility_reasons") or []
    ]


# --- a referral ----------------------------------------------------------------------------


def referral_view(portal: Portal, doc: dict[str, Any]) -> dict[str, Any]:
    classes = portal.field_classes.get("referral", {})

    def field(key: str, fmt: Any = None) -> dict[str, Any]:
        if key not in doc:
            return {"withheld": True, "reason": words.withheld_reason(classes.get(key, ""))}
        value = doc[key]
        return {"withheld": False, "value": fmt(value) if fmt else value}

    def org(value: Any) -> str:
        return portal.org_name(str(value)) if value else "None"

    answers = doc.get("dash_answers") or {}
    return {
        "case": [
            ("Status", field("status", lambda s: words.STATUS.get(s, s))),
            ("Jurisdiction", field("jurisdiction", lambda j: words.JURISDICTIONS.get(j, j))),
            ("Asked for by", field("initiated_by", lambda i: words.INITIATORS.get(i, i))),
            ("Submitted", field("submitted_at", long_date)),
            ("Court reference", field("court_reference", lambda c: c or "None")),
        ],
        "people": [
            ("Victim's name", field("victim_name")),
            ("Victim's date of birth", field("victim_date_of_birth", long_date)),
            ("Name of the person who caused harm", field("offender_name")),
            ("Their date of birth", field("offender_date_of_birth", long_date)),
        ],
        "offence": [
            ("Date of incident", field("incident_date", long_date)),
            ("Offence", field("offence_type")),
            ("Summary", field("incident_summary")),
            ("Responsibility acknowledged", field("offender_acknowledged", yes_no)),
            ("Guilty plea", field("guilty_plea", yes_no)),
        ],
        "risk": [
            ("Risk band", field("risk_band", lambda b: words.BANDS.get(b, b))),
            ("DASH score", field("risk_score", lambda s: f"{s} out of {len(words.QUESTIONS)}")),
            (
                "Red flags",
                field(
                    "red_flags",
                    lambda flags: "; ".join(_question(code) for code in flags) or "None",
                ),
            ),
            ("Professional judgement: high risk", field("professional_judgement", yes_no)),
        ],
        "answers_withheld": "dash_answers" not in doc,
        "answers": [
            {"number": i + 1, "text": text, "answer": yes_no(answers.get(code))}
            for i, (code, text) in enumerate(words.QUESTIONS)
        ],
        "history": [
            {
                "at": long_date(entry.get("at")),
                "band": words.BANDS.get(str(entry.get("band")), str(entry.get("band"))),
                "score": entry.get("score"),
                "red_flags": len(entry.get("red_flags") or []),
                "judgement": yes_no(entry.get("professional_judgement_high")),
            }
            for entry in reversed(doc.get("risk_history") or [])
        ],
        "history_withheld": "risk_history" not in doc,
        "timeline": timeline(doc),
        "organisations": org,
    }


def _question(code: str) -> str:
    return next((text for c, text in words.QUESTIONS if c == code), code)


def timeline(doc: dict[str, Any]) -> list[dict[str, str]]:
    """Newest first: submission, assessments, incidents, the eligibility decision, the RJ
    provider's acceptance or decline and a withdrawal, each dated by the referral document."""
    dated: list[tuple[str, dict[str, str]]] = []
    if doc.get("submitted_at"):
        dated.append((str(doc["submitted_at"]), {"title": "Referral submitted", "detail": ""}))
    for entry in doc.get("risk_history") or []:
        band = words.BANDS.get(str(entry.get("band")), str(entry.get("band")))
        dated.append(
            (
                str(entry.get("at")),
                {
                    "title": "Risk assessed (DASH)",
                    "detail": f"Risk band: {band}. Score: {entry.get('score')}.",
                },
            )
        )
    for entry in doc.get("incidents") or []:
        dated.append(
            (
                str(entry.get("at")),
                {"title": "New incident reported", "detail": "The risk must be reassessed."},
            )
        )
    status = str(doc.get("status", ""))
    if doc.get("screened_at") and doc.get("eligibility"):
        eligibility = str(doc["eligibility"])
        dated.append(
            (
                str(doc["screened_at"]),
                {
                    "title": words.STATUS.get(eligibility, eligibility),
                    "detail": "; ".join(_reasons(doc)),
                },
            )
        )
    if doc.get("decided_at") and status in ("accepted", "declined"):
        reason = doc.get("decline_reason") if status == "declined" else None
        dated.append(
            (
                str(doc["decided_at"]),
                {
                    "title": words.STATUS.get(status, status),
                    "detail": f"Reason: {reason}" if reason else "",
                },
            )
        )
    if doc.get("withdrawn_at"):
        reason = doc.get("withdrawn_reason")
        dated.append(
            (
                str(doc["withdrawn_at"]),
                {
                    "title": words.STATUS.get("withdrawn", "Withdrawn"),
                    "detail": f"Reason: {reason}" if reason else "",
                },
            )
        )
    dated.sort(key=lambda item: item[0], reverse=True)
    items = [{**item, "date": long_date(at)} for at, item in dated]
    # A status whose time the document does not carry (older records, or withheld) still
    # heads the timeline, undated.
    has_time = {
        "withdrawn": "withdrawn_at",
        "accepted": "decided_at",
        "declined": "decided_at",
    }.get(status, "screened_at")
    if status and status != "submitted" and not doc.get(has_time):
        detail = ""
        if status == "withdrawn" and doc.get("withdrawn_reason"):
            detail = f"Reason: {doc['withdrawn_reason']}"
        elif status == "declined" and doc.get("decline_reason"):
            detail = f"Reason: {doc['decline_reason']}"
        elif doc.get("eligibility_reasons"):
            detail = "; ".join(_reasons(doc))
        items.insert(0, {"title": words.STATUS.get(status, status), "detail": detail, "date": ""})
    return items


async def safety_flags(portal: Portal, user: User, case_id: uuid.UUID) -> dict[str, Any]:
    """The victim's safety flags, read at their source (victim services) with the officer's own
    token on every page load, so a withdrawn consent hides them on the very next load.

    {"state": "shown", "flags": [...]} or {"state": "withheld" | "not_recorded"}."""
    try:
        doc = await portal.services.get(
            user.access_token,
            "victim-support",
            f"/cases/{case_id}/safety-flags",
            params={"purpose": "safeguarding"},
        )
    except NotFound:
        # Victim services have no record yet (or the case is not theirs to tell us about).
        return {"state": "not_recorded"}
    except Forbidden:
        return {"state": "withheld"}
    if not isinstance(doc, dict) or "flags" not in doc:
        return {"state": "withheld"}
    flags = [
        {
            "what": words.SAFETY_FLAGS.get(str(f.get("code")), str(f.get("code"))),
            "severity": words.SEVERITIES.get(str(f.get("severity")), str(f.get("severity"))),
            "raised": long_date(str(f.get("raised_at"))) if f.get("raised_at") else "",
        }
        for f in doc.get("flags") or []
        if isinstance(f, dict)
    ]
    return {"state": "shown", "flags": flags}


@router.get("/{case_id}")
async def referral_page(
    request: Request, case_id: uuid.UUID, user: User = Depends(police)
) -> Response:
    portal = portal_of(request)
    doc, flags = await asyncio.gather(
        portal.services.get(user.access_token, "referral", f"/referrals/{case_id}"),
        safety_flags(portal, user, case_id),
    )
    today = datetime.now(UTC).date()
    return render(
        request,
        "referrals/referral.html",
        {
            "case_id": str(case_id),
            "row": row_for(doc, today),
            "view": referral_view(portal, doc),
            "eligibility_reasons": _reasons(doc),
            "open_case": doc.get("status")
            not in ("accepted", "declined", "withdrawn", "ineligible"),
            "flash": await pop_flash(portal, user),
            "safety_flags": flags,
        },
    )


# --- reassessment --------------------------------------------------------------------------


@router.get("/{case_id}/reassess")
async def reassess_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(police)
) -> Response:
    portal = portal_of(request)
    doc = await portal.services.get(user.access_token, "referral", f"/referrals/{case_id}")
    values = {"expected_version": str(doc.get("version", ""))}
    return render(
        request,
        "referrals/reassess.html",
        {
            **form_context(portal, values, {}),
            "case_id": str(case_id),
            "row": row_for(doc, datetime.now(UTC).date()),
        },
    )


@router.post("/{case_id}/reassess")
async def reassess(request: Request, case_id: uuid.UUID, user: User = Depends(police)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    answers = dash_answers(values, errors)
    context = {"case_id": str(case_id), "row": None}
    if errors:
        return render(
            request,
            "referrals/reassess.html",
            {**form_context(portal, values, errors), **context},
            400,
        )
    body: dict[str, Any] = {
        "answers": answers,
        "professional_judgement_high": values.get("professional_judgement_high") == "yes",
    }
    if values.get("expected_version", "").isdigit():
        body["expected_version"] = int(values["expected_version"])
    try:
        await portal.services.post(
            user.access_token, "referral", f"/referrals/{case_id}/risk-assessments", json=body
        )
    except Invalid as exc:
        return render(
            request,
            "referrals/reassess.html",
            {**form_context(portal, values, api_errors(exc)), **context},
            400,
        )
    await set_flash(portal, user, "Risk reassessment recorded")
    return RedirectResponse(f"/referrals/{case_id}", status_code=303)


# --- withdrawal ----------------------------------------------------------------------------


@router.get("/{case_id}/withdraw")
async def withdraw_form(
    request: Request, case_id: uuid.UUID, user: User = Depends(police)
) -> Response:
    portal = portal_of(request)
    doc = await portal.services.get(user.access_token, "referral", f"/referrals/{case_id}")
    values = {"expected_version": str(doc.get("version", ""))}
    return render(
        request,
        "referrals/withdraw.html",
        {
            "values": values,
            "errors": {},
            "error_list": [],
            "case_id": str(case_id),
            "row": row_for(doc, datetime.now(UTC).date()),
        },
    )


def _withdraw_errors(values: dict[str, str]) -> dict[str, str]:
    reason = values.get("reason", "")
    if not reason:
        return {"reason": "Enter why the referral is being withdrawn"}
    if len(reason) > 200:
        return {"reason": "The reason must be 200 characters or fewer"}
    return {}


@router.post("/{case_id}/withdraw/confirm")
async def withdraw_confirm(
    request: Request, case_id: uuid.UUID, user: User = Depends(police)
) -> Response:
    values = form_values(await request.form())
    errors = _withdraw_errors(values)
    if errors:
        return render(
            request,
            "referrals/withdraw.html",
            {
                "values": values,
                "errors": errors,
                "error_list": summary(errors),
                "case_id": str(case_id),
                "row": None,
            },
            400,
        )
    return render(
        request, "referrals/withdraw_confirm.html", {"values": values, "case_id": str(case_id)}
    )


@router.post("/{case_id}/withdraw")
async def withdraw(request: Request, case_id: uuid.UUID, user: User = Depends(police)) -> Response:
    portal = portal_of(request)
    values = form_values(await request.form())
    errors = _withdraw_errors(values)
    if errors:
        return render(
            request,
            "referrals/withdraw.html",
            {
                "values": values,
                "errors": errors,
                "error_list": summary(errors),
                "case_id": str(case_id),
                "row": None,
            },
            400,
        )
    body: dict[str, Any] = {"reason": values["reason"]}
    if values.get("expected_version", "").isdigit():
        body["expected_version"] = int(values["expected_version"])
    try:
        await portal.services.post(
            user.access_token, "referral", f"/referrals/{case_id}/withdrawal", json=body
        )
    except Invalid as exc:
        errors = api_errors(exc)
        if "reason" not in errors:
            errors = {"reason": "This referral cannot be withdrawn now"}
        return render(
            request,
            "referrals/withdraw.html",
            {
                "values": values,
                "errors": errors,
                "error_list": summary(errors),
                "case_id": str(case_id),
                "row": None,
            },
            400,
        )
    await set_flash(portal, user, "Referral withdrawn")
    return RedirectResponse(f"/referrals/{case_id}", status_code=303)
