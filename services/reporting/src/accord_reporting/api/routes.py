"""Figures for managers and commissioners: counts only, suppressed, each request decided by
the policy (`accord.reporting`) and recorded for audit like any read of case data."""

from __future__ import annotations

import csv
import io
import logging
from typing import Annotated, Any, Literal

from accord_kernel.identity import Subject, require
from accord_kernel.policy import PolicyUnavailable
from accord_kernel.problems import Problem, forbidden
from accord_kernel.responses import problems
from accord_kernel.runtime import CurrentSubject, ServiceRuntime, current_runtime
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from accord_reporting.application import ReportingService
from accord_reporting.domain import Scope, Table
from accord_reporting.domain.figures import TITLES

log = logging.getLogger("accord.reporting")
router = APIRouter(prefix="/reports", tags=["reports"])
Runtime = Annotated[ServiceRuntime[ReportingService], Depends(current_runtime)]
Month = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="First or last month, YYYY-MM"),
]
Jurisdiction = Annotated[
    str | None, Query(pattern=r"^[a-z-]{1,40}$", description="Only this jurisdiction's figures")
]
ScopeName = Literal["organisation", "region"]
READER_AGENCIES = frozenset({"police", "victim_services", "rj_provider", "court", "commissioner"})
READER_ROLES = {"manager", "commissioner"}
TableName = Literal[
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
]
assert set(TableName.__args__) == set(TITLES)  # type: ignore[attr-defined]


class TableOut(BaseModel):
    name: str
    title: str
    row_headings: list[str]
    columns: list[str]
    # one list per row key, then a totals line; null marks a suppressed count
    rows: list[list[str | int | None]]


class ReportOut(BaseModel):
    scope: ScopeName
    organisation: str
    suppression_threshold: int
    tables: list[TableOut]


def decided_scope(
    runtime: ServiceRuntime[ReportingService],
    subject: Subject,
    scope: ScopeName,
    first: str | None,
    last: str | None,
    jurisdiction: str | None,
    what: str,
) -> Scope:
    """The policy's answer, recorded for audit before any figure is computed. Roles that
    never read figures are turned away first, like every service's route does, so that only
    the policy's own refusals (another organisation, the region) fill the audit log."""
    require(subject, READER_AGENCIES, READER_ROLES)
    try:
        answer, decision_id = runtime.pdp.query(
            "accord.reporting", "decision", {"subject": subject.as_policy_input(), "scope": scope}
        )
    except PolicyUnavailable as exc:
        raise Problem(
            503, "policy_unavailable", "Policy engine unavailable", "Retry shortly."
        ) from exc
    allowed = isinstance(answer, dict) and answer.get("allow") is True
    reason = str(answer.get("reason", "")) if isinstance(answer, dict) else "malformed"
    runtime.app.record_access(
        [
            {
                # Reports are about no one case: the record names the report instead.
                "case_id": f"report:{what}"[:64],
                "subject": subject.as_policy_input(),
                "action": "read",
                "resource_type": "report",
                "purpose": "reporting",
                "fields_returned": [what] if allowed else [],
                "fields_withheld": {} if allowed else {what: reason},
                "lawful_basis": {what: reason} if allowed else {},
                "decision": "permit" if allowed else "deny",
                "decision_id": decision_id,
                "break_glass": False,
                "justification_ref": None,
            }
        ]
    )
    if not allowed:
        log.info("report refused user=%s scope=%s reason=%s", subject.user, scope, reason)
        raise forbidden(f"these figures are not for this role ({reason})")
    assert isinstance(answer, dict)
    granted = answer.get("jurisdictions")
    jurisdictions = None if granted is None else frozenset(granted)
    if jurisdiction is not None:
        jurisdictions = (
            frozenset({jurisdiction}) if jurisdictions is None else jurisdictions & {jurisdiction}
        )
    if first is not None and last is not None and first > last:
        raise Problem(400, "invalid_period", "Invalid period", "`from` is after `to`.")
    return Scope(
        organisation=answer.get("organisation"),
        jurisdictions=jurisdictions,
        needs_consent=frozenset(answer.get("needs_consent") or []),
        months=None if first is None and last is None else (first or "0000-01", last or "9999-12"),
    )


def default_scope(subject: Subject) -> ScopeName:
    """Unless asked otherwise: a commissioner's region, anyone else's organisation."""
    return "region" if subject.agency == "commissioner" else "organisation"


def table_out(table: Table) -> dict[str, Any]:
    rows: list[list[str | int | None]] = []
    keys = [*table.row_keys, ("total", *[""] * (len(table.row_headings) - 1))]
    for i, key in enumerate(keys):
        rows.append([*key, *(table.cell(i, j) for j in range(len(table.columns) + 1))])
    return {
        "name": table.name,
        "title": table.title,
        "row_headings": list(table.row_headings),
        "columns": [*table.columns, "total"],
        "rows": rows,
    }


@router.get(
    "",
    summary="Every table of a scope: counts only, cells under 5 and what would reveal them "
    "suppressed (null)",
    response_model=ReportOut,
    responses=problems(403),
)
def read_report(
    subject: CurrentSubject,
    runtime: Runtime,
    scope: ScopeName | None = None,
    first: Annotated[Month, Query(alias="from")] = None,
    last: Annotated[Month, Query(alias="to")] = None,
    jurisdiction: Jurisdiction = None,
) -> dict[str, Any]:
    scope = scope or default_scope(subject)
    decided = decided_scope(runtime, subject, scope, first, last, jurisdiction, "all")
    from accord_reporting.domain import THRESHOLD

    return {
        "scope": scope,
        "organisation": decided.label,
        "suppression_threshold": THRESHOLD,
        "tables": [table_out(t) for t in runtime.app.figures(decided)],
    }


@router.get(
    "/{table}.csv",
    summary="One table as CSV (suppressed counts are empty)",
    responses={
        **problems(403),
        200: {
            "content": {
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "The table as CSV: the headings, one line per row "
                        "key, then the totals line; a suppressed count is an empty cell.",
                    }
                }
            }
        },
    },
    response_class=Response,
)
def read_table_csv(
    table: TableName,
    subject: CurrentSubject,
    runtime: Runtime,
    scope: ScopeName | None = None,
    first: Annotated[Month, Query(alias="from")] = None,
    last: Annotated[Month, Query(alias="to")] = None,
    jurisdiction: Jurisdiction = None,
) -> Response:
    decided = decided_scope(
        runtime, subject, scope or default_scope(subject), first, last, jurisdiction, table
    )
    found = next(t for t in runtime.app.figures(decided) if t.name == table)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(found.as_rows())
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )
