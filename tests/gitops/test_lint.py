"""The workflows and the composite action pass actionlint and zizmor with no findings.

actionlint runs with its default checks (and shellcheck over ``run:`` scripts when
shellcheck is on PATH). zizmor runs offline, with the default ``regular`` persona, every
severity and confidence, and ``.github/zizmor.yml`` (which disables one audit, with its
reason). Each linter is first shown a deliberately bad workflow, so a broken or silent
binary cannot make these tests pass. The documented examples and the templates are linted
in test_docs and test_templates.
"""

from __future__ import annotations

from pathlib import Path

from tests.gitops.conftest import ACTION_FILE, ROOT, WORKFLOW_FILES
from tests.gitops.linters import describe, run_actionlint, run_zizmor

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
