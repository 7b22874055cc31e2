"""The supervisor of `accord run`: restart schedule on a fake clock and fake children, then
the same on real (tiny Python) child processes killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable

import pytest
from accord_platform.services import ServiceProcess, Supervisor, describe_exit


class FakeChild:
    def __init__(self, name: str) -> None:
        self.name = name
        self.code: int | None = None
        self.starts = 0
        self.stopped = False

    def start(self) -> None:
        self.starts += 1
        self.code = None

    def exit_code(self) -> int | None:
        return self.code

    @property
    def pid(self) -> int | None:
        return 1000 + self.starts

    def terminate(self) -> None:
        self.code = -signal.SIGTERM

    def stop(self, timeout: float = 30.0) -> None:
        self.stopped = True
        self.code = -signal.SIGTERM


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-15) == "killed by SIGTERM"


def test_a_dead_child_is_restarted_with_doubling_capped_pauses_and_the_others_run_on() -> None:
    clock, said = Clock(), []
    crashing, steady = FakeChild("audit"), FakeChild("referral")
    supervisor = Supervisor(
        [crashing, steady],
        say=said.append,
        first_delay=0.5,
        max_delay=4.0,
        stable_after=60.0,
        clock=clock,
    )
    supervisor.start()
    pauses = []
    for _ in range(6):
        crashing.code = 1  # dies again soon after each start
        clock.now += 0.1
        supervisor.check()
        restart_at = supervisor.watched["audit"].restart_at
        assert restart_at is not None
        pauses.append(round(restart_at - clock.now, 3))
        clock.now = restart_at
        supervisor.check()
    assert pauses == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert crashing.starts == 7
    assert steady.starts == 1  # never touched
    assert "audit died (exit code 1) after 0.1 s up; restarting it in 0.5 s" in said
    assert "audit restarted (pid 1002, restart 1)" in said


def test_the_pause_starts_again_small_after_a_child_stayed_up_a_while() -> None:
    clock = Clock()
    child = FakeChild("court")
    supervisor = Supervisor(
        [child], say=lambda _: None, first_delay=0.5, max_delay=30.0, stable_after=60.0, clock=clock
    )
    supervisor.start()
    for _ in range(3):  # three quick deaths: 0.5, 1, 2 s
        child.code = -signal.SIGKILL
        clock.now += 1
        supervisor.check()
        clock.now = supervisor.watched["court"].restart_at or 0.0
        supervisor.check()
    assert supervisor.watched["court"].quick_deaths == 3
    clock.now += 61  # up for a minute
    child.code = 1
    supervisor.check()
    assert supervisor.watched["court"].restart_at == pytest.approx(clock.now + 0.5)


def test_stop_stops_services_then_infrastructure_and_restarts_nothing() -> None:
    clock = Clock()
    service, kafka = FakeChild("audit"), FakeChild("kafka")
    supervisor = Supervisor([service], [kafka], say=lambda _: None, clock=clock)
    supervisor.start()
    service.code = 1
    supervisor.check()
    supervisor.stop()
    clock.now += 100
    supervisor.check()
    assert service.stopped and kafka.stopped
    assert service.starts == 1


def _sleeper(name: str, lines: list[tuple[str, str]]) -> ServiceProcess:
    code = "import time; print('up', flush=True); time.sleep(600)"
    return ServiceProcess(
        name,
        [sys.executable, "-c", code],
        dict(os.environ),
        lambda n, line: lines.append((n, line)),
    )


def _wait_for(condition: Callable[[], bool], about: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, about
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still "exists" until reaped; our children are reaped by poll()
    return True


def test_real_processes_killed_with_sigkill_come_back_and_all_stop_on_request() -> None:
    said: list[str] = []
    lines: list[tuple[str, str]] = []
    victim, bystander = _sleeper("victim", lines), _sleeper("bystander", lines)
    supervisor = Supervisor(
        [victim, bystander], say=said.append, first_delay=0.2, max_delay=1.0, stable_after=60.0
    )
    stop = threading.Event()
    supervisor.start()
    watcher = threading.Thread(target=supervisor.run, args=(stop, 0.05), daemon=True)
    try:
        first, other = victim.pid, bystander.pid
        assert first is not None and other is not None
        _wait_for(lambda: len(lines) == 2, lines)  # both children's output is shown
        os.kill(first, signal.SIGKILL)
        # check() runs here, on the thread that started the children
        deadline = time.monotonic() + 20
        while victim.pid == first or victim.exit_code() is not None:
            supervisor.check()
            assert time.monotonic() < deadline, said
            time.sleep(0.05)
        assert any(s.startswith("victim died (killed by SIGKILL)") for s in said), said
        assert any(s.startswith("victim restarted (pid") for s in said), said
        assert bystander.pid == other and bystander.exit_code() is None
        _wait_for(lambda: lines.count(("victim", "up")) == 2, lines)  # the new one's too
        watcher.start()
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join()
        supervisor.stop(timeout=10)
    assert victim.exit_code() == -signal.SIGTERM
    assert bystander.exit_code() == -signal.SIGTERM
    assert victim.pid is not None and not _alive(victim.pid)
