"""Issue 20, "a slug is [a-z0-9-] with nothing after it, everywhere": Python's ``$`` also
matches before a final newline, so a file named ``nl<LF>.yaml`` passed ``validate``, was
planned as ``+ nl\\n`` and failed every apply.  The file is refused where it is read."""

from __future__ import annotations

import pytest
from personas_as_code.schemas.fields import SLUG_RE

from tests.cli.test_validate_cmd import run
from tests.repos import MINIMAL, RepoBuilder


@pytest.mark.parametrize("text", ["nl\n", "a-b\n", "x\n\n", "\nx"])
def test_the_slug_check_accepts_nothing_after_the_slug(text: str) -> None:
    assert SLUG_RE.match(text) is None
    assert SLUG_RE.match(text.strip()) is not None


def test_validate_refuses_a_file_name_ending_in_a_newline(repo: RepoBuilder) -> None:
    repo.persona("nl\n", MINIMAL)
    result = run("validate", cwd=repo.root)
    assert result.returncode == 1, result.stdout
    assert "personas/nl\\n.yaml" in result.stdout and "0 persona(s) valid" in result.stdout


def test_plan_refuses_it_and_creates_no_persona_named_with_a_newline(repo: RepoBuilder) -> None:
    repo.persona("nl\n", MINIMAL)
    result = run("plan", "--detailed-exitcode", cwd=repo.root)
    assert result.returncode == 1
    assert "REPO_INVALID" in result.stderr and "+ nl" not in result.stdout
