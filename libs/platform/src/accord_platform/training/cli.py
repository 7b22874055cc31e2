"""`accord training`: a trainer's commands against a running training deployment (for example
`make training`): create a cohort, watch its progress, reset it, and debrief it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import typer
from rich.console import Console
from rich.table import Table

from accord_platform.services import services_from
from accord_platform.training import cohort as cohorts
from accord_platform.training.debrief import Debrief, debrief
from accord_platform.training.page import render_page
from accord_platform.training.play import Player
from accord_platform.training.scenario import load_library

REPO = Path(__file__).resolve().parents[4]
TRAINING_PORT = 8201
console = Console()
app = typer.Typer(add_completion=False, help="The training sandbox (SPEC 8).")
cohort_app = typer.Typer(add_completion=False, help="Cohorts of trainees.")
app.add_typer(cohort_app, name="cohort")
T = TypeVar("T")

DataDir = typer.Option(None, help="the training deployment's data directory (its dev keys)")
ServicePort = typer.Option(TRAINING_PORT, help="the training deployment's first service port")


def _data(data_dir: Path | None) -> Path:
    default = Path(os.environ.get("ACCORD_DATA_DIR", REPO / "data-training"))
    return (data_dir or default).resolve()


def _with_player(data: Path, service_port: int, work: Callable[[Player], Awaitable[T]]) -> T:
    async def main() -> T:
        services = services_from(service_port)
        clients = {s.name: httpx.AsyncClient(base_url=s.url, timeout=10) for s in services}
        try:
            return await work(Player(clients, data / "dev-keys"))
        finally:
            for client in clients.values():
                await client.aclose()

    return asyncio.run(main())


def _write_tokens(data: Path, cohort: cohorts.Cohort) -> Path:
    path = data / "training" / "tokens.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cohorts.tokens(data / "dev-keys", cohort), indent=2))
    path.chmod(0o600)
    return path


@cohort_app.command("create")
def create(
    trainees: int = typer.Option(..., min=1, max=200, help="how many trainees"),
    seed: int = typer.Option(..., min=0, help="the synthetic data's seed"),
    data_dir: Path | None = DataDir,
    service_port: int = ServicePort,
) -> None:
    """Each trainee gets their own copy of each scenario, set up through the APIs."""
    data = _data(data_dir)
    library = load_library()
    cohort = _with_player(data, service_port, lambda p: cohorts.create(p, seed, trainees, library))
    saved = cohort.save(data / "training")
    console.print(
        f"cohort of {trainees} trainee(s), {len(library)} scenario(s) each, seed {seed}: {saved}"
    )
    console.print(f"training tokens per trainee and role: {_write_tokens(data, cohort)}")


@cohort_app.command("reset")
def reset(data_dir: Path | None = DataDir, service_port: int = ServicePort) -> None:
    """Every trainee back at the start of every scenario (new cases, the same people)."""
    data = _data(data_dir)
    library = load_library()
    old = cohorts.Cohort.load(data / "training", library)
    cohort = _with_player(data, service_port, lambda p: cohorts.reset(p, old, library))
    cohort.save(data / "training")
    _write_tokens(data, cohort)
    console.print(f"cohort reset: generation {cohort.generation}, {len(cohort.copies)} copies")


def _table(reports: list[Debrief]) -> Table:
    table = Table("trainee", "scenario", "case", "differences")
    for report in reports:
        table.add_row(
            report.trainee,
            report.scenario,
            str(report.facts.get("rj_case.status") or report.facts.get("referral.status")),
            str(len(report.differences)) if report.differences else "none",
        )
    return table


@cohort_app.command("status")
def status(data_dir: Path | None = DataDir, service_port: int = ServicePort) -> None:
    """Where every trainee stands in every scenario."""
    data = _data(data_dir)
    cohort = cohorts.Cohort.load(data / "training")
    console.print(_table(_with_player(data, service_port, lambda p: cohorts.progress(p, cohort))))


@app.command("debrief")
def debrief_command(
    trainee: str | None = typer.Option(None, help="one trainee (default: all)"),
    scenario: str | None = typer.Option(None, help="one scenario (default: all)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    html: Path | None = typer.Option(None, help="also write one debrief page per trainee here"),
    data_dir: Path | None = DataDir,
    service_port: int = ServicePort,
) -> None:
    """What happened against what each scenario expects, each difference in practice terms."""
    data = _data(data_dir)
    cohort = cohorts.Cohort.load(data / "training")
    copies = [
        c
        for c in cohort.copies
        if (trainee is None or c.trainee == trainee)
        and (scenario is None or c.scenario.id == scenario)
    ]

    async def all_of(player: Player) -> list[Debrief]:
        return [await debrief(player, c) for c in copies]

    reports = _with_player(data, service_port, all_of)
    if html is not None:
        html.mkdir(parents=True, exist_ok=True)
        for name in dict.fromkeys(r.trainee for r in reports):
            page = html / f"debrief-{name}.html"
            page.write_text(render_page(name, [r for r in reports if r.trainee == name]))
            console.print(f"wrote {page}", style="dim")
    if as_json:
        console.print_json(json.dumps([r.to_json() for r in reports]))
        return
    for report in reports:
        console.rule(f"{report.trainee}: {report.title}")
        if not report.differences:
            console.print("[green]As the scenario expects.[/green]")
        for difference in report.differences:
            note = " (the platform refuses this)" if difference.refused_by_platform else ""
            console.print(f"[yellow]-[/yellow] {difference.explanation}{note}")
        console.print("Practice points:")
        for point in report.practice_points:
            console.print(f"  * {point}")
