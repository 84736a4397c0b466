"""Persona tests files (``personas/<slug>.tests.yaml``): not persona files, validated
like them, each problem at file:line:col; the bad files of ``tests/data/bad/persona_tests``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from personas_as_code.loader.repo import load_repo

from tests.cli.test_validate_cmd import run
from tests.persona_tests.conftest import copy_examples
from tests.repos import DATA

BAD = DATA / "bad" / "persona_tests"
TARGET = "personas/support-agent.tests.yaml"

EXPECTED = {
    "bad_regex": ("5:16", "cases.0.assert.0.regex: not a valid regular expression: missing )"),
    "bad_json_schema": ("5:22", "cases.0.assert.0.json_schema: not a valid JSON Schema at type"),
    "unknown_test_persona": ("4:21", "case 'chat': no test persona 'nobody-here'"),
    "two_kinds": ("5:9", "cases.0.assert.0: an assertion has exactly one kind"),
    "message_and_conversation": ("2:5", "cases.0: a case has either a message or a conversation"),
    "unknown_key": ("4:5", "unknown key 'cases.0.asert'; did you mean 'cases.0.assert'?"),
    "duplicate_case": ("5:1", "case name 'same' is already used at line 2"),
    "too_many_turns": ("3:57", "cases.0.conversation.turns: Input should be less than or equal"),
    "not_a_mapping": ("1:1", "a persona tests file must be a mapping with 'cases', not list"),
}


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    return copy_examples(tmp_path / "repo")


def test_tests_files_are_not_persona_files(examples: Path) -> None:
    loaded = load_repo(examples)
    assert loaded.problems == []
    assert not any(p.endswith(".tests.yaml") for p in loaded.persona_files)
    assert set(loaded.persona_tests.by_slug) == {"legal-reviewer", "sql-helper", "support-agent"}
    assert len(loaded.personas) == 7


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_tests_file_is_located(examples: Path, name: str) -> None:
    shutil.copy(BAD / f"{name}.tests.yaml", examples / TARGET)
    loaded = load_repo(examples)
    where, message = EXPECTED[name]
    texts = [str(p) for p in loaded.problems]
    assert any(t.startswith(f"{TARGET}:{where}: {message}") for t in texts), texts
    assert "support-agent" not in loaded.persona_tests.by_slug  # nothing half-loaded
    assert "support-agent" in loaded.personas  # the persona itself is unaffected
    assert set(loaded.persona_tests.by_slug) == {"legal-reviewer", "sql-helper"}


def test_tests_for_an_unknown_persona(examples: Path) -> None:
    shutil.copy(examples / TARGET, examples / "personas" / "nobody.tests.yaml")
    loaded = load_repo(examples)
    (problem,) = loaded.problems
    assert str(problem).startswith("personas/nobody.tests.yaml:1:1: warning: no persona 'nobody'")
    assert loaded.ok and "nobody" not in loaded.persona_tests.by_slug  # the plan is not blocked


@pytest.mark.slow  # personas validate as a process
def test_validate_reports_tests_files_through_the_cli(examples: Path) -> None:
    shutil.copy(BAD / "bad_regex.tests.yaml", examples / TARGET)
    result = run("validate", "--format", "json", cwd=examples)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    (problem,) = report["problems"]
    assert (problem["path"], problem["line"], problem["col"]) == (TARGET, 5, 16)
    assert report["persona_tests_files"] == 3 and report["persona_tests"] == 2
    text = run("validate", cwd=examples)
    assert "2 of 3 persona tests file(s) valid." in text.stdout
