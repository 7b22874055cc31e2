"""Real Kafka, OPA and PostgreSQL servers as child processes, for `accord run` and the tests.

Every server binds to 127.0.0.1 only and keeps its state in a data directory it is given, so a
test session and a development platform can run side by side on one machine. The binaries come
from `deploy/provision.sh` (pinned in `deploy/versions.env`); nothing here downloads anything.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import os
import pwd
import random
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
import psycopg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from psycopg import sql

REPO = Path(__file__).resolve().parents[4]
KAFKA_TEMPLATES = REPO / "deploy" / "kafka"
LOOPBACK = "127.0.0.1"
PROVISIONED_PATHS = ("ACCORD_KAFKA_HOME", "ACCORD_OPA", "ACCORD_PG_BIN")
POLL_SECONDS = 0.2


class InfrastructureError(RuntimeError):
    """A server could not be prepared, started, reached or stopped."""


# --- ports -------------------------------------------------------------------------------------

_ports_lock = threading.Lock()
_ports_handed_out: set[int] = set()
# Below Linux's ephemeral range (32768-60999): a port picked there could be taken by the local
# end of some outgoing connection between our check and the server's bind.
_FALLBACK_PORTS = range(20000, 32000)
# The fixed ports of the local run (`make run`: portal 8100, the services 8101-8106, Keycloak
# 8180 and 9000, OPA 8181, Kafka 9092-9093, the local PostgreSQL) and of `make training`
# (8200-8206, 8280, 8281, 8290, 9192-9193): never handed out, even while free, so tests and
# benchmarks started beside a running platform cannot take a port it is about to bind (or
# rebind after a restart).
RESERVED_PORTS = frozenset(
    {
        *range(8100, 8107),
        8180,
        8181,
        9000,
        9092,
        9093,
        *range(8200, 8207),
        8280,
        8281,
        8290,
        9192,
        9193,
        55432,
    }
)


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The servers themselves set SO_REUSEADDR, so a port only in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None) -> int:
    """`preferred` when it is free, otherwise another free port.

    A port is never handed out twice by one process, so several servers configured before any
    of them binds do not collide with each other. The local run's fixed ports
    (`RESERVED_PORTS`) are never handed out, not even when asked for by name."""
    with _ports_lock:
        if (
            preferred is not None
            and preferred not in RESERVED_PORTS
            and preferred not in _ports_handed_out
            and port_is_free(preferred)
        ):
            _ports_handed_out.add(preferred)
            return preferred
        chooser = random.Random()
        for _ in range(500):
            port = chooser.choice(_FALLBACK_PORTS)
            if port not in RESERVED_PORTS and port not in _ports_handed_out and port_is_free(port):
                _ports_handed_out.add(port)
                return port
    raise InfrastructureError("no free TCP port on 127.0.0.1")


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- provisioning ------------------------------------------------------------------------------


def provisioned(environ: Mapping[str, str] | None = None, repo: Path = REPO) -> dict[str, str]:
    """The `ACCORD_*` paths of the pinned infrastructure.

    Taken from the environment when `eval "$(deploy/provision.sh)"` already exported them,
    otherwise by running the (idempotent) provisioning script once."""
    env = os.environ if environ is None else environ
    if all(env.get(name) for name in PROVISIONED_PATHS):
        return {name: value for name, value in env.items() if name.startswith("ACCORD_")}
    script = repo / "deploy" / "provision.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InfrastructureError(f"{script} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return parse_exports(done.stdout)


def parse_exports(script_output: str) -> dict[str, str]:
    """The `export NAME="value"` lines a provisioning script prints, as a mapping."""
    exported: dict[str, str] = {}
    for line in script_output.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            exported[name] = value
    missing = [name for name in PROVISIONED_PATHS if name not in exported]
    if missing:
        raise InfrastructureError(f"provisioning did not export {', '.join(missing)}")
    return exported


# --- child processes ---------------------------------------------------------------------------

_running: set[ChildServer] = set()
_running_lock = threading.Lock()


def _track(server: ChildServer, running: bool) -> None:
    with _running_lock:
        if running:
            _running.add(server)
        else:
            _running.discard(server)


@atexit.register
def _stop_leftovers() -> None:
    # Last line of defence against orphaned brokers and databases when an owner forgot stop():
    # a normal interpreter exit (also after an unhandled KeyboardInterrupt) stops them here.
    with _running_lock:
        leftovers = list(_running)
    for server in leftovers:
        try:
            server.stop(timeout=15)
        except Exception:
            server.kill()


def _parent_death_options() -> list[str]:
    """`setpriv` options that make a server die with the process that started it, so a test
    session killed outright leaves no orphaned brokers or databases behind.

    Only from the main thread: Linux delivers the signal when the *thread* that forked the child
    exits, so a server started from a short-lived worker thread would be killed with it."""
    if threading.current_thread() is not threading.main_thread():
        return []
    return ["--pdeathsig", "TERM"]


def dies_with_parent() -> list[str]:
    """The `setpriv` prefix for a child that must die with this process (see
    `_parent_death_options`); empty where that cannot be arranged."""
    options = _parent_death_options()
    setpriv = shutil.which("setpriv")
    return [setpriv, *options, "--"] if options and setpriv else []


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"


class ChildServer(ABC):
    """A long-running server process that this process starts, watches and stops."""

    name: str = "server"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def output_file(self) -> Path:
        """Where the process's own stdout and stderr go (JVM crashes, fatal start-up errors)."""
        return self.data_dir / f"{self.name}.out"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.running and self.process else None

    def exit_code(self) -> int | None:
        """None while it runs (or before its first start), otherwise how it ended (negative:
        the signal that killed it); for a supervisor."""
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        """Asks for the server's orderly shutdown (SIGTERM) without waiting for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    @abstractmethod
    def command(self) -> list[str]:
        """The argv that runs the server in the foreground."""

    @abstractmethod
    def answers(self) -> bool:
        """One readiness probe: does the server do its job for a client right now?"""

    def identity_options(self) -> list[str]:
        """`setpriv` options for the user the server must run as; none to run as ourselves."""
        return []

    def prepare(self) -> None:
        """Work before a start that needs no running server (configuration, storage); safe to
        repeat."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self.prepare()
        self.launch()

    def launch(self) -> None:
        """Starts the prepared server and returns at once; wait_ready() waits for it."""
        if self.running:
            return
        # One setpriv for both: a change of user after --pdeathsig would clear the signal.
        options = [*_parent_death_options(), *self.identity_options()]
        setpriv = shutil.which("setpriv")
        launcher = [setpriv, *options, "--"] if options and setpriv else []
        if self.identity_options() and not launcher:
            raise InfrastructureError(f"{self.name} must change user but setpriv is missing")
        with self.output_file.open("ab") as output:
            self.process = subprocess.Popen(
                [*launcher, *self.command()],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C in the terminal reaches only us, and we stop the server
                # in order instead of it dying half-way through a write.
                start_new_session=True,
            )
        _track(self, True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise InfrastructureError(self._failure("exited during start-up"))
            if self.answers():
                return
            if time.monotonic() > deadline:
                raise InfrastructureError(self._failure(f"not ready after {timeout:.0f} s"))
            time.sleep(POLL_SECONDS)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (the server's own orderly shutdown), then SIGKILL if it takes too long."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _track(self, False)

    def kill(self) -> None:
        """SIGKILL, as in a crash: for fault-injection tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        _track(self, False)

    def _failure(self, what: str) -> str:
        code = self.process.poll() if self.process else None
        return (
            f"{self.name} {what} (exit code {code}); data in {self.data_dir}\n"
            f"{_tail(self.output_file)}"
        )


# --- Kafka -------------------------------------------------------------------------------------


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid).

    Like Kafka's own generator, never one starting with '-', which the CLI would take for an
    option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


async def _kafka_answers(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        with contextlib.suppress(KafkaError, OSError):
            await admin.close()
    # The broker lists itself only once it has registered with the controller and is unfenced,
    # which is when producers can actually write.
    return cluster.get("controller_id", -1) >= 0 and any(
        broker.get("node_id") == KafkaNode.node_id for broker in cluster.get("brokers", [])
    )


def _on_fresh_loop(coroutine_factory: Callable[[], Any]) -> Any:
    # wait_ready() is synchronous but may be called from inside a running event loop (an async
    # test or fixture), where asyncio.run() is refused; a thread gets a loop of its own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-probe") as pool:
        return pool.submit(lambda: asyncio.run(coroutine_factory())).result()


class KafkaNode(ChildServer):
    """One KRaft node that is both broker and controller."""

    name = "kafka"
    node_id = 1

    def __init__(
        self,
        home: Path,
        data_dir: Path,
        port: int = 9092,
        controller_port: int = 9093,
        heap: str = "512m",
        java: str = "java",
    ) -> None:
        super().__init__(data_dir)
        self.home = home
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.java = java

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log4j_file(self) -> Path:
        return self.data_dir / "log4j2.properties"

    @property
    def log_file(self) -> Path:
        """The broker's own log: warnings and errors only."""
        return self.data_dir / "kafka.log"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "kraft"

    @property
    def cluster_id(self) -> str:
        """Generated on first use and kept, because the storage is formatted for this id."""
        stored = self.data_dir / "cluster.id"
        if not stored.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            stored.write_text(new_cluster_id() + "\n")
        return stored.read_text().strip()

    def write_config(self) -> None:
        """Renders `deploy/kafka/*.template` into the data directory (every start: ports may
        have changed since the last run, the storage has not)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        values = {
            "port": self.port,
            "controller_port": self.controller_port,
            "log_dirs": self.log_dirs,
            "log_file": self.log_file,
        }
        for template, target in (
            ("server.properties.template", self.config_file),
            ("log4j2.properties.template", self.log4j_file),
        ):
            text = (KAFKA_TEMPLATES / template).read_text()
            target.write_text(Template(text).substitute(values))

    def format_storage(self) -> None:
        """`StorageTool format`, once: a formatted log directory has a `meta.properties`."""
        if (self.log_dirs / "meta.properties").exists():
            return
        done = subprocess.run(
            [
                *self._java_prefix(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                self.cluster_id,
                "-c",
                str(self.config_file),
            ],
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise InfrastructureError(
                f"formatting Kafka storage in {self.log_dirs} failed ({done.returncode}):\n"
                f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )

    def prepare(self) -> None:
        super().prepare()
        self.write_config()
        self.format_storage()

    def command(self) -> list[str]:
        return [*self._java_prefix(heap=True), "kafka.Kafka", str(self.config_file)]

    def answers(self) -> bool:
        # A cheap socket check first: the admin client logs an error for every refused attempt.
        if not _accepts_connections(self.port):
            return False
        return bool(_on_fresh_loop(lambda: _kafka_answers(self.bootstrap)))

    def _java_prefix(self, heap: bool = False) -> list[str]:
        options = [f"-Dlog4j2.configurationFile={self.log4j_file}", "-Djava.awt.headless=true"]
        if heap:
            options += [
                f"-Xmx{self.heap}",
                "-Xms128m",
                "-XX:+UseG1GC",
                "-XX:+ExitOnOutOfMemoryError",
            ]
        return [self.java, *options, "-cp", str(self.home / "libs" / "*")]

    def _failure(self, what: str) -> str:
        return f"{super()._failure(what)}\n--- {self.log_file.name}:\n{_tail(self.log_file)}"


# --- OPA ---------------------------------------------------------------------------------------


class OpaServer(ChildServer):
    """The policy engine, serving the Rego and data under `policy_dir`."""

    name = "opa"

    def __init__(self, opa_bin: Path, policy_dir: Path, data_dir: Path, port: int = 8181) -> None:
        super().__init__(data_dir)
        self.opa_bin = opa_bin
        self.policy_dir = policy_dir
        self.port = port

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def decision_log(self) -> Path:
        """Decision logs (one JSON object a line, masked by `policies/system/log`) and errors."""
        return self.output_file

    def command(self) -> list[str]:
        # --log-level error keeps OPA's own chatter out; the console decision logger is separate
        # and still writes every decision.
        return [
            str(self.opa_bin),
            "run",
            "--server",
            "--addr",
            f"{LOOPBACK}:{self.port}",
            "--log-level",
            "error",
            "--disable-telemetry",
            "--set",
            "decision_logs.console=true",
            str(self.policy_dir),
        ]

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health?bundles", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


# --- PostgreSQL --------------------------------------------------------------------------------


class PostgresCluster(ChildServer):
    """A private PostgreSQL cluster made with `initdb` in its own data directory.

    Debian's `pg_ctlcluster` manages clusters under /etc/postgresql and /var/lib/postgresql,
    shared by the whole machine and needing root; a private data directory gives each test
    session and each developer a throwaway cluster on a port of its own, without touching (or
    colliding with) a system cluster, with the same PostgreSQL 15 binaries.

    The postmaster runs in the foreground as this process's child (the command `pg_ctl start`
    would run, with the same options) rather than daemonized by `pg_ctl`: a daemonized
    postmaster that is killed stays a zombie until init reaps it, which container inits do
    only now and then, and PostgreSQL's stale-lock check takes the zombie for a live server and
    refuses to start again; a child is reaped at once, and dies with a killed test session."""

    name = "postgres"
    superuser = "postgres"
    os_user = "postgres"

    def __init__(self, pg_bin: Path, data_dir: Path, port: int = 55432) -> None:
        super().__init__(data_dir)
        self.pg_bin = pg_bin
        self.port = port
        self.host = LOOPBACK
        self._passwords: dict[str, str] = {}

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def output_file(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def log_file(self) -> Path:
        return self.output_file

    def prepare(self) -> None:
        """`initdb` once: trust authentication, because the cluster listens only on 127.0.0.1
        and on a Unix socket inside its own data directory."""
        super().prepare()
        self._hand_to_cluster_owner()
        if (self.pgdata / "PG_VERSION").exists():
            return
        self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            self.superuser,
            "--auth-local=trust",
            "--auth-host=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )

    def identity_options(self) -> list[str]:
        # PostgreSQL refuses to run as root. setpriv rather than runuser for the long-running
        # server: it changes user and execs, so the child we watch and signal is the postmaster
        # itself, not a runuser parent.
        if os.geteuid() != 0:
            return []
        return [f"--reuid={self.os_user}", f"--regid={self.os_user}", "--init-groups"]

    def command(self) -> list[str]:
        return [
            str(self.pg_bin / "postgres"),
            "-D",
            str(self.pgdata),
            "-p",
            str(self.port),
            "-k",
            str(self.data_dir),
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            "fsync=off",
            "-c",
            # One cluster serves a whole test session: replica tests alone run ten service
            # processes, each with its pool, its relay's leadership connection and listener.
            "max_connections=500",
        ]

    def answers(self) -> bool:
        probe = subprocess.run(
            [
                str(self.pg_bin / "pg_isready"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.superuser,
                "-d",
                "postgres",
                "-t",
                "1",
            ],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT, as `pg_ctl stop -m fast`): sessions are cut, committed data
        is kept and checkpointed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        _track(self, False)

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend, as in a crash: for fault tests."""
        if self.process is not None and self.process.poll() is None:
            # The postmaster leads its own process group (start_new_session) and backends
            # inherit it, so one signal takes them all down together.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        _track(self, False)

    def restart(self, timeout: float = 60.0) -> None:
        self.stop(timeout)
        self.start()
        self.wait_ready(timeout)

    def create_role(self, name: str, password: str) -> None:
        """A login role; an existing one gets the new password."""
        with self.connect() as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)
            ).fetchone()
            verb = "ALTER" if exists else "CREATE"
            connection.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
        self._passwords[name] = password

    def create_database(self, name: str, owner: str | None = None) -> None:
        """A database, unless it exists (so a kept data directory can be started again)."""
        with self.connect() as connection:
            if connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone():
                return
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if owner is not None:
                statement += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
            connection.execute(statement)

    def url(self, db: str, user: str | None = None) -> str:
        """`postgresql+psycopg://user:password@127.0.0.1:port/db`, for URL-configured clients
        (ACCORD_DATABASE_URL, SQLAlchemy)."""
        user = user or self.superuser
        password = self._passwords.get(user)
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        return f"postgresql+psycopg://{credentials}@{self.host}:{self.port}/{quote(db, safe='')}"

    def conninfo(self, db: str, user: str | None = None) -> str:
        """The same connection as a libpq keyword/value string, for psycopg.connect()."""
        user = user or self.superuser
        parts = {"host": self.host, "port": str(self.port), "dbname": db, "user": user}
        if user in self._passwords:
            parts["password"] = self._passwords[user]
        return psycopg.conninfo.make_conninfo(**parts)

    def connect(self, db: str = "postgres", user: str | None = None) -> psycopg.Connection[Any]:
        # Autocommit, because CREATE DATABASE refuses to run inside a transaction block.
        return psycopg.connect(self.conninfo(db, user), autocommit=True)

    def _run(self, program: str, *args: str) -> None:
        # initdb refuses to run as root: as root, run it as the postgres user.
        as_owner = ["runuser", "-u", self.os_user, "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_owner, str(self.pg_bin / program), *args],
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise InfrastructureError(
                f"{program} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )

    def _hand_to_cluster_owner(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            owner = pwd.getpwnam(self.os_user)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    self.os_user,
                ],
                capture_output=True,
                check=True,
            )
            owner = pwd.getpwnam(self.os_user)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            os.lchown(path, owner.pw_uid, owner.pw_gid)
        reachable = subprocess.run(
            ["runuser", "-u", self.os_user, "--", "test", "-w", str(self.data_dir)],
            capture_output=True,
            check=False,
        )
        if reachable.returncode != 0:
            raise InfrastructureError(
                f"the {self.os_user} user cannot write {self.data_dir}: every parent directory "
                "must be searchable by it (chmod o+x), e.g. a directory from tempfile.mkdtemp() "
                "with mode 0711"
            )


# --- all three ---------------------------------------------------------------------------------


class Infrastructure:
    """Kafka, OPA and PostgreSQL, started together and waited for together."""

    def __init__(self, kafka: KafkaNode, opa: OpaServer, postgres: PostgresCluster) -> None:
        self.kafka = kafka
        self.opa = opa
        self.postgres = postgres
        # Seconds from the start of start() until each server answered, and anything else a
        # caller measures (restarts); reported, never asserted.
        self.timings: dict[str, float] = {}

    @classmethod
    def from_environment(
        cls,
        data_dir: Path,
        policy_dir: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Self:
        """Servers under `data_dir`, never on the usual ports of `make run` (9092, 9093, 8181):
        a test session or a benchmark must not take them, so that `make run` can start beside
        it, and the other way round."""
        paths = provisioned(environ)
        kafka = KafkaNode(
            Path(paths["ACCORD_KAFKA_HOME"]),
            data_dir / "kafka",
            port=free_port(),
            controller_port=free_port(),
        )
        opa = OpaServer(
            Path(paths["ACCORD_OPA"]),
            policy_dir or REPO / "policies",
            data_dir / "opa",
            port=free_port(),
        )
        postgres = PostgresCluster(
            Path(paths["ACCORD_PG_BIN"]), data_dir / "postgres", port=free_port()
        )
        return cls(kafka, opa, postgres)

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def opa_url(self) -> str:
        return self.opa.url

    @property
    def opa_host(self) -> str:
        return self.opa.host

    @property
    def opa_port(self) -> int:
        return self.opa.port

    def start(self, timeout: float = 120.0) -> Self:
        """Starts all three in parallel and returns when all answer; on any failure, stops
        whatever did start and raises."""
        started = time.monotonic()

        def wait_for(server: ChildServer) -> None:
            server.wait_ready(timeout)
            self.timings[f"{server.name} start"] = time.monotonic() - started

        try:
            with ThreadPoolExecutor(max_workers=4, thread_name_prefix="infra") as pool:
                # The slow one-off work (initdb, Kafka's storage format) runs in parallel, but
                # every server is launched from this thread: their parent-death signal is tied
                # to the launching thread (see _parent_death_options).
                prepared = {
                    server: pool.submit(server.prepare)
                    for server in (self.postgres, self.kafka, self.opa)
                }
                waits: list[Future[None]] = []
                for server in (self.opa, self.postgres, self.kafka):
                    prepared[server].result()
                    server.launch()
                    waits.append(pool.submit(wait_for, server))
                for wait in waits:
                    wait.result()
        except BaseException:
            self.stop()
            raise
        self.timings["all start"] = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stops all three; every one is attempted even if another fails to stop."""
        stopping = time.monotonic()
        errors: list[BaseException] = []
        for server in (self.kafka, self.opa, self.postgres):
            try:
                server.stop()
            except Exception as error:
                errors.append(error)
                server.kill()
        self.timings["all stop"] = time.monotonic() - stopping
        if errors:
            raise InfrastructureError(f"stopping infrastructure: {errors}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
