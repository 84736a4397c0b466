"""``personas validate`` through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.repos import DATA, RepoBuilder

PERSONAS = [sys.executable, "-m", "personas_as_code.cli.main"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [*PERSONAS, *args], cwd=cwd, capture_output=True, text=True, env={"PYTHONPATH": str(root)}
    )


def test_valid_repo_exits_zero(example_repo: Path) -> None:
    result = run("validate", "--repo", str(example_repo), cwd=example_repo)
    assert result.returncode == 0, result.stderr
    assert "7 persona(s) valid." in result.stdout


def test_invalid_repo_lists_problems_and_exits_one(repo: RepoBuilder) -> None:
    repo.persona("bad-status", (DATA / "bad" / "bad_status.yaml").read_text())
    repo.persona("unknown-key", (DATA / "bad" / "unknown_key.yaml").read_text())
    result = run("validate", "--repo", str(repo.root), cwd=repo.root)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("personas/bad-status.yaml:3:9: status:")
    assert lines[1].startswith("personas/unknown-key.yaml:3:1: unknown key 'sytem_prompt'")
    assert lines[-1] == "2 problem(s) in 2 file(s); 0 persona(s) valid."


def test_json_format_is_machine_readable(repo: RepoBuilder) -> None:
    repo.persona("bad-status", (DATA / "bad" / "bad_status.yaml").read_text())
    result = run("validate", "--format", "json", cwd=repo.root)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["error_count"] == 1
    (problem,) = report["problems"]
    assert problem["path"] == "personas/bad-status.yaml" and problem["line"] == 3
