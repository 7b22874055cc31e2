"""The five services of a platform run: where each listens, how each is started, and the
supervisor that keeps them (and the infrastructure) running: a process that dies is started
again after a pause that doubles with every quick death, and the others go on."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Protocol

from accord_platform.infra import dies_with_parent


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    agency: str
    port: int
    command: str
    # The portal answers liveness only: it has no stores or consumers to be ready.
    health: str = "/health/ready"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SERVICES = (
    ServiceSpec("referral", "police", 8101, "accord-referral"),
    ServiceSpec("victim-support", "victim services", 8102, "accord-victim-support"),
    ServiceSpec("conference", "RJ providers", 8103, "accord-conference"),
    ServiceSpec("court", "courts", 8104, "accord-court"),
    ServiceSpec("audit", "privacy officers", 8105, "accord-audit"),
    ServiceSpec("reporting", "managers and commissioners", 8106, "accord-reporting"),
)


def services_from(first_port: int) -> tuple[ServiceSpec, ...]:
    """The services on `first_port` and the ports after it (8101 for `make run`)."""
    return tuple(replace(s, port=first_port + i) for i, s in enumerate(SERVICES))


# --- supervision -------------------------------------------------------------------------------


class Supervised(Protocol):
    """What the supervisor needs of a child: `infra.ChildServer` (Kafka, OPA) is one."""

    name: str

    def start(self) -> None: ...

    def exit_code(self) -> int | None:
        """None while it runs (or was never started), otherwise its exit status as
        `subprocess` reports it: negative for the signal that ended it."""

    @property
    def pid(self) -> int | None: ...

    def terminate(self) -> None:
        """Asks it to stop (SIGTERM) and returns at once."""

    def stop(self, timeout: float = 30.0) -> None:
        """Stops it in order, killing it when that takes longer than `timeout`."""


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ServiceProcess:
    """One service's process (`accord-<service> all`), its output shown line by line with
    its name in front. It runs in a session of its own, so a Ctrl-C in the terminal reaches
    only the supervisor, which stops it in order; and it dies with the supervisor."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        show: Callable[[str, str], None],
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.show = show
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.exit_code() is None and self.process is not None:
            return
        self.process = subprocess.Popen(
            [*dies_with_parent(), *self.argv],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        threading.Thread(
            target=self._pump, args=(self.process.stdout,), daemon=True, name=f"output-{self.name}"
        ).start()

    def _pump(self, stream: IO[bytes]) -> None:
        with stream:
            for line in iter(stream.readline, b""):
                self.show(self.name, line.decode(errors="replace").rstrip())

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None:
            return
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class _Watched:
    child: Supervised
    started: float = 0.0
    quick_deaths: int = 0
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Starts its children and keeps them running until stopped.

    A child that dies is reported (which one, how it ended, after how long) and started again
    after `first_delay` seconds, doubling with each death up to `max_delay`; once a child has
    stayed up for `stable_after` seconds the next death waits `first_delay` again. The other
    children are not touched: one crash is one service away for a few seconds, not an outage.
    `ready`, when given, tells whether a restarted child answers again (reported once)."""

    def __init__(
        self,
        services: Sequence[Supervised],
        infrastructure: Sequence[Supervised] = (),
        say: Callable[[str], None] = print,
        *,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
        ready: Callable[[Supervised], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = list(services)
        self.infrastructure = list(infrastructure)
        self.say = say
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.ready = ready
        self.clock = clock
        self.watched = {c.name: _Watched(c) for c in [*self.infrastructure, *self.services]}
        self.stopping = threading.Event()

    def adopt(self) -> None:
        """Watches children that are already running (started by the caller)."""
        for watched in self.watched.values():
            watched.started = self.clock()

    def start(self) -> None:
        for watched in self.watched.values():
            watched.child.start()
            watched.started = self.clock()

    def delay(self, quick_deaths: int) -> float:
        """The pause before the restart that follows `quick_deaths` deaths in a row."""
        doublings = max(0, quick_deaths - 1)
        return float(min(self.max_delay, self.first_delay * 2.0**doublings))

    def check(self) -> None:
        """One round: notes deaths, and restarts whatever is due. Call it from the thread
        that started the children (their parent-death signal follows that thread)."""
        now = self.clock()
        for name, watched in self.watched.items():
            if self.stopping.is_set():
                return
            if watched.restart_at is not None:
                if now >= watched.restart_at:
                    self._restart(name, watched)
                continue
            code = watched.child.exit_code()
            if code is None:
                continue
            up = now - watched.started
            if up >= self.stable_after:
                watched.quick_deaths = 0
            watched.quick_deaths += 1
            pause = self.delay(watched.quick_deaths)
            watched.restart_at = now + pause
            self.say(
                f"{name} died ({describe_exit(code)}) after {up:.1f} s up; "
                f"restarting it in {pause:.1f} s"
            )

    def _restart(self, name: str, watched: _Watched) -> None:
        watched.restart_at = None
        watched.restarts += 1
        try:
            watched.child.start()
        except Exception as exc:  # e.g. a port still taken: counts as one more quick death
            watched.started = self.clock()
            watched.quick_deaths += 1
            pause = self.delay(watched.quick_deaths)
            watched.restart_at = self.clock() + pause
            self.say(
                f"{name} could not be started ({type(exc).__name__}: {exc}); "
                f"trying again in {pause:.1f} s"
            )
            return
        watched.started = self.clock()
        self.say(f"{name} restarted (pid {watched.child.pid}, restart {watched.restarts})")
        if self.ready is not None:
            threading.Thread(
                target=self._announce_ready,
                args=(watched.child,),
                daemon=True,
                name=f"ready-{name}",
            ).start()

    def _announce_ready(self, child: Supervised) -> None:
        began = self.clock()
        assert self.ready is not None
        while not self.stopping.is_set() and child.exit_code() is None:
            if self.ready(child):
                self.say(
                    f"{child.name} is ready again ({self.clock() - began:.1f} s after its restart)"
                )
                return
            time.sleep(0.3)

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Watches until `stop` is set (or KeyboardInterrupt)."""
        while not stop.is_set():
            self.check()
            stop.wait(interval)

    def stop(self, timeout: float = 20.0) -> None:
        """Stops the services together (SIGTERM, SIGKILL after `timeout`), then the
        infrastructure in reverse order of starting."""
        self.stopping.set()
        for child in self.services:
            child.terminate()
        stoppers = [
            threading.Thread(target=child.stop, args=(timeout,), daemon=True)
            for child in self.services
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for child in reversed(self.infrastructure):
            child.stop()


def service_processes(
    specs: Sequence[ServiceSpec],
    bin_dir: Path,
    env_for: Callable[[ServiceSpec], Mapping[str, str]],
    show: Callable[[str, str], None],
) -> list[ServiceProcess]:
    return [
        ServiceProcess(s.name, [str(bin_dir / s.command), "all"], env_for(s), show) for s in specs
    ]
