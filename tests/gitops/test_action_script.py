"""The composite action's scripts, run locally with bash the way the runner runs them:
the same env variables, ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` files, and the
installed ``personas`` command standing in for the action's private venv."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gitops.conftest import ACTION_FILE, ROOT, load_yaml

PERSONAS = Path(sys.executable).parent / "personas"


def action_step(name: str) -> dict:
    steps = load_yaml(ACTION_FILE)["runs"]["steps"]
    return next(step for step in steps if step.get("id") == name or step.get("name") == name)


def bash_is_available() -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")


def run_action(
    tmp_path: Path, command: str, args: str = "", workdir: Path = ROOT
) -> tuple[int, dict[str, str], str, str]:
    """Run the action's command step; return exit code, outputs, summary, stdout."""
    bash_is_available()
    runner_temp = tmp_path / "runner-temp"
    venv_bin = runner_temp / "personas-as-code" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "personas").symlink_to(PERSONAS)
    (venv_bin / "python").symlink_to(sys.executable)
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.touch()
    summary.touch()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "COMMAND": command,
        "ARGS": args,
        "WORKDIR": "personas-repo",
    }
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", action_step("run")["run"]],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return result.returncode, outputs, summary.read_text(), result.stdout + result.stderr


def copy_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "personas-repo"
    shutil.copytree(ROOT / "personas", repo / "personas")
    shutil.copy(ROOT / "personas.toml", repo / "personas.toml")
    return repo


def test_validate_passes_on_the_example_repo(tmp_path: Path) -> None:
    code, outputs, _, log = run_action(tmp_path, "validate", workdir=copy_repo(tmp_path))
    assert code == 0, log
    assert outputs["exit-code"] == "0"
    assert "::error" not in log


def test_validate_fails_and_annotates_the_bad_line(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path)
    (repo / "personas" / "broken.yaml").write_text("name: Broken\nmodel: m\nbogus, key: 1\n")
    code, outputs, _, log = run_action(tmp_path, "validate", workdir=repo)
    assert code == 1, log
    assert outputs["exit-code"] == "1"
    # The annotation's path is relative to the workspace (working-directory + file).
    assert "::error file=personas-repo/personas/broken.yaml,line=3,col=1::" in log
    assert "bogus%2C key" not in log.split("::error", 1)[1].split("::", 2)[1]


def test_args_are_split_but_never_globbed_or_evaluated(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path)
    code, _, _, log = run_action(tmp_path, "validate", args="--format json", workdir=repo)
    assert code == 0, log
    assert '"valid": true' in log
    code, _, _, log = run_action(tmp_path / "2", "validate", args="$(touch pwned) *", workdir=repo)
    assert code != 0
    assert not (repo / "pwned").exists()


def test_an_unknown_command_fails(tmp_path: Path) -> None:
    code, outputs, _, log = run_action(tmp_path, "destroy", workdir=copy_repo(tmp_path))
    assert code == 1
    assert outputs["exit-code"] == "1"
    assert "unknown command 'destroy'" in log


def plan_is_available() -> None:
    probe = subprocess.run([str(PERSONAS), "plan", "--help"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("`personas plan` is not implemented in this checkout yet")


def test_plan_on_an_empty_catalogue_reports_changes_without_failing(tmp_path: Path) -> None:
    plan_is_available()
    repo = copy_repo(tmp_path)
    code, outputs, summary, log = run_action(tmp_path, "plan", workdir=repo)
    assert code == 0, log
    assert outputs["exit-code"] == "2"
    assert outputs["has-changes"] == "true"
    plan_file = Path(outputs["plan-file"])
    assert plan_file.read_text().startswith("<!-- personas-plan -->")
    assert summary == plan_file.read_text()
    if "checksum" in plan_file.read_text().lower():
        assert len(outputs["checksum"]) == 64, outputs
        assert outputs["checksum"] in plan_file.read_text()
