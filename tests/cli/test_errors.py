"""Every command ends in one line with a stable code, never a traceback (issue 9, item 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sync.test_cli import personas

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"


@pytest.mark.parametrize(
    "args",
    [
        ["catalogue", "init", "--database", UNREACHABLE, "--tenant", "acme"],
        ["plan"],
        ["apply", "--auto-approve"],
    ],
    ids=["catalogue-init", "plan", "apply"],
)
def test_unreachable_database_is_one_line(example_repo: Path, args: list[str]) -> None:
    result = personas(*args, cwd=example_repo, env={"PERSONAS_DATABASE_URL": UNREACHABLE})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error CATALOGUE_UNAVAILABLE: cannot reach the catalogue"), lines[0]
