"""Managers' and commissioners' reports (SPEC section 10): the reporting service's tables,
each with a bar chart of its column totals drawn as server-rendered SVG beside the same
figures as a table, filters by period and jurisdiction, and each table as CSV.

The portal shows only what the reporting service returns: counts, already suppressed (a
suppressed count arrives as null and is shown as such, never as a bar). Which figures a user
sees (their organisation's, or the region's for a commissioner) is the service's policy
decision; the portal only picks the scope that fits the role.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from accord_portal.areas import Area, NavItem
from accord_portal.web import User, portal_of, render, require_area

AREA = Area(
    key="reports",
    roles=frozenset(
        {
            ("police", "manager"),
            ("victim_services", "manager"),
            ("rj_provider", "manager"),
            ("court", "manager"),
            ("commissioner", "commissioner"),
        }
    ),
    home="/reports",
    nav=(NavItem("Reports", "/reports"),),
)
router = APIRouter(prefix="/reports")
reports_area = require_area(AREA)

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
JURISDICTIONS = {
    "england-wales": "England and Wales",
    "scotland": "Scotland",
    "new-zealand": "New Zealand",
    "nova-scotia": "Nova Scotia",
}
TABLES = (
    "referrals_by_initiator",
    "referrals_by_outcome",
    "refusal_reasons",
    "deadlines",
    "rj_mode",
    "stops",
    "withdrawals",
    "agreements",
    "break_glass",
    "new_incidents",
)
CHART_WIDTH, BAR_HEIGHT, LABEL_WIDTH = 640, 28, 220


def scope_of(user: User) -> str:
    return "region" if user.agency == "commissioner" else "organisation"


def filters(request: Request) -> dict[str, str]:
    """Only well-formed filters are passed on; anything else is ignored, not an error page."""
    q = request.query_params
    out = {}
    for name in ("from", "to"):
        value = q.get(name, "")
        if MONTH.match(value):
            out[name] = value
    if q.get("jurisdiction") in JURISDICTIONS:
        out["jurisdiction"] = q["jurisdiction"]
    return out


def label(code: str) -> str:
    return code.replace("_", " ").capitalize()


def chart(table: dict[str, Any]) -> dict[str, Any]:
    """The bars of a table's column totals: a suppressed total has no bar, and says so."""
    totals_row = table["rows"][-1] if table["rows"] else []
    values = totals_row[len(table["row_headings"]) :]
    columns = table["columns"][:-1]
    bars = []
    shown = [v for v in values[: len(columns)] if isinstance(v, int)]
    top = max(shown, default=0) or 1
    for n, (column, value) in enumerate(zip(columns, values, strict=False)):
        width = (
            0
            if not isinstance(value, int)
            else round((CHART_WIDTH - LABEL_WIDTH - 60) * value / top)
        )
        bars.append(
            {
                "label": label(column),
                "value": value,
                "y": n * BAR_HEIGHT,
                "width": width,
                "text_x": LABEL_WIDTH + width + 6,
            }
        )
    return {
        "bars": bars,
        "height": max(1, len(bars)) * BAR_HEIGHT,
        "width": CHART_WIDTH,
        "label_width": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT - 8,
    }


@router.get("")
async def reports_page(request: Request, user: User = Depends(reports_area)) -> Response:
    chosen = filters(request)
    report = await portal_of(request).services.get(
        user.access_token,
        "reporting",
        "/reports",
        params={"scope": scope_of(user), **chosen},
    )
    tables = [
        {
            **t,
            "headings": [label(h) for h in t["row_headings"]] + [label(c) for c in t["columns"]],
            "chart": chart(t),
            "csv": f"/reports/{t['name']}.csv",
        }
        for t in report["tables"]
    ]
    query = "&".join(f"{k}={v}" for k, v in chosen.items())
    for t in tables:
        if query:
            t["csv"] += "?" + query
    return render(
        request,
        "reports/reports.html",
        {
            "report": report,
            "tables": tables,
            "chosen": chosen,
            "jurisdictions": JURISDICTIONS,
            "region": scope_of(user) == "region",
        },
    )


@router.get("/{table}.csv")
async def table_csv(table: str, request: Request, user: User = Depends(reports_area)) -> Response:
    if table not in TABLES:
        return Response("Not found", status_code=404, media_type="text/plain")
    text = await portal_of(request).services.request(
        user.access_token,
        "reporting",
        "GET",
        f"/reports/{table}.csv",
        params={"scope": scope_of(user), **filters(request)},
        text=True,
    )
    return Response(
        str(text),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )
