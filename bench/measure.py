"""Latency distributions, ratios and progress bars shared by the benchmarks."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def with_unit(value: float, unit: str) -> str:
    """A figure in the unit a reader expects at its scale."""
    if unit == "s":
        return f"{value * 1000:,.2f} ms"
    if unit in ("s/entry", "s/row", "s/referral"):
        return f"{value * 1_000_000:,.1f} µs/{unit.split('/')[1]}"
    return f"{value:,.3f} {unit}"


def percentile(samples: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: always a measured value, never an interpolation, so with
    fewer than 100 samples p99 is honestly the slowest one."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Distribution:
    """Latencies in seconds."""

    count: int
    p50: float
    p99: float
    mean: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Distribution:
        return cls(
            len(samples),
            percentile(samples, 50),
            percentile(samples, 99),
            sum(samples) / len(samples),
            min(samples),
            max(samples),
        )

    def as_ms(self) -> dict[str, float | int]:
        return {
            "n": self.count,
            "p50_ms": _ms(self.p50),
            "p99_ms": _ms(self.p99),
            "mean_ms": _ms(self.mean),
            "min_ms": _ms(self.minimum),
            "max_ms": _ms(self.maximum),
        }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def ratio(measured: float, baseline: float) -> float:
    """How many times the baseline `measured` is; `inf` when the baseline took no time."""
    return round(measured / baseline, 2) if baseline > 0 else math.inf


class Stopwatch:
    """Elapsed seconds on the monotonic clock, for one measured operation."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress display on stderr (stdout stays free for the printed ratios)."""
    display = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    with display:
        yield display
