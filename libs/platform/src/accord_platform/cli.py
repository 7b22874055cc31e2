"""`accord`: run the whole platform, mint development tokens, walk a demo case."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import httpx
import typer
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.identity import AGENCY_ROLES
from rich.console import Console

from accord_platform.services import SERVICES

app = typer.Typer(add_completion=False, help="Accord: safe coordination of restorative justice.")
console = Console(stderr=True)
REPO = Path(__file__).resolve().parents[4]


def _data_dir(data_dir: Path | None) -> Path:
    return (data_dir or Path(os.environ.get("ACCORD_DATA_DIR", REPO / "data"))).resolve()


@app.command()
def token(agency: str = typer.Argument(..., help=f"one of {', '.join(AGENCY_ROLES)}"),
          role: str = typer.Argument(..., help="e.g. officer, advocate, facilitator, clerk"),
          user: str | None = typer.Option(None, help="the sub claim"),
          org: str | None = typer.Option(None, help="the org claim"),
          ttl: int = typer.Option(3600, help="lifetime in seconds"),
          data_dir: Path | None = typer.Option(None)) -> None:
    """Print a development bearer token for an agency and role."""
    try:
        print(mint(_data_dir(data_dir) / "dev-keys", agency=agency, role=role, user=user,
                   org=org, ttl_seconds=ttl))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]; roles: " + "; ".join(
            f"{a}: {', '.join(sorted(r))}" for a, r in AGENCY_ROLES.items()))
        raise typer.Exit(2) from exc


def _wait_healthy(started: float, stop: threading.Event) -> None:
    pending = {s.name: s for s in SERVICES}
    with httpx.Client(timeout=1.0) as client:
        while pending and not stop.is_set():
            for name, spec in list(pending.items()):
                try:
                    if client.get(spec.url + "/health/ready").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
    if stop.is_set():
        return
    console.print(f"[bold green]Accord is up[/bold green] ({time.monotonic() - started:.1f} s)")
    for s in SERVICES:
        # Plain lines, not a table: URLs must survive narrow terminals and log files whole.
        console.print(f"  {s.name:<15} {s.agency:<17} {s.url}   docs: {s.url}/docs",
                      soft_wrap=True)
    console.print("Mint a token:  [bold]deploy/uv.sh run accord token police officer[/bold]   "
                  "Stop: Ctrl-C")


@app.command()
def run(data_dir: Path | None = typer.Option(None, help="where event stores and keys live"),
        kafka_port: int = 9092, opa_port: int = 8181) -> None:
    """Start Kafka, OPA and all five services (SQLite event stores) until Ctrl-C."""
    from honcho.manager import Manager

    from accord_platform.infra import KafkaNode, OpaServer, port_is_free, provisioned

    wanted = {"Kafka": kafka_port, "Kafka controller": kafka_port + 1, "OPA": opa_port,
              **{s.name: s.port for s in SERVICES}}
    busy = {name: port for name, port in wanted.items() if not port_is_free(port)}
    if busy:
        # Another server answering on these ports would pass our health checks and the
        # platform would silently talk to it: refuse to start instead.
        console.print("[red]Ports in use:[/red] " + ", ".join(
            f"{name} {port}" for name, port in busy.items())
            + ". Stop whatever listens there (an earlier `make run`?) and try again.")
        raise typer.Exit(1)
    started = time.monotonic()
    data = _data_dir(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    _, jwks = ensure_dev_keys(data / "dev-keys")
    paths = provisioned()
    kafka = KafkaNode(Path(paths["ACCORD_KAFKA_HOME"]), data / "kafka", port=kafka_port,
                      controller_port=kafka_port + 1)
    opa = OpaServer(Path(paths["ACCORD_OPA"]), REPO / "policies", data / "opa", port=opa_port)
    kafka.start()
    opa.start()
    stop = threading.Event()
    try:
        kafka.wait_ready(120)
        opa.wait_ready(30)
        console.print(f"Kafka on 127.0.0.1:{kafka_port}, OPA on 127.0.0.1:{opa_port}")
        manager = Manager()
        bin_dir = Path(sys.executable).parent
        for s in SERVICES:
            env = {**os.environ, "ACCORD_PORT": str(s.port), "ACCORD_DATA_DIR": str(data),
                   "ACCORD_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
                   "ACCORD_OPA_URL": f"http://127.0.0.1:{opa_port}",
                   "ACCORD_JWKS_PATH": str(jwks), "PYTHONUNBUFFERED": "1"}
            env.pop("ACCORD_DATABASE_URL", None)
            manager.add_process(s.name, f"{bin_dir / s.command} all", env=env)
        threading.Thread(target=_wait_healthy, args=(started, stop), daemon=True).start()
        manager.loop()
    finally:
        stop.set()
        opa.stop()
        kafka.stop()
        console.print("Accord stopped.")


@app.command()
def demo(base: str = typer.Option("http://127.0.0.1", help="where the platform runs"),
         data_dir: Path | None = typer.Option(None)) -> None:
    """Walk one case through the whole journey as each agency and print the timeline."""
    from accord_platform.demo import walk

    raise typer.Exit(walk(base, _data_dir(data_dir) / "dev-keys", console))
