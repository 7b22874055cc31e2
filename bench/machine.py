"""What a result was measured on: a ratio travels between machines, an absolute number does
not, so every result file carries the machine and the pinned versions beside its figures."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from accord_platform.infra import REPO

PACKAGES = (
    "eventsourcing",
    "aiokafka",
    "fastapi",
    "sqlalchemy",
    "psycopg",
    "httpx",
    "opa-python-client",
    "uvicorn",
    "pydantic",
)


def _first_value(path: Path, key: str) -> str | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":") if ":" in line else line.partition("=")
        if name.strip() == key:
            return value.strip().strip('"')
    return None


def pinned_versions(repo: Path = REPO) -> dict[str, str]:
    """The infrastructure versions of `deploy/versions.env`."""
    pinned: dict[str, str] = {}
    for line in (repo / "deploy" / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            pinned[name] = value
    return pinned


def _memory_gib() -> float | None:
    total = _first_value(Path("/proc/meminfo"), "MemTotal")
    return round(int(total.split()[0]) / 1024 / 1024, 1) if total else None


def load_average() -> list[float]:
    """1, 5 and 15 minute load: other work on a shared machine shows here."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return []


def describe() -> dict[str, Any]:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return {
        "cpu_model": _first_value(Path("/proc/cpuinfo"), "model name") or platform.processor(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "ram_gib": _memory_gib(),
        "os": _first_value(Path("/etc/os-release"), "PRETTY_NAME") or platform.system(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions_env": pinned_versions(),
        "packages": packages,
    }
