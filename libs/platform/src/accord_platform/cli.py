"""`accord`: run the whole platform, mint development tokens, walk a demo case."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import typer
from accord_kernel.dev_tokens import ensure_dev_keys, mint
from accord_kernel.identity import AGENCY_ROLES
from accord_kernel.settings import ServiceSettings
from rich.console import Console
from rich.text import Text

from accord_platform.services import (
    ServiceProcess,
    ServiceSpec,
    Supervised,
    Supervisor,
    service_processes,
    services_from,
)
from accord_platform.training.cli import app as training_app

if TYPE_CHECKING:
    from accord_platform.identity_provider import KeycloakServer

app = typer.Typer(add_completion=False, help="Accord: safe coordination of restorative justice.")
app.add_typer(training_app, name="training")
console = Console(stderr=True)
REPO = Path(__file__).resolve().parents[4]


def _data_dir(data_dir: Path | None) -> Path:
    return (data_dir or Path(os.environ.get("ACCORD_DATA_DIR", REPO / "data"))).resolve()


@app.command()
def token(
    agency: str = typer.Argument(..., help=f"one of {', '.join(AGENCY_ROLES)}"),
    role: str = typer.Argument(..., help="e.g. officer, advocate, facilitator, clerk"),
    user: str | None = typer.Option(None, help="the sub claim"),
    org: str | None = typer.Option(None, help="the org claim"),
    ttl: int = typer.Option(3600, help="lifetime in seconds"),
    data_dir: Path | None = typer.Option(None),
) -> None:
    """Print a development bearer token for an agency and role."""
    try:
        print(
            mint(
                _data_dir(data_dir) / "dev-keys",
                agency=agency,
                role=role,
                user=user,
                org=org,
                ttl_seconds=ttl,
            )
        )
    except ValueError as exc:
        console.print(
            f"[red]{exc}[/red]; roles: "
            + "; ".join(f"{a}: {', '.join(sorted(r))}" for a, r in AGENCY_ROLES.items())
        )
        raise typer.Exit(2) from exc


def _wait_healthy(
    started: float,
    stop: threading.Event,
    services: tuple[ServiceSpec, ...],
    keycloak: KeycloakServer | None = None,
) -> None:
    pending = {s.name: s for s in services}
    with httpx.Client(timeout=1.0) as client:
        while (pending or (keycloak is not None and not keycloak.answers())) and not stop.is_set():
            for name, spec in list(pending.items()):
                if _ready(client, spec):
                    del pending[name]
            time.sleep(0.3)
    if stop.is_set():
        return
    console.print(f"[bold green]Accord is up[/bold green] ({time.monotonic() - started:.1f} s)")
    for s in services:
        if s.name == "portal":
            continue
        # Plain lines, not a table: URLs must survive narrow terminals and log files whole.
        console.print(f"  {s.name:<15} {s.agency:<17} {s.url}   docs: {s.url}/docs", soft_wrap=True)
    if keycloak is not None:
        _print_dev_users(keycloak)
    portal = next((s for s in services if s.name == "portal"), None)
    if portal is not None:
        console.print(
            f"Staff portal: [bold]{portal.url}[/bold]  (sign in as north-police.officer to refer "
            "a case)",
            soft_wrap=True,
        )
    console.print(
        "Mint a token:  [bold]deploy/uv.sh run accord token police officer[/bold]   Stop: Ctrl-C"
    )


def _print_dev_users(keycloak: KeycloakServer) -> None:
    from accord_platform.identity_provider import DEV_PASSWORD, dev_users

    console.print(f"  {'keycloak':<15} {'identity':<17} {keycloak.issuer}", soft_wrap=True)
    console.print(
        f"Dev users (password [bold]{DEV_PASSWORD}[/bold]), username = organisation.role:",
        highlight=False,
    )
    by_org: dict[str, list[str]] = {}
    for user in dev_users(keycloak.realm_file):
        by_org.setdefault(user["org"], []).append(user["username"])
    for org, usernames in by_org.items():
        console.print(f"  {org:<15} {'  '.join(usernames)}", soft_wrap=True, highlight=False)


def _portal_env(
    portal: ServiceSpec,
    data: Path,
    services: tuple[ServiceSpec, ...],
    keycloak: KeycloakServer,
) -> dict[str, str]:
    """The staff portal of a local run: Keycloak's dev realm, the five services on loopback,
    sessions in a SQLite file under the data directory."""
    env = {
        **os.environ,
        "ACCORD_PORTAL_PORT": str(portal.port),
        "ACCORD_PORTAL_PUBLIC_URL": portal.url,
        "ACCORD_PORTAL_DATA_DIR": str(data / "portal"),
        "ACCORD_PORTAL_LOG_FORMAT": os.environ.get("ACCORD_PORTAL_LOG_FORMAT", "console"),
        "ACCORD_PORTAL_OIDC_ISSUER": keycloak.issuer,
        "PYTHONUNBUFFERED": "1",
    }
    for spec in services:
        env[f"ACCORD_PORTAL_{spec.name.replace('-', '_').upper()}_URL"] = spec.url
    env.pop("ACCORD_PORTAL_SESSION_DATABASE_URL", None)
    return env


def _ready(client: httpx.Client, spec: ServiceSpec) -> bool:
    try:
        return client.get(spec.url + spec.health).status_code == 200
    except httpx.HTTPError:
        return False


_COLOURS = ("cyan", "magenta", "yellow", "blue", "green", "bright_cyan", "bright_magenta")


def _show(name: str, line: str) -> None:
    # honcho-style prefix; the line itself verbatim (no markup, no highlighting, no wrapping)
    colour = _COLOURS[sum(name.encode()) % len(_COLOURS)]
    console.print(Text.assemble((f"{name:<15}| ", colour), line), soft_wrap=True, highlight=False)


def _say(message: str) -> None:
    console.print(
        Text.assemble((f"{'supervisor':<15}| ", "bold red"), message),
        soft_wrap=True,
        highlight=False,
    )


def _ignore_stop_signals() -> None:
    # A second Ctrl-C (or a SIGTERM sent to the whole process group as well as forwarded by
    # uv) must not cut the orderly stop short and leave half the platform running; every
    # child also dies with this process, should it be killed outright.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _stop_once(signum: int, frame: object) -> None:
    _ignore_stop_signals()
    raise KeyboardInterrupt


@app.command()
def run(
    data_dir: Path | None = typer.Option(None, help="where event stores and keys live"),
    kafka_port: int = 9092,
    opa_port: int = 8181,
    service_port: int = typer.Option(
        8101, help="the first of the five services' ports (referral; the others follow)"
    ),
    keycloak_port: int = typer.Option(8180, help="Keycloak's HTTP port (sign-in, tokens)"),
    keycloak_management_port: int = typer.Option(
        8190, help="Keycloak's management port (its default, 9000, is often taken)"
    ),
    with_keycloak: bool = typer.Option(
        True,
        "--keycloak/--no-keycloak",
        help="start Keycloak and the staff portal (the services then trust Keycloak's tokens)",
    ),
    portal_port: int = typer.Option(8100, help="the staff portal's port (needs Keycloak)"),
    restart_delay: float = typer.Option(
        0.5, help="pause before restarting a process that died; doubles per quick death"
    ),
    max_restart_delay: float = typer.Option(30.0, help="the longest such pause"),
    training: bool = typer.Option(
        False,
        help="a training deployment (SPEC 8): training banner and header, only training "
        "tokens (its own keys and Keycloak are its training realm), only synthetic data",
    ),
) -> None:
    """Start Kafka, OPA, Keycloak and all five services (SQLite event stores) until Ctrl-C.

    A process that dies is started again (after a pause that doubles, up to
    --max-restart-delay, with each death that follows less than a minute up); the rest of the
    platform keeps running. Ctrl-C or SIGTERM stops everything."""
    from accord_platform.identity_provider import KeycloakServer, keycloak_home
    from accord_platform.infra import (
        ChildServer,
        KafkaNode,
        OpaServer,
        port_is_free,
        provisioned,
    )

    services = services_from(service_port)
    wanted = {
        "Kafka": kafka_port,
        "Kafka controller": kafka_port + 1,
        "OPA": opa_port,
        **{s.name: s.port for s in services},
    }
    if with_keycloak:
        wanted["Keycloak"] = keycloak_port
        wanted["Keycloak management"] = keycloak_management_port
        wanted["portal"] = portal_port
    busy = {name: port for name, port in wanted.items() if not port_is_free(port)}
    if busy:
        # Another server answering on these ports would pass our health checks and the
        # platform would silently talk to it: refuse to start instead.
        console.print(
            "[red]Ports in use:[/red] "
            + ", ".join(f"{name} {port}" for name, port in busy.items())
            + ". Stop whatever listens there (an earlier `make run`?) and try again."
        )
        raise typer.Exit(1)
    # SIGTERM (a service manager, `kill`) stops the platform as Ctrl-C does.
    signal.signal(signal.SIGTERM, _stop_once)
    signal.signal(signal.SIGINT, _stop_once)
    started = time.monotonic()
    data = _data_dir(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    _, jwks = ensure_dev_keys(data / "dev-keys")
    paths = provisioned()
    kafka = KafkaNode(
        Path(paths["ACCORD_KAFKA_HOME"]),
        data / "kafka",
        port=kafka_port,
        controller_port=kafka_port + 1,
    )
    opa = OpaServer(Path(paths["ACCORD_OPA"]), REPO / "policies", data / "opa", port=opa_port)
    keycloak = (
        KeycloakServer(
            keycloak_home(paths),
            data / "keycloak",
            port=keycloak_port,
            management_port=keycloak_management_port,
        )
        if with_keycloak
        else None
    )
    # The services trust the dev tokens (`accord token`) and, when it runs, Keycloak.
    issuers: list[dict[str, Any]] = [
        {
            "issuer": str(ServiceSettings.model_fields["token_issuer"].default),
            "jwks_file": str(jwks),
        }
    ]
    if keycloak is not None:
        issuers += [keycloak.issuer_config(), keycloak.victims_issuer_config()]
    if training:
        # This run's own keys and Keycloak are its training realm: their tokens are training
        # tokens, which a live deployment refuses (accord_kernel.deployment).
        issuers = [{**issuer, "training": True} for issuer in issuers]

    def env_for(spec: ServiceSpec) -> dict[str, str]:
        env = {
            **os.environ,
            "ACCORD_PORT": str(spec.port),
            "ACCORD_DATA_DIR": str(data),
            "ACCORD_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
            "ACCORD_OPA_URL": f"http://127.0.0.1:{opa_port}",
            "ACCORD_JWKS_PATH": str(jwks),
            "ACCORD_TOKEN_ISSUERS": json.dumps(issuers),
            "ACCORD_TRAINING": "true" if training else "false",
            "PYTHONUNBUFFERED": "1",
        }
        # A person reads the local run's console; a deployment keeps the JSON default.
        env.setdefault("ACCORD_LOG_FORMAT", "console")
        env.pop("ACCORD_DATABASE_URL", None)
        return env

    processes = service_processes(services, Path(sys.executable).parent, env_for, _show)
    portal = (
        ServiceSpec("portal", "staff (browser)", portal_port, "accord-portal", "/health/live")
        if keycloak is not None
        else None
    )
    if portal is not None and keycloak is not None:
        processes.append(
            ServiceProcess(
                portal.name,
                [str(Path(sys.executable).parent / portal.command)],
                {
                    **_portal_env(portal, data, services, keycloak),
                    "ACCORD_PORTAL_TRAINING": "true" if training else "false",
                },
                _show,
            )
        )
    watched = services if portal is None else (*services, portal)
    by_name = {s.name: s for s in watched}

    def ready(child: Supervised) -> bool:
        if child.name in by_name:
            with httpx.Client(timeout=1.0) as client:
                return _ready(client, by_name[child.name])
        return isinstance(child, ChildServer) and child.answers()

    servers: list[ChildServer] = [kafka, opa] if keycloak is None else [kafka, opa, keycloak]
    supervisor = Supervisor(
        processes,
        servers,
        _say,
        first_delay=restart_delay,
        max_delay=max_restart_delay,
        ready=ready,
    )
    stop = threading.Event()
    try:
        kafka.start()
        opa.start()
        if keycloak is not None:
            # Not waited for here: the services start meanwhile (they fetch Keycloak's keys
            # only when its first token arrives) and "Accord is up" waits for it.
            keycloak.start()
        kafka.wait_ready(120)
        opa.wait_ready(30)
        console.print(f"Kafka on 127.0.0.1:{kafka_port}, OPA on 127.0.0.1:{opa_port}")
        for process in processes:
            process.start()
            _say(f"{process.name} started (pid {process.pid})")
        supervisor.adopt()
        threading.Thread(
            target=_wait_healthy, args=(started, stop, watched, keycloak), daemon=True
        ).start()
        supervisor.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        _ignore_stop_signals()
        console.print("Stopping Accord...")
        supervisor.stop()
        console.print("Accord stopped.")


@app.command()
def report(
    scope: str = typer.Option("organisation", help="organisation (managers) or region"),
    first: str | None = typer.Option(None, "--from", help="first month, YYYY-MM"),
    last: str | None = typer.Option(None, "--to", help="last month, YYYY-MM"),
    jurisdiction: str | None = typer.Option(None, help="only this jurisdiction"),
    csv_dir: Path | None = typer.Option(None, "--csv", help="also write one CSV per table here"),
    url: str = typer.Option("http://127.0.0.1:8106", help="the reporting service"),
    bearer: str | None = typer.Option(
        None, "--token", envvar="ACCORD_TOKEN", help="a bearer token (default: a dev token)"
    ),
    agency: str = typer.Option("police", help="dev token's agency"),
    role: str = typer.Option("manager", help="dev token's role"),
    org: str | None = typer.Option(None, help="dev token's organisation"),
    data_dir: Path | None = typer.Option(None),
) -> None:
    """Print the reporting tables (suppressed counts shown as *) and optionally write CSV."""
    from accord_platform.report import fetch_report, render, write_csv

    token_value = bearer or mint(
        _data_dir(data_dir) / "dev-keys", agency=agency, role=role, user="cli-report", org=org
    )
    try:
        figures = fetch_report(url, token_value, scope, first, last, jurisdiction)
    except (RuntimeError, httpx.HTTPError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    render(figures, Console())
    if csv_dir is not None:
        for path in write_csv(figures, csv_dir):
            console.print(f"wrote {path}")


@app.command()
def demo(
    base: str = typer.Option("http://127.0.0.1", help="where the platform runs"),
    data_dir: Path | None = typer.Option(None),
    service_port: int = typer.Option(
        8101,
        help="the first of the five services' ports (18101 for docker-compose.yml's default)",
    ),
) -> None:
    """Walk one case through the whole journey as each agency and print the timeline."""
    from accord_platform.demo import walk

    raise typer.Exit(
        walk(base, _data_dir(data_dir) / "dev-keys", console, services_from(service_port))
    )


@app.command("config-docs")
def config_docs(
    output: Path = typer.Option(REPO / "docs" / "configuration.md", help="where to write"),
    check: bool = typer.Option(False, help="only check that the page is up to date"),
) -> None:
    """Write docs/configuration.md from the settings classes (every setting, default, meaning)."""
    from accord_platform.configuration import render

    page = render()
    if check:
        if not output.exists() or output.read_text() != page:
            console.print(f"{output} is out of date: run `accord config-docs`")
            raise typer.Exit(1)
        console.print(f"{output} is up to date")
        return
    output.write_text(page)
    console.print(f"wrote {output}")


@app.command()
def asyncapi(
    output: Path = typer.Option(REPO / "docs" / "asyncapi.yaml", help="Where to write it."),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; fail if the file is not what the code generates."
    ),
) -> None:
    """Write the AsyncAPI 3.0 document of the bus, generated from the event contracts."""
    from accord_platform.asyncapi import document, render

    text = render(document())
    if check:
        current = output.read_text() if output.exists() else ""
        if current != text:
            console.print(f"{output} is out of date: run `accord asyncapi`")
            raise typer.Exit(1)
        console.print(f"{output} is up to date")
        return
    output.write_text(text)
    console.print(f"wrote {output}")


_STORE_HELP = (
    "PostgreSQL database of the services' schemas and the audit log (postgresql://...); "
    "unset: the SQLite stores in --data-dir"
)


@app.command()
def backup(
    archive: Path = typer.Argument(..., help="a new directory for the archive"),
    database_url: str | None = typer.Option(None, envvar="ACCORD_DATABASE_URL", help=_STORE_HELP),
    data_dir: Path | None = typer.Option(None, help="the SQLite stores (default ./data)"),
    kafka_bootstrap: str | None = typer.Option(
        None, help="also record the consumer groups' committed offsets (for restore)"
    ),
    consumer_group: list[str] = typer.Option(
        [], help="a consumer group to record (repeat; default: the five service names)"
    ),
) -> None:
    """Back up every service's store and the audit log, with a manifest (checksums, time,
    the audit log's checkpoint at backup)."""
    from accord_platform.backup import SERVICE_NAMES, BackupError, backup_postgres, backup_sqlite

    groups = consumer_group or list(SERVICE_NAMES)
    try:
        if database_url:
            backup_postgres(database_url, archive, console.print, kafka_bootstrap, groups)
        else:
            backup_sqlite(_data_dir(data_dir), archive, console.print, kafka_bootstrap, groups)
    except BackupError as exc:
        console.print(f"[red]backup failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"backup written to {archive}")


@app.command()
def restore(
    archive: Path = typer.Argument(..., help="an archive written by `accord backup`"),
    database_url: str | None = typer.Option(
        None, envvar="ACCORD_DATABASE_URL", help="the (empty) database to restore into"
    ),
    data_dir: Path | None = typer.Option(None, help="the (empty) SQLite directory"),
    kafka_bootstrap: str | None = typer.Option(
        None, help="rewind the recorded consumer groups to their offsets at backup"
    ),
) -> None:
    """Restore an archive into an empty database (or data directory), after checking every
    file's checksum. Stop the services first; start them against the restored store after."""
    from accord_platform.backup import BackupError, restore_postgres, restore_sqlite

    try:
        if database_url:
            restore_postgres(archive, database_url, console.print, kafka_bootstrap)
        else:
            restore_sqlite(archive, _data_dir(data_dir), console.print, kafka_bootstrap)
    except BackupError as exc:
        console.print(f"[red]restore failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print("restored; start the services against it")
