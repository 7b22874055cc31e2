"""The scenario library (issue 21 item 3): data files validated at load, a file that does not
fit naming its file, line and field; the nine situations of SPEC 8 are there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from accord_platform.training.scenario import LIBRARY, ScenarioError, load_library, load_scenario

# SPEC 8's list, each with the jurisdiction and the outcome facts that make it that situation.
SITUATIONS = {
    "coercion-at-preparation": "rj_case.coercion_screen",
    "consent-withdrawn-mid-process": "consent.participate",
    "risk-escalation-new-incident": "referral.reassessment_required",
    "moratorium-nova-scotia": "referral.eligibility",
    "offender-initiated-request": "referral.initiated_by",
    "high-risk-indirect-only": "rj_case.modality",
    "endorsement-expiring": "rj_case.conference_scheduled",
    "breached-agreement-to-court": "rj_case.returned_to",
    "police-break-glass": "events.victim_support.emergency_access_granted",
}


def test_the_library_has_the_nine_situations_of_spec_8() -> None:
    library = load_library()
    assert set(SITUATIONS) <= set(library)
    for scenario_id, fact in SITUATIONS.items():
        scenario = library[scenario_id]
        assert fact in {o.fact for o in scenario.outcomes}, scenario_id
        assert scenario.roles and scenario.steps and scenario.practice_points
    assert library["moratorium-nova-scotia"].jurisdiction == "nova-scotia"


def copy_of(tmp_path: Path, scenario_id: str, old: str, new: str) -> Path:
    path = tmp_path / f"{scenario_id}.yaml"
    shutil.copy(LIBRARY / f"{scenario_id}.yaml", path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_a_wrong_value_is_named_by_file_line_and_field(tmp_path: Path) -> None:
    path = copy_of(tmp_path, "coercion-at-preparation", "method: POST", "method: DELETE")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = str(error.value)
    line = line_of(path, "method: DELETE")
    assert f"coercion-at-preparation.yaml, line {line}, field steps.0.request.method" in message


def test_a_missing_field_and_an_unknown_role_are_named(tmp_path: Path) -> None:
    path = copy_of(tmp_path, "police-break-glass", "    equals: 1\n", "")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert "field outcomes.0.equals" in str(error.value)
    assert f"line {line_of(path, '- fact: events')}" in str(error.value)

    path = copy_of(tmp_path, "police-break-glass", "  - role: police_supervisor", "  - role: judge")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert "police-break-glass.yaml, line 1, field (top level)" in str(error.value)
    assert "'judge'" in str(error.value)


def test_broken_yaml_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: broken\ntitle: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"broken.yaml, line \d+: not valid YAML"):
        load_scenario(path)
