"""The template workflows run as jobs in a new persona repository (``tests.gitops.jobs``):
every step's condition, env and script as written, the action as its composite steps,
the catalogue (when the secrets are set) our REST app on a loopback port.

The drift job without its secrets ends green with a notice and never reaches the issue;
with them it plans for real, reports drift and would keep the issue; the apply job
refuses to run without them; the plan job validates, plans, tests and assembles the PR
comment from a new repo's files, and does so for a pull request that changes only
knowledge (whose merge starts the apply job) or only test personas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread

from tests.gitops.conftest import ROOT, TEMPLATES_DIR, load_yaml
from tests.gitops.expressions import Evaluator
from tests.gitops.jobs import JobRun, run_job
from tests.gitops.layout import git, new_persona_repo
from tests.gitops.steps import Runner
from tests.gitops.triggers import changed_files, triggers
from tests.sync.conftest import api_key

SECRETS = ("SCAIGRID_HOST", "SCAIGRID_API_KEY")
ISSUE_STEP = "Open, update or close the drift issue"
POST_STEP = "Post or update the plan comment"
SKIP_NOTICE = "::notice title=Drift check skipped::"


def template(name: str) -> dict[str, Any]:
    return load_yaml(TEMPLATES_DIR / "workflows" / name)


def github_context(**extra: Any) -> dict[str, Any]:
    return {
        "repository": "acme/personas",
        "server_url": "https://github.example",
        "run_id": "7",
        "token": "not-a-token",
        "ref_name": "main",
        "event": {"repository": {"default_branch": "main"}},
        **extra,
    }


@pytest.fixture
def catalogue(sqlite_url: str) -> Iterator[dict[str, str]]:
    """The SCAIGRID secrets of an empty catalogue for tenant acme, served on loopback."""
    engine = make_engine(sqlite_url)
    key = api_key(engine)
    with serve_in_thread(create_app(engine)) as base_url:
        yield {"SCAIGRID_HOST": base_url, "SCAIGRID_API_KEY": key}
    engine.dispose()


# --- the drift workflow's secret check, alone ------------------------------------------


def guard_step() -> dict[str, Any]:
    steps = template("personas-drift.yml")["jobs"]["drift"]["steps"]
    return next(s for s in steps if s.get("id") == "catalogue")


def run_guard(tmp_path: Path, secrets: dict[str, str], environment: str = ""):
    """The check's script with its env as GitHub fills it (an unset secret reads as '')."""
    step = guard_step()
    context = {"secrets": secrets, "matrix": {"environment": environment}}
    env = {name: Evaluator(context, {}).interpolate(v) for name, v in step["env"].items()}
    assert set(env) == {*SECRETS, "TARGET"}
    return Runner(tmp_path).run(step["run"], env, cwd=tmp_path)


@pytest.mark.parametrize(
    "secrets",
    [{}, {"SCAIGRID_HOST": "https://grid.example"}, {"SCAIGRID_API_KEY": "k"}],
    ids=["none", "host only", "key only"],
)
def test_the_drift_check_skips_with_a_notice_without_both_secrets(
    tmp_path: Path, secrets: dict[str, str]
) -> None:
    result = run_guard(tmp_path, secrets)
    assert result.code == 0, result.log
    assert SKIP_NOTICE in result.log
    assert result.outputs == {"configured": "false"}


def test_the_drift_check_proceeds_with_both_secrets(tmp_path: Path) -> None:
    result = run_guard(tmp_path, {"SCAIGRID_HOST": "https://grid.example", "SCAIGRID_API_KEY": "k"})
    assert result.code == 0, result.log
    assert "::notice" not in result.log and "k" not in result.log.split()
    assert result.outputs == {"configured": "true"}


def test_a_named_environment_is_checked_without_the_scaigrid_secrets(tmp_path: Path) -> None:
    """Its catalogue is named in personas.toml (a database, or a url and key variable)."""
    result = run_guard(tmp_path, {}, environment="production")
    assert result.code == 0, result.log
    assert result.outputs == {"configured": "true"}


def test_no_drift_step_runs_after_the_check_says_not_configured() -> None:
    steps = template("personas-drift.yml")["jobs"]["drift"]["steps"]
    after = steps[steps.index(guard_step()) + 1 :]
    assert len(after) == 3
    not_configured = {"steps": {"catalogue": {"outputs": {"configured": "false"}}}}
    for step in after:
        # Whatever the plan step did, the check's "false" keeps the step from running.
        for outcome in ("success", "failure", "skipped"):
            context = {
                "steps": {
                    **not_configured["steps"],
                    "plan": {"outcome": outcome, "outputs": {"has-changes": "true"}},
                }
            }
            status = {"success": True, "failure": False, "cancelled": False, "always": True}
            assert not Evaluator(context, status).condition(step.get("if")), step["name"]


# --- whole jobs in a new persona repository --------------------------------------------


def drift(tmp_path: Path, repo: Path, secrets: dict[str, str]) -> JobRun:
    workflow = template("personas-drift.yml")
    runner = Runner(tmp_path / f"drift-{len(list(tmp_path.iterdir()))}")
    return run_job(
        runner,
        workflow,
        "drift",
        repo,
        secrets=secrets,
        github=github_context(),
        offline=(ISSUE_STEP,),
    )


def test_the_drift_job_without_secrets_ends_green_and_never_touches_the_issue(
    tmp_path: Path,
) -> None:
    job = drift(tmp_path, new_persona_repo(tmp_path), secrets={})
    assert job.succeeded, job.log()
    assert job.status == {
        "Check out": "success",
        "Look for a remote catalogue": "success",
        "Plan the full persona set": "skipped",
        ISSUE_STEP: "skipped",
        "Fail on drift": "skipped",
    }
    assert SKIP_NOTICE in job.logs["Look for a remote catalogue"]
    assert not (tmp_path / "persona-repo" / ".personas").exists()  # nothing was planned


def test_the_drift_job_with_a_catalogue_reports_drift_then_none_after_apply(
    tmp_path: Path, catalogue: dict[str, str]
) -> None:
    repo = new_persona_repo(tmp_path)
    job = drift(tmp_path, repo, catalogue)
    assert job.status["Plan the full persona set"] == "success", job.log()
    assert job.outputs["plan"]["has-changes"] == "true"
    assert "sql-helper" in Path(job.outputs["plan"]["plan-file"]).read_text()
    assert job.status[ISSUE_STEP] == "offline"  # it would open the drift issue
    assert job.status["Fail on drift"] == "failure" and not job.succeeded

    apply = run_job(
        Runner(tmp_path / "apply"),
        template("personas-apply.yml"),
        "apply",
        repo,
        secrets=catalogue,
        github=github_context(),
    )
    assert apply.succeeded and apply.status["Apply"] == "success", apply.log()

    job = drift(tmp_path, repo, catalogue)
    assert job.outputs["plan"]["has-changes"] == "false", job.log()
    assert job.status[ISSUE_STEP] == "offline"  # it would close an open drift issue
    assert job.status["Fail on drift"] == "skipped" and job.succeeded


def test_the_apply_job_refuses_to_run_without_secrets(tmp_path: Path) -> None:
    job = run_job(
        Runner(tmp_path / "runner"),
        template("personas-apply.yml"),
        "apply",
        new_persona_repo(tmp_path),
        secrets={},
        github=github_context(),
    )
    assert job.status["Require a remote catalogue"] == "failure"
    assert job.status["Apply"] == "skipped"
    assert "::error title=No catalogue configured::" in job.logs["Require a remote catalogue"]


def test_the_plan_job_in_a_new_repo_posts_the_plan_and_the_tests(tmp_path: Path) -> None:
    repo = new_persona_repo(tmp_path)
    git(repo, "switch", "-q", "-c", "feature/shorter")
    persona = repo / "personas" / "sql-helper.yaml"
    persona.write_text(persona.read_text().replace("one paragraph", "one sentence"))
    git(repo, "commit", "-qam", "SQL helper: shorter explanations")
    pull_request = {
        "number": 3,
        "head": {"sha": "feedbeef", "repo": {"full_name": "acme/personas"}},
    }
    job = run_job(
        Runner(tmp_path / "runner", {"GITHUB_BASE_REF": "main"}),
        template("personas-plan.yml"),
        "plan",
        repo,
        secrets={},
        github=github_context(base_ref="main", event={"pull_request": pull_request}),
        offline=(POST_STEP,),
    )
    assert job.succeeded, job.log()
    assert set(job.status.values()) == {"success", "offline"}
    assert job.status[POST_STEP] == "offline"  # a same-repo PR gets the comment
    # The action reused the runner's venv and says where the tool is.
    assert job.outputs["plan"]["bin-dir"].endswith("/personas-as-code/venv/bin")
    assert "personas-as-code already installed" in job.logs["Validate persona files"]
    body = Path(job.outputs["comment"]["body-file"]).read_text(encoding="utf-8")
    assert body.startswith("<!-- personas-plan -->")
    assert "sql-helper" in body and "one sentence" in body
    assert "<!-- personas-tests -->" in body and "answers with SQL" in body
    assert "(baseline <code>origin/main</code>)" in body
    assert "Plan for feedbeef from [this run](https://github.example/acme/personas/" in body
    assert "empty embedded catalogue" in body  # no secrets in a new repo


# --- pull requests of knowledge or test personas only, planned, tested and applied -------


def plan_pull_request(tmp_path: Path, repo: Path) -> str:
    """Run the plan job for the branch checked out in ``repo``; the PR comment it made."""
    pull_request = {"number": 4, "head": {"sha": "0ddba11", "repo": {"full_name": "acme/personas"}}}
    job = run_job(
        Runner(tmp_path / "runner", {"GITHUB_BASE_REF": "main"}),
        template("personas-plan.yml"),
        "plan",
        repo,
        secrets={},
        github=github_context(base_ref="main", event={"pull_request": pull_request}),
        offline=(POST_STEP,),
    )
    assert job.succeeded, job.log()
    assert set(job.status.values()) == {"success", "offline"}
    assert "1 persona(s) valid." in job.logs["Validate persona files"]
    return Path(job.outputs["comment"]["body-file"]).read_text(encoding="utf-8")


def test_a_knowledge_only_pull_request_is_planned_tested_and_applied(
    tmp_path: Path, catalogue: dict[str, str]
) -> None:
    repo = new_persona_repo(tmp_path)
    git(repo, "switch", "-q", "-c", "feature/sql-notes")
    notes = repo / "knowledge" / "col_sql_notes"
    notes.mkdir(parents=True)
    (notes / "window-functions.md").write_text("# Window functions\n\nUse OVER().\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "SQL notes for the helper")
    changed = changed_files(repo, "origin/main", merge_base=True)
    assert changed == ["knowledge/col_sql_notes/window-functions.md"]
    plan_workflow = template("personas-plan.yml")
    assert triggers(plan_workflow, "pull_request", branch="main", changed=changed)

    body = plan_pull_request(tmp_path, repo)
    # the plan shows the knowledge change; the persona tests ran against the base too
    assert "<code>col_sql_notes</code>: new index, 1 document to embed" in body
    assert "window-functions.md" in body
    assert "<!-- personas-tests -->" in body and "answers with SQL" in body
    assert "(baseline <code>origin/main</code>)" in body

    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge sql-notes", "feature/sql-notes")
    pushed = changed_files(repo, "origin/main", "main", merge_base=False)
    apply_workflow = template("personas-apply.yml")
    assert triggers(apply_workflow, "push", branch="main", changed=pushed)
    apply = run_job(
        Runner(tmp_path / "apply"),
        apply_workflow,
        "apply",
        repo,
        secrets=catalogue,
        github=github_context(),
    )
    assert apply.succeeded and apply.status["Apply"] == "success", apply.log()
    # A remote ScaiGrid indexes no knowledge from the repo (sync.knowledge): the apply
    # reads the merged folder and says it is left to the ScaiGrid collections.
    assert "1 knowledge folder(s) in the repo are left alone" in apply.logs["Apply"]


def test_a_test_personas_only_pull_request_is_planned_and_tested(tmp_path: Path) -> None:
    repo = new_persona_repo(tmp_path)
    git(repo, "switch", "-q", "-c", "feature/hurried-analyst")
    user = repo / "test-personas" / "hurried-analyst.yaml"
    user.parent.mkdir()
    user.write_text((ROOT / "test-personas" / "impatient-user.yaml").read_text())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "A hurried analyst to test with")
    changed = changed_files(repo, "origin/main", merge_base=True)
    assert changed == ["test-personas/hurried-analyst.yaml"]
    assert triggers(template("personas-plan.yml"), "pull_request", branch="main", changed=changed)
    body = plan_pull_request(tmp_path, repo)
    assert "#### test personas (the embedded catalogue, project default)" in body
    assert "| + | <code>hurried-analyst</code> | test-personas/hurried-analyst.yaml |" in body
    assert "<!-- personas-tests -->" in body and "answers with SQL" in body
