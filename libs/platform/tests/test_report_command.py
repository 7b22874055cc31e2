"""`accord report` renders the reporting service's answer as terminal tables and CSV files:
suppressed counts (null) print as * and are empty in CSV; every table gets its own file. The
answer is the one the reporting API builds (its own `table_out` over the domain's figures)."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from accord_platform.report import render, write_csv
from accord_reporting.api.routes import table_out
from accord_reporting.domain import CaseTally, Scope, figures
from rich.console import Console


def answer() -> dict[str, Any]:
    tallies = []
    for n in range(12):
        t = CaseTally(case_id=f"case-{n}")
        t.note_referral(
            "england-wales" if n < 9 else "scotland",
            "victim",
            datetime(2026, 2, 3, tzinfo=UTC),
            {"police": "north-police"},
            {},
        )
        tallies.append(t)
    return {
        "scope": "organisation",
        "organisation": "north-police",
        "suppression_threshold": 5,
        "tables": [
            table_out(t) for t in figures(tallies, Scope("north-police"), date(2026, 2, 20))
        ],
    }


def test_tables_print_with_suppressed_counts_as_stars() -> None:
    console = Console(record=True, width=200)
    render(answer(), console)
    text = console.export_text()
    assert "Referrals by who initiated them" in text
    assert "north-police" in text and "*" in text
    assert "case-" not in text


def test_each_table_is_written_as_csv(tmp_path: Path) -> None:
    written = write_csv(answer(), tmp_path / "out")
    assert {p.name for p in written} >= {"referrals_by_initiator.csv", "deadlines.csv"}
    rows = list(csv.reader((tmp_path / "out" / "referrals_by_initiator.csv").open()))
    assert rows[0][:4] == ["month", "organisation", "jurisdiction", "victim"]
    scotland = next(r for r in rows if r[2] == "scotland")
    assert scotland[3] == ""  # 3 cases: suppressed, an empty field
