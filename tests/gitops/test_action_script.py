"""The composite action's scripts, run locally with bash the way the runner runs them
(``tests.gitops.steps``): validate, plan, and the persona tests step after the plan.  The
tests step's pass/fail cases run on a loopback model (``model_url``, applied as the
persona's backend); on the offline mirror nothing passes, and ``require-model`` decides
whether that fails the step."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitops.conftest import ACTION_FILE, ROOT, load_yaml
from tests.gitops.steps import PERSONAS, Runner, StepRun, action_step
from tests.persona_tests.prompt_model import configure_in_toml, serve_prompt_model


def run_action(
    tmp_path: Path, command: str, args: str = "", workdir: Path = ROOT
) -> tuple[int, dict[str, str], str, str]:
    """Run the action's command step; return exit code, outputs, summary, log."""
    env = {"COMMAND": command, "ARGS": args, "WORKDIR": "personas-repo"}
    run = Runner(tmp_path).run(action_step("run")["run"], env, workdir)
    return run.code, run.outputs, run.summary, run.log


def copy_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "personas-repo"
    # What an adopter's persona repo holds: personas, test personas, knowledge, config.
    for folder in ("personas", "test-personas", "knowledge"):
        shutil.copytree(ROOT / folder, repo / folder)
    shutil.copy(ROOT / "personas.toml", repo / "personas.toml")
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
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


def install_env(tmp_path: Path) -> dict[str, str]:
    """The install step's env as the runner fills it for this checkout."""
    step = action_step("Install personas-as-code")
    env = {"ACTION_PATH": str(ROOT), "PACKAGE": "", "PYTHON_PATH": sys.executable}
    assert set(env) == set(step["env"])
    return env


def test_the_install_step_reuses_the_venv_and_names_its_bin_dir(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    run = runner.run(
        action_step("Install personas-as-code")["run"], install_env(tmp_path), tmp_path
    )
    assert run.code == 0, run.log
    assert "personas-as-code already installed" in run.log
    assert run.outputs["bin-dir"] == str(runner.temp / "personas-as-code" / "venv" / "bin")


def test_the_install_step_refuses_a_windows_runner(tmp_path: Path) -> None:
    runner = Runner(tmp_path, {"RUNNER_OS": "Windows"})
    script = action_step("Install personas-as-code")["run"]
    run = runner.run(script, install_env(tmp_path), tmp_path)
    assert run.code == 1
    assert "::error title=Unsupported runner::" in run.log and "Linux and macOS" in run.log
    assert run.outputs == {}


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


# --- the persona tests step (after plan) ----------------------------------------------

PASSING_CASE = """\
cases:
  - name: answers with SQL
    message: "Top 5 customers by revenue?"
    assert:
      - contains: "single SQL query"
"""
FAILING_CASE = PASSING_CASE.replace("single SQL query", "a sentence the prompt lacks")


@pytest.fixture
def model_url() -> Iterator[str]:
    """The base URL of a loopback model (it answers with the prompt it received)."""
    with serve_prompt_model() as (base_url, _):
        yield base_url


def repo_with_cases(
    tmp_path: Path,
    cases: str | None,
    branch_prompt: str | None = None,
    model_url: str | None = None,
) -> Path:
    """The examples with only ``cases`` as persona tests, as a git repo whose
    ``origin/main`` is its first commit (what a PR checkout with fetch-depth 0 has); with
    ``branch_prompt``, HEAD is a second commit giving sql-helper that system prompt; with
    ``model_url``, sql-helper's backend is that model (in personas.toml, applied into the
    git-ignored embedded catalogue), otherwise the offline mirror."""
    repo = copy_repo(tmp_path)
    for old in (repo / "personas").glob("*.tests.yaml"):
        old.unlink()
    if cases is not None:
        (repo / "personas" / "sql-helper.tests.yaml").write_text(cases)
    if model_url is not None:
        configure_in_toml(repo, model_url, ("openai/gpt-4o-mini",))
        applied = subprocess.run(
            [str(PERSONAS), "apply", "--auto-approve"], cwd=repo, capture_output=True, text=True
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
    git = ["git", "-c", "user.name=CI", "-c", "user.email=ci@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "update-ref", "refs/remotes/origin/main", "HEAD"], cwd=repo, check=True)
    if branch_prompt is not None:
        persona = repo / "personas" / "sql-helper.yaml"
        text = persona.read_text()
        start, end = text.index("system_prompt: |"), text.index("publish:")
        persona.write_text(text[:start] + f"system_prompt: {branch_prompt!r}\n" + text[end:])
        subprocess.run([*git, "commit", "-qam", "branch"], cwd=repo, check=True)
    return repo


def plan_then_test(
    tmp_path: Path, repo: Path, base_ref: str = "main", **inputs: str
) -> tuple[StepRun, StepRun]:
    """The action's plan step, then its tests step with ``inputs`` (defaults as in action.yml)."""
    runner = Runner(tmp_path, {"GITHUB_BASE_REF": base_ref} if base_ref else {})
    plan = runner.run(
        action_step("run")["run"], {"COMMAND": "plan", "ARGS": "", "WORKDIR": "."}, repo
    )
    assert plan.code == 0, plan.log
    defaults = {k: str(v.get("default", "")) for k, v in load_yaml(ACTION_FILE)["inputs"].items()}
    env = {
        "TESTS": inputs.get("tests", defaults["tests"]),
        "BASELINE": inputs.get("tests_baseline", defaults["tests-baseline"]),
        "TESTS_ARGS": inputs.get("tests_args", defaults["tests-args"]),
        "FAIL_ON": inputs.get("tests_fail_on", defaults["tests-fail-on"]),
        "REQUIRE_MODEL": inputs.get("require_model", defaults["require-model"]),
        "PLAN_FILE": plan.outputs["plan-file"],
    }
    return plan, runner.run(action_step("tests")["run"], env, repo)


def test_auto_without_tests_files_skips_and_the_comment_is_the_plan(tmp_path: Path) -> None:
    plan, tests = plan_then_test(tmp_path, repo_with_cases(tmp_path, None))
    assert tests.code == 0, tests.log
    assert "No persona tests (*.tests.yaml) found" in tests.log
    assert "tests-file" not in tests.outputs
    plan_text = Path(plan.outputs["plan-file"]).read_text()
    assert Path(tests.outputs["comment-file"]).read_text() == plan_text


def test_passing_cases_go_under_the_plan_with_the_base_branch_as_baseline(
    tmp_path: Path, model_url: str
) -> None:
    repo = repo_with_cases(tmp_path, PASSING_CASE, model_url=model_url)
    plan, tests = plan_then_test(tmp_path, repo)
    assert tests.code == 0, tests.log
    assert tests.outputs["tests-exit-code"] == "0"
    report = Path(tests.outputs["tests-file"]).read_text()
    assert report.startswith("<!-- personas-tests -->")
    assert "(baseline <code>origin/main</code>)" in report
    assert "| ✅ | answers with SQL | passed | passed | same |" in report
    assert "No model was called" not in report
    comment = Path(tests.outputs["comment-file"]).read_text()
    assert comment == Path(plan.outputs["plan-file"]).read_text() + "\n" + report
    assert tests.summary == report


def test_a_regression_fails_the_step_after_writing_the_report(
    tmp_path: Path, model_url: str
) -> None:
    repo = repo_with_cases(
        tmp_path, PASSING_CASE, branch_prompt="Answer with prose only.", model_url=model_url
    )
    _, tests = plan_then_test(tmp_path, repo)
    assert tests.code == 1, tests.log
    assert (tests.outputs["tests-exit-code"], tests.outputs["tests-regressions"]) == ("1", "1")
    assert "::error::persona tests failed (personas test exited with 1; regressions: 1)" in (
        tests.log
    )
    comment = Path(tests.outputs["comment-file"]).read_text()
    assert "| ❌ | answers with SQL | failed | passed | **pass→fail** |" in comment


def test_a_case_failing_on_the_base_too_is_shown_but_does_not_fail(
    tmp_path: Path, model_url: str
) -> None:
    repo = repo_with_cases(tmp_path, FAILING_CASE, model_url=model_url)
    _, tests = plan_then_test(tmp_path, repo)
    assert tests.code == 0, tests.log
    assert (tests.outputs["tests-exit-code"], tests.outputs["tests-regressions"]) == ("1", "0")
    assert "::notice::personas test exited with 1, with no regression" in tests.log
    comment = Path(tests.outputs["comment-file"]).read_text()
    assert "| ❌ | answers with SQL | failed | failed | same |" in comment


def test_fail_on_failure_fails_on_any_failing_case(tmp_path: Path, model_url: str) -> None:
    repo = repo_with_cases(tmp_path, FAILING_CASE, model_url=model_url)
    _, tests = plan_then_test(tmp_path, repo, tests_fail_on="failure")
    assert tests.code == 1, tests.log


def test_fail_on_never_only_reports(tmp_path: Path, model_url: str) -> None:
    repo = repo_with_cases(
        tmp_path, PASSING_CASE, branch_prompt="Answer with prose only.", model_url=model_url
    )
    _, tests = plan_then_test(tmp_path, repo, tests_fail_on="never")
    assert tests.code == 0, tests.log
    assert (tests.outputs["tests-exit-code"], tests.outputs["tests-regressions"]) == ("1", "1")


def test_a_missing_base_ref_warns_and_runs_without_a_baseline(
    tmp_path: Path, model_url: str
) -> None:
    repo = repo_with_cases(tmp_path, PASSING_CASE, model_url=model_url)
    _, tests = plan_then_test(tmp_path, repo, base_ref="release/1.x")
    assert tests.code == 0, tests.log
    assert "::warning::origin/release/1.x is not in the checkout" in tests.log
    report = Path(tests.outputs["tests-file"]).read_text()
    assert "baseline" not in report and "| ✅ | answers with SQL | passed | 1/1 |" in report
    assert tests.outputs["tests-regressions"] == ""


def test_without_a_baseline_any_failing_case_fails(tmp_path: Path, model_url: str) -> None:
    repo = repo_with_cases(tmp_path, FAILING_CASE, model_url=model_url)
    _, tests = plan_then_test(tmp_path, repo, base_ref="")
    assert tests.code == 1, tests.log
    assert "regressions: no baseline" in tests.log


def test_a_tests_run_that_cannot_start_says_so_in_the_comment(tmp_path: Path) -> None:
    repo = repo_with_cases(tmp_path, PASSING_CASE)
    _, tests = plan_then_test(tmp_path, repo, tests_baseline="no-such-ref")
    assert tests.code == 1, tests.log
    assert tests.outputs["tests-exit-code"] == "2"
    comment = Path(tests.outputs["comment-file"]).read_text()
    assert "<!-- personas-tests -->\n### personas test: could not run" in comment


def test_bad_tests_inputs_are_refused(tmp_path: Path) -> None:
    repo = repo_with_cases(tmp_path, PASSING_CASE)
    _, tests = plan_then_test(tmp_path / "a", repo, tests="yes")
    assert tests.code == 1 and "unknown tests value 'yes'" in tests.log
    _, tests = plan_then_test(tmp_path / "b", repo, tests_fail_on="sometimes")
    assert tests.code == 1 and "unknown tests-fail-on value 'sometimes'" in tests.log
    _, tests = plan_then_test(tmp_path / "c", repo, require_model="yes")
    assert tests.code == 1 and "unknown require-model value 'yes'" in tests.log


def test_on_the_mirror_the_case_is_not_tested_and_the_step_passes(tmp_path: Path) -> None:
    """No model: the echo holds "single SQL query", yet the case is not tested, on both
    sides, so it is no regression; the report says so first."""
    repo = repo_with_cases(tmp_path, PASSING_CASE, branch_prompt="Answer with prose only.")
    _, tests = plan_then_test(tmp_path, repo)
    assert tests.code == 0, tests.log
    assert (tests.outputs["tests-exit-code"], tests.outputs["tests-regressions"]) == ("0", "0")
    report = Path(tests.outputs["tests-file"]).read_text().splitlines()
    assert report[3].startswith("> ⚠️ No model was called\\: 1 case\\(s\\)")
    assert (
        "| ⚪ | answers with SQL | not tested: no model was called "
        "| not tested: no model was called | not compared (no model) |"
    ) in report


def test_require_model_fails_the_step_when_no_model_was_called(tmp_path: Path) -> None:
    repo = repo_with_cases(tmp_path, PASSING_CASE)
    _, tests = plan_then_test(tmp_path / "a", repo, require_model="true")
    assert tests.code == 1, tests.log
    assert tests.outputs["tests-exit-code"] == "1"
    assert "::error::persona tests failed: no model was called for some cases" in tests.log
    comment = Path(tests.outputs["comment-file"]).read_text()
    assert "--require-model counts them as failures" in comment
    _, never = plan_then_test(tmp_path / "b", repo, require_model="true", tests_fail_on="never")
    assert never.code == 0, never.log


def test_require_model_passes_when_a_model_answers(tmp_path: Path, model_url: str) -> None:
    repo = repo_with_cases(tmp_path, PASSING_CASE, model_url=model_url)
    _, tests = plan_then_test(tmp_path, repo, require_model="true")
    assert tests.code == 0, tests.log
    assert tests.outputs["tests-exit-code"] == "0"
