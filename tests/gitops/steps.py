"""Run the ``run:`` scripts of the composite action and the workflows locally, with bash,
the way the runner runs them: the step's env variables, ``RUNNER_TEMP``,
``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` files, and the installed ``personas``
command standing in for the action's private venv."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.gitops.conftest import ACTION_FILE, ROOT, load_workflow, load_yaml

PERSONAS = Path(sys.executable).parent / "personas"


@dataclass
class StepRun:
    """What one step did: exit code, ``GITHUB_OUTPUT`` values, job summary, log."""

    code: int
    outputs: dict[str, str]
    summary: str
    log: str


def action_step(step_id: str) -> dict[str, Any]:
    """The composite action's step with this id or name."""
    steps = load_yaml(ACTION_FILE)["runs"]["steps"]
    return next(s for s in steps if step_id in (s.get("id"), s.get("name")))


def workflow_step(workflow: str, job: str, step_id: str) -> dict[str, Any]:
    """The step with this id or name of ``job`` in ``.github/workflows/<workflow>``."""
    steps = load_workflow(workflow)["jobs"][job]["steps"]
    return next(s for s in steps if step_id in (s.get("id"), s.get("name")))


class Runner:
    """One job's runner: a ``RUNNER_TEMP`` shared by its steps, the tool's venv in it."""

    def __init__(self, tmp_path: Path, base_env: dict[str, str] | None = None) -> None:
        if shutil.which("bash") is None:
            pytest.skip("bash is not installed")
        self.tmp = tmp_path
        self.temp = tmp_path / "runner-temp"
        venv_bin = self.temp / "personas-as-code" / "venv" / "bin"
        venv_bin.mkdir(parents=True)
        (venv_bin / "personas").symlink_to(PERSONAS)
        (venv_bin / "python").symlink_to(sys.executable)
        # What the action's install step records, so that step (run by run_job, with
        # setup-python's python-path standing in as this interpreter) reuses this venv.
        (venv_bin.parent.parent / "installed").write_text(f"{sys.executable} {ROOT}")
        self.base_env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "RUNNER_OS": "Linux",
            **(base_env or {}),
        }
        self.steps = 0

    def run(self, script: str, env: dict[str, str], cwd: Path) -> StepRun:
        """Run ``script`` as a ``shell: bash`` step (``bash -e -o pipefail``)."""
        self.steps += 1
        output = self.tmp / f"output-{self.steps}"
        summary = self.tmp / f"summary-{self.steps}"
        output.touch()
        summary.touch()
        full_env = {
            **self.base_env,
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            **env,
        }
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        lines = output.read_text().splitlines()
        outputs = dict(line.split("=", 1) for line in lines if "=" in line)
        return StepRun(
            result.returncode, outputs, summary.read_text(), result.stdout + result.stderr
        )
