"""Issue 17, finding 3, through the real console script on a repo made by ``personas
init``: with no model configured the offline mirror echoes the knowledge, so a case
``contains: "25 vacation days"`` must not pass -- it is *not tested*, every format says
at the top that no model was called, and ``--require-model`` makes it a failure; a
credential in a knowledge document or a test message never reaches ``personas run``,
``personas preview`` or any report; and markdown keeps a user's backslashes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from junitparser import JUnitXml, Skipped

from tests.cli.test_validate_cmd import run
from tests.persona_tests.prompt_model import configure_in_toml, serve_prompt_model

# AWS's documented example key id: a credential's shape, no real account's.
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
NOTE = (
    "No model was called: 2 case(s) answered by the offline mirror backend; their answer "
    "assertions were not tested. Configure a backend (see README) or pass --require-model "
    "to make this a failure."
)
PERSONA = """\
name: HR Helper
model: scaigrid/gpt-4o-mini
status: active
system_prompt: Answer questions about working at Acme from the handbook.
rag:
  enabled: true
  top_k: 3
sources:
  - type: collection
    id: col_hr
"""
HANDBOOK = """\
# Holidays

Every employee gets 25 vacation days per year, plus public holidays.
"""
CASES = """\
cases:
  - name: vacation days
    message: "How many vacation days do I get?"
    assert:
      - contains: "25 vacation days"
      - cites: col_hr
  - name: printer key
    message: "What is the printer key?"
    assert:
      - not_contains: "AKIA"
"""
# validate refuses a credential in a knowledge document or a tests file, so here it
# comes from where no file check can stop it: the question typed, and the model's answer
LEAK = f"\nThe shared printer's cloud account key is {AWS_KEY}."


def new_repo(root: Path) -> Path:
    """A repo from ``personas init`` with an HR persona, its handbook and two cases."""
    made = run("init", str(root), cwd=root.parent)
    assert made.returncode == 0, made.stdout + made.stderr
    (root / "personas" / "hr-helper.yaml").write_text(PERSONA)
    (root / "personas" / "hr-helper.tests.yaml").write_text(CASES)
    (root / "knowledge" / "col_hr").mkdir(parents=True)
    (root / "knowledge" / "col_hr" / "collection.yaml").write_text("name: HR handbook\n")
    (root / "knowledge" / "col_hr" / "holidays.md").write_text(HANDBOOK)
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The new repo, applied into its embedded catalogue (mirror backends)."""
    root = new_repo(tmp_path_factory.mktemp("honest") / "acme-personas")
    applied = run("apply", "--auto-approve", cwd=root)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    return root


def test_an_echo_of_the_knowledge_is_not_a_pass(repo: Path) -> None:
    result = run("test", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr  # not tested is no failure
    lines = result.stdout.splitlines()
    assert lines[0] == NOTE
    assert lines[1].startswith("UNTESTED hr-helper / vacation days (")
    assert "      - contains: not tested: no model was called (mirror backend)" in lines
    assert "PASS" not in result.stdout
    assert lines[-1] == "0 passed, 0 failed, 2 untested, 0 skipped, 0 errors."


def test_json_counts_untested_apart_and_says_no_model_was_called(repo: Path) -> None:
    result = run("test", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    counts = [data[k] for k in ("passed", "failed", "untested", "skipped", "errors")]
    assert counts == [0, 0, 2, 0, 0]
    assert (data["model_called"], data["answered_by"], data["model_note"]) == (
        False,
        ["mirror"],
        NOTE,
    )
    vacation = next(r for r in data["results"] if r["case"] == "vacation days")
    assert "25 vacation days" in vacation["answer"]  # the echo holds the words...
    assert [(a["kind"], a["passed"], a["status"]) for a in vacation["assertions"]] == [
        ("contains", None, "untested"),  # ...and still did not pass
        ("cites", True, "passed"),  # retrieval did happen
    ]


def test_markdown_and_junit_say_it_at_the_top(repo: Path) -> None:
    comment = run("test", "--format", "markdown", cwd=repo)
    assert comment.returncode == 0, comment.stderr
    lines = comment.stdout.splitlines()
    assert lines[:3] == ["<!-- personas-tests -->", "### personas test", ""]
    assert lines[3].startswith("> ⚠️ No model was called\\: 2 case\\(s\\) answered by the offline")
    assert "| ⚪ | vacation days | not tested: no model was called | 1/2 |" in lines
    junit = run("test", "--format", "junit", cwd=repo)
    assert junit.returncode == 0, junit.stderr
    (suite,) = JUnitXml.fromstring(junit.stdout)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (2, 0, 0, 2)
    properties = {p.name: p.value for p in suite.properties()}
    assert properties["personas.model_called"] == "false"
    assert properties["personas.note"] == NOTE
    for case in suite:
        (skipped,) = case.result
        assert isinstance(skipped, Skipped)
        assert skipped.message == "not tested: no model was called"


def test_require_model_makes_no_model_a_failure(repo: Path, tmp_path: Path) -> None:
    result = run("test", "--require-model", cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].endswith("--require-model counts them as failures.")
    assert "✗ contains: not tested: no model was called (mirror backend); --require-model" in (
        result.stdout
    )
    out = tmp_path / "report.json"
    to_file = run("test", "--require-model", "--format", "json", "-o", str(out), cwd=repo)
    assert to_file.returncode == 1
    assert to_file.stderr.splitlines()[0].startswith("No model was called: 2 case(s)")
    assert json.loads(out.read_text())["failed"] == 2


@pytest.fixture
def repo_with_model(tmp_path: Path) -> Iterator[Path]:
    """The new repo whose gpt-4o-mini backend is a loopback model."""
    with serve_prompt_model(says=LEAK) as (base_url, _):
        root = new_repo(tmp_path / "acme-personas")
        configure_in_toml(root, base_url, ("openai/gpt-4o-mini",))
        applied = run("apply", "--auto-approve", cwd=root)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        yield root


def test_with_a_model_the_same_cases_are_tested(repo_with_model: Path) -> None:
    result = run("test", "--require-model", "--format", "json", cwd=repo_with_model)
    data = json.loads(result.stdout)
    assert (data["model_called"], data["answered_by"], data["model_note"]) == (
        True,
        ["openai"],
        None,
    )
    statuses = {r["case"]: r["status"] for r in data["results"]}
    # the loopback model leaks a credential: a real failure
    assert statuses == {"vacation days": "passed", "printer key": "failed"}
    assert result.returncode == 1
    assert AWS_KEY not in result.stdout  # the failure's message and answer are redacted


def test_no_report_and_no_run_prints_the_credential(repo: Path, repo_with_model: Path) -> None:
    outputs = {
        fmt: run("test", "--format", fmt, cwd=repo_with_model).stdout
        for fmt in ("text", "json", "markdown", "junit")
    }
    ran = run("run", "hr-helper", f"Is {AWS_KEY} the printer key?", cwd=repo)
    ran_json = run(
        "run", "hr-helper", f"Is {AWS_KEY} the printer key?", "--format", "json", cwd=repo
    )
    preview = run("preview", "hr-helper", "--trigger", f"printer key {AWS_KEY}?", cwd=repo)
    preview_json = run(
        "preview", "hr-helper", "--trigger", f"key {AWS_KEY}?", "--format", "json", cwd=repo
    )
    outputs |= {
        "run": ran.stdout,
        "run json": ran_json.stdout,
        "preview": preview.stdout,
        "preview json": preview_json.stdout,
    }
    for name, shown in outputs.items():
        assert shown, name
        assert AWS_KEY not in shown, name
        assert "REDACTED" in shown, name  # markdown escapes the brackets
    # the retrieved chunk (the handbook) was really sent: redacted, not dropped
    assert "25 vacation days" in ran.stdout and "holidays.md" in ran.stdout
    data = json.loads(ran_json.stdout)
    assert data["backend"]["provider"] == "mirror" and "[REDACTED]" in data["answer"]
    assert "25 vacation days" in json.loads(preview_json.stdout)["messages"][1]["content"]


def test_markdown_keeps_a_backslash(repo: Path, tmp_path: Path) -> None:
    """``open C:\\new folder`` was shown as ``open C\\: ew folder``: the ``\\n`` of the
    path was taken for a newline.  Escaped markdown keeps every backslash."""
    root = tmp_path / "backslash"
    new_repo(root)
    tests = root / "personas" / "hr-helper.tests.yaml"
    tests.write_text(
        'cases:\n  - name: "open C:\\\\new folder"\n    message: hi\n'
        '    assert:\n      - contains: "C:\\\\new"\n'
    )
    assert run("apply", "--auto-approve", cwd=root).returncode == 0
    comment = run("test", "--format", "markdown", "--require-model", cwd=root)
    assert comment.returncode == 1, comment.stderr
    # in the table and the details title: ":" and "\" escaped, the "\n" kept as typed
    assert "| ❌ | open C\\:\\\\new folder | failed | 0/1 |" in comment.stdout
    assert "<summary>open C\\:\\\\new folder: failed</summary>" in comment.stdout
    assert " ew folder" not in comment.stdout
    # the plan's markdown shows user text through the same escaping: a knowledge file
    # named with a backslash is listed as it is named
    (root / "knowledge" / "col_hr" / "open C:\\new folder.md").write_text("# Folders\n")
    plan = run("plan", "--format", "markdown", cwd=root)
    assert plan.returncode == 0, plan.stderr
    assert "open C\\:\\\\new folder.md" in plan.stdout, plan.stdout
    assert " ew folder" not in plan.stdout
