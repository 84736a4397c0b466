"""The plan workflow's "Assemble the plan comment" script, run with bash as the runner
runs it: one comment body with the plan, the persona tests report under it, and a footer;
a "plan failed" body when there is no plan; long parts cut so both stay visible."""

from __future__ import annotations

from pathlib import Path

from tests.gitops.steps import Runner, StepRun, workflow_step

PLAN = "<!-- personas-plan -->\n### personas plan\n\n| ~ | <code>support-agent</code> |\n"
TESTS = "<!-- personas-tests -->\n### personas test\n\n1 regression\n"
MAX_BYTES = 60000


def assemble(
    tmp_path: Path,
    plan_exit: str,
    plan: str | None,
    tests: str | None,
    environments: str | None = None,
) -> StepRun:
    step = workflow_step("personas-plan.yml", "plan", "comment")
    environments_file = tmp_path / "environments.md"
    if environments is not None:
        environments_file.write_text(environments, encoding="utf-8")
    plan_file, tests_file = tmp_path / "plan.md", tmp_path / "tests.md"
    if plan is not None:
        plan_file.write_text(plan, encoding="utf-8")
    if tests is not None:
        tests_file.write_text(tests, encoding="utf-8")
    env = {
        "HEAD_SHA": "0123abc",
        "PLAN_EXIT_CODE": plan_exit,
        "PLAN_FILE": str(plan_file),
        "TESTS_FILE": str(tests_file) if tests is not None else "",
        "ENVIRONMENTS_FILE": str(environments_file) if environments is not None else "",
        "HAS_CATALOGUE": "true",
        "RUN_URL": "https://github.example/run/1",
    }
    assert set(env) == set(step["env"])
    return Runner(tmp_path).run(step["run"], env, cwd=tmp_path)


def body_of(run: StepRun) -> str:
    assert run.code == 0, run.log
    return Path(run.outputs["body-file"]).read_text(encoding="utf-8")


def test_the_other_environments_plans_go_between_the_plan_and_the_tests(
    tmp_path: Path,
) -> None:
    production = "\n### personas plan: <code>production</code>\n\nPlan checksum: `ab`\n"
    body = body_of(assemble(tmp_path, "2", PLAN, TESTS, production))
    assert body.index(PLAN) < body.index(production) < body.index(TESTS)
    assert body.count("<!-- personas-plan -->") == 1


def test_the_tests_report_goes_under_the_plan_in_one_body(tmp_path: Path) -> None:
    body = body_of(assemble(tmp_path, "2", PLAN, TESTS))
    assert body.startswith(PLAN + "\n" + TESTS)
    assert body.count("<!-- personas-plan -->") == 1
    assert "<sub>Plan for 0123abc from [this run](https://github.example/run/1).</sub>" in body


def test_without_tests_the_body_is_the_plan(tmp_path: Path) -> None:
    body = body_of(assemble(tmp_path, "0", PLAN, None))
    assert body.startswith(PLAN + "\n---\n")
    assert "personas-tests" not in body


def test_a_failed_plan_gives_a_failure_body_even_with_a_report(tmp_path: Path) -> None:
    body = body_of(assemble(tmp_path, "1", PLAN, TESTS))
    assert body.startswith("<!-- personas-plan -->\n### personas plan: failed\n")
    assert "0123abc" in body and "personas-tests" not in body
    # No exit code at all (the plan step never ran, e.g. validation failed): same.
    assert "plan: failed" in body_of(assemble(tmp_path / "2", "", None, None))


def test_a_huge_plan_is_cut_and_the_tests_report_stays_visible(tmp_path: Path) -> None:
    plan = PLAN + "```diff\n" + "+ a line of a very long prompt diff\n" * 4000
    body = body_of(assemble(tmp_path, "2", plan, TESTS))
    assert len(body.encode()) < MAX_BYTES + 1000
    assert "**The plan was cut to fit a comment" in body
    head, tail = body.split("**The plan was cut", 1)
    assert head.count("```") % 2 == 0  # the open fence was closed
    assert TESTS in tail


def test_a_huge_tests_report_is_cut_after_the_whole_plan(tmp_path: Path) -> None:
    tests = TESTS + "<details>\n\n```diff\n" + "-an answer line\n" * 8000
    body = body_of(assemble(tmp_path, "2", PLAN, tests))
    assert body.startswith(PLAN + "\n" + TESTS)
    assert len(body.encode()) < MAX_BYTES + 1000
    assert "**The test report was cut to fit a comment" in body
    assert body.split("**The test report was cut", 1)[0].count("```") % 2 == 0


def test_multibyte_text_cut_in_the_middle_stays_valid_utf8(tmp_path: Path) -> None:
    plan = PLAN + "é" * 40000
    run = assemble(tmp_path, "2", plan, TESTS)
    assert run.code == 0, run.log
    Path(run.outputs["body-file"]).read_bytes().decode("utf-8")  # does not raise
