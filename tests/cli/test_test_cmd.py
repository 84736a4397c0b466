"""``personas test`` through the real console script: exit codes 0, 1 and 2, the
formats on stdout and in --output, --baseline and --changed-since on a git repo; the
cases that must pass or flip run on a loopback model (``applied_with_model``), since on
the offline mirror no answer assertion passes."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import JUnitXml
from personas_as_code.catalogue.embedded import EmbeddedCatalogue

from tests.cli.test_validate_cmd import run
from tests.mcp_server.conftest import git
from tests.persona_tests.conftest import applied, applied_with_model  # noqa: F401  (fixtures)

RULE = "  - Never promise refunds or delivery dates.\n"


@pytest.fixture
def clone(tmp_path: Path, applied: tuple[Path, EmbeddedCatalogue]) -> Path:  # noqa: F811
    """A copy of the applied example repo (its catalogue file included)."""
    target = tmp_path / "repo"
    shutil.copytree(applied[0], target)
    return target


@pytest.fixture
def model_clone(
    tmp_path: Path,
    applied_with_model: tuple[Path, EmbeddedCatalogue],  # noqa: F811
) -> Path:
    """A copy of the example repo applied with a loopback model as its backends."""
    target = tmp_path / "repo"
    shutil.copytree(applied_with_model[0], target)
    return target


def test_all_pass_exits_zero_with_text(model_clone: Path) -> None:
    result = run("test", "--repo", str(model_clone), cwd=model_clone)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("PASS  legal-reviewer / ")
    # the llm_rubric case has no judge: skipped, which is no pass (and no failure)
    assert "SKIP  support-agent / an impatient user gets short answers" in result.stdout
    assert lines[-1] == "5 passed, 0 failed, 0 untested, 1 skipped, 0 errors."
    assert "No model was called" not in result.stdout
    assert result.stderr == ""  # no progress display when stderr is not a terminal


def test_on_the_mirror_nothing_passes_and_it_exits_zero(clone: Path) -> None:
    result = run("test", cwd=clone)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("No model was called: 6 case(s) answered by the offline mirror")
    assert lines[1].startswith("UNTESTED legal-reviewer / ")
    assert lines[-1] == "0 passed, 0 failed, 6 untested, 0 skipped, 0 errors."
    strict = run("test", "--require-model", cwd=clone)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert strict.stdout.splitlines()[-1] == "0 passed, 6 failed, 0 untested, 0 skipped, 0 errors."


def test_a_failure_exits_one_and_json_says_which(model_clone: Path) -> None:
    persona = model_clone / "personas" / "support-agent.yaml"
    persona.write_text(persona.read_text().replace(RULE, ""))
    result = run("test", "support-agent", "--format", "json", cwd=model_clone)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["format_version"] == 1
    assert (data["passed"], data["failed"], data["skipped"], data["errors"]) == (1, 1, 1, 0)
    assert data["untested"] == 0 and data["model_called"] is True
    (failed,) = [r for r in data["results"] if r["status"] == "failed"]
    assert failed["case"] == "refund question retrieves the refund policy"
    assert failed["assertions"][0] == {
        "kind": "contains",
        "passed": False,
        "message": "does not contain 'Never promise refunds'",
        "status": "failed",
    }


def test_errors_exit_two(clone: Path) -> None:
    unknown = run("test", "no-such-persona", cwd=clone)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error NOT_FOUND: no valid persona 'no-such-persona'")
    bad_ref = run("test", "--baseline", "no-such-ref", cwd=clone)
    assert bad_ref.returncode == 2 and "error CONFIG_ERROR" in bad_ref.stderr
    usage = run("test", "--format", "yaml", cwd=clone)
    assert usage.returncode == 2
    tests = clone / "personas" / "sql-helper.tests.yaml"
    tests.write_text(tests.read_text().replace("turns: 2", "turns: 0"))
    invalid = run("test", cwd=clone)
    assert invalid.returncode == 2 and "sql-helper.tests.yaml:" in invalid.stderr


def test_a_case_that_cannot_run_exits_two(clone: Path) -> None:
    with (clone / "personas.toml").open("a") as toml:
        toml.write('\n[backends."anthropic/claude-sonnet-4"]\nprovider = "openai"\n')
        toml.write('base_url = "http://127.0.0.1:9/v1"\nmodel = "x"\ntimeout_seconds = 2\n')
    assert run("apply", "--auto-approve", cwd=clone).returncode == 0
    result = run("test", "--format", "junit", cwd=clone)
    assert result.returncode == 2, result.stdout + result.stderr
    suites = {s.name: s for s in JUnitXml.fromstring(result.stdout)}
    assert suites["legal-reviewer"].errors == 1 and suites["support-agent"].errors == 0


def test_baseline_markdown_to_a_file_shows_the_flip(model_clone: Path) -> None:
    clone = model_clone
    persona = clone / "personas" / "support-agent.yaml"
    persona.write_text(persona.read_text().replace(RULE, "  - Offer refunds freely.\n"))
    out = clone / "tests.md"
    result = run(
        "test",
        "--baseline",
        "main",
        "--changed-since",
        "main",
        "--format",
        "markdown",
        "--output",
        str(out),
        "--concurrency",
        "2",
        cwd=clone,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Against main: 1 pass→fail, 0 fail→pass." in result.stderr
    comment = out.read_text()
    assert comment.startswith("<!-- personas-tests -->\n### personas test\n")
    assert "#### support-agent" in comment and "#### sql-helper" not in comment  # changed only
    assert "**pass→fail**" in comment and "+- Offer refunds freely." in comment
    assert git(clone, "status", "--porcelain") == "M personas/support-agent.yaml\n?? tests.md"


def test_progress_is_shown_on_a_terminal_only(model_clone: Path) -> None:
    clone = model_clone
    leader, follower = pty.openpty()
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": str(root), "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "personas_as_code.cli.main", "test", "sql-helper"],
        cwd=clone,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        env=env,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.returncode == 0
    progress = shown.decode().splitlines()
    assert progress[0].startswith("[1/2] PASS  sql-helper / ")
    assert progress[1].startswith("[2/2] PASS  sql-helper / ")
    assert "[1/2]" not in proc.stdout  # the report itself is unchanged
