"""One benchmark run's figures, as printed to the terminal and as `bench/results/<name>.json`,
the file `docs/benchmarks.md` is written from."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.machine import describe, load_average
from bench.measure import Stopwatch, ratio, with_unit

RESULTS_DIR = Path(__file__).resolve().parent / "results"
Cell = str | int | float | None

# Wide even when piped to a file: the tables are for reading, not for an 80-column tty.
out = Console(width=max(Console().width, 140))


class BenchmarkResult:
    """Figures of one run. Every ratio names its baseline, measured in the same run."""

    def __init__(
        self, name: str, title: str, issue: int, argv: list[str], parameters: dict[str, Any]
    ) -> None:
        self.name = name
        self.argv = argv
        self.title = title
        self.issue = issue
        self.parameters = parameters
        self.started_at = datetime.now(UTC)
        self.clock = Stopwatch()
        self.load_before = load_average()
        self.method: list[str] = []
        self.tables: list[dict[str, Any]] = []
        self.ratios: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.figures: dict[str, Any] = {}

    def table(self, title: str, columns: list[str], rows: list[list[Cell]]) -> None:
        self.tables.append({"title": title, "columns": columns, "rows": rows})
        shown = Table(title=title, title_justify="left")
        for column in columns:
            shown.add_column(column, justify="left" if column == columns[0] else "right")
        for row in rows:
            shown.add_row(*(_cell(value) for value in row))
        out.print(shown)

    def ratio(
        self, what: str, measured: float, baseline: float, baseline_name: str, unit: str
    ) -> float:
        """`measured` / `baseline`, recorded and printed; for throughputs pass them so that
        the ratio reads "times slower" like the latencies (baseline rate / measured rate)."""
        value = ratio(measured, baseline)
        self.ratios.append(
            {
                "what": what,
                "ratio": value,
                "measured": float(f"{measured:.6g}"),
                "baseline": float(f"{baseline:.6g}"),
                "baseline_name": baseline_name,
                "unit": unit,
            }
        )
        out.print(
            f"[bold]{what}[/bold]: {value:.2f}x {baseline_name} "
            f"({with_unit(measured, unit)} vs {with_unit(baseline, unit)})"
        )
        return value

    def note(self, text: str) -> None:
        self.notes.append(text)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "issue": self.issue,
            "command": command_line(self.name, self.argv),
            "parameters": self.parameters,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "duration_seconds": round(self.clock.elapsed(), 1),
            "load_average_before": self.load_before,
            "load_average_after": load_average(),
            "machine": describe(),
            "method": self.method,
            "tables": self.tables,
            "ratios": self.ratios,
            "notes": self.notes,
            "figures": self.figures,
        }

    def save(self) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.name}.json"
        path.write_text(json.dumps(self.as_json(), indent=2, sort_keys=False) + "\n")
        out.print(f"results written to {path}")
        return path


def command_line(name: str, argv: list[str]) -> str:
    """How to repeat this run: the module and the arguments it was given."""
    return " ".join(["uv run python -m", f"bench.{name}", *map(shlex.quote, argv)])


def load_results(directory: Path = RESULTS_DIR) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def _cell(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value
