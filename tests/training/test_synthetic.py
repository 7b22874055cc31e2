"""Synthetic data (issue 21 item 2): the same seed gives byte-identical scenario data, in two
separate processes (so nothing cached in one run can make them agree), and another seed gives
other people."""

from __future__ import annotations

import subprocess
import sys

from accord_platform.training.scenario import load_library
from accord_platform.training.synthetic import LOCALES, synthetic_case, to_bytes

GENERATE = (
    "import sys;"
    "from accord_platform.training.cohort import cohort_data;"
    "sys.stdout.buffer.write(cohort_data(int(sys.argv[1]), int(sys.argv[2])))"
)


def run(seed: int, trainees: int) -> bytes:
    return subprocess.run(
        [sys.executable, "-c", GENERATE, str(seed), str(trainees)],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout


def test_the_same_seed_gives_byte_identical_scenario_data_on_two_runs() -> None:
    first, second = run(42, 3), run(42, 3)
    assert first == second
    assert len(first) > 1000
    assert run(43, 3) != first


def test_every_jurisdiction_has_its_own_locale_and_fictional_numbers() -> None:
    for jurisdiction in LOCALES:
        case = synthetic_case(1, "trainee-01/x", jurisdiction)
        prefix = {"new-zealand": "+64 21 099", "nova-scotia": "+1 902 555 01"}.get(
            jurisdiction, "+44 7700 900"
        )
        assert case.victim.safe_contact_number.startswith(prefix)
        assert case.incident.date < "2026-01-02"
    assert to_bytes([synthetic_case(1, "a", "england-wales")]) != to_bytes(
        [synthetic_case(1, "b", "england-wales")]
    )
    assert load_library()
