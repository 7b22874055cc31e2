"""`accord report`: the reporting service's figures as tables in the terminal, and as CSV
files. It asks the service's API with the caller's token, so the policy decides and the
audit log records the request exactly as for the portal."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

SUPPRESSED = "*"


def fetch_report(
    url: str,
    token: str,
    scope: str,
    first: str | None,
    last: str | None,
    jurisdiction: str | None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    params = {
        k: v
        for k, v in {
            "scope": scope,
            "from": first,
            "to": last,
            "jurisdiction": jurisdiction,
        }.items()
        if v is not None
    }
    with httpx.Client(base_url=url, timeout=30.0, transport=transport) as client:
        r = client.get("/reports", params=params, headers={"Authorization": f"Bearer {token}"})
    if r.status_code != 200:
        detail = (
            r.json().get("detail", r.text)
            if r.headers.get("content-type", "").startswith("application/problem+json")
            else r.text
        )
        raise RuntimeError(f"the reporting service answered {r.status_code}: {detail}")
    body: dict[str, Any] = r.json()
    return body


def _cell(value: object) -> str:
    return SUPPRESSED if value is None else str(value)


def render(report: dict[str, Any], console: Console) -> None:
    console.print(
        f"Figures for [bold]{report['organisation']}[/bold] ({report['scope']}); "
        f"counts under {report['suppression_threshold']}, and any that would reveal them, "
        f"are shown as {SUPPRESSED}."
    )
    for t in report["tables"]:
        table = Table(title=t["title"], title_justify="left")
        for heading in t["row_headings"]:
            table.add_column(heading)
        for column in t["columns"]:
            table.add_column(column, justify="right")
        for row in t["rows"]:
            table.add_row(*(_cell(v) for v in row))
        console.print(table)


def write_csv(report: dict[str, Any], directory: Path) -> Sequence[Path]:
    """One file per table; a suppressed count is an empty field."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for t in report["tables"]:
        path = directory / f"{t['name']}.csv"
        with path.open("w", newline="") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow([*t["row_headings"], *t["columns"]])
            out.writerows([["" if v is None else v for v in row] for row in t["rows"]])
        written.append(path)
    return written
