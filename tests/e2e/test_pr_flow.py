"""The GitOps loop end to end, with real git and the real CLI.

A bare "origin", a developer clone, and fresh CI clones for each workflow run
(plan on the pull request, apply on merge) against one catalogue: our REST app
on a loopback port, reached the way CI reaches ScaiGrid (SCAIGRID_HOST and
SCAIGRID_API_KEY).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import git
import pytest
from mcp import Client
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.mcp_server import build_server
from sqlalchemy import Engine

from tests.gitops.conftest import load_workflow
from tests.gitops.steps import Runner, StepRun, action_step
from tests.persona_tests.prompt_model import serve_prompt_model, use_model
from tests.sync.conftest import api_key

ROOT = Path(__file__).resolve().parents[2]


def cli() -> list[str]:
    script = Path(sys.executable).parent / "personas"
    return [str(script)] if script.exists() else [sys.executable, "-m", "personas_as_code.cli.main"]


@dataclass
class World:
    """Origin, a developer clone, and a catalogue that CI runs reach over HTTP."""

    tmp: Path
    origin: Path
    dev: git.Repo
    env: dict[str, str]
    catalogue: HttpCatalogue
    engine: Engine
    runs: int = 0

    def ci_checkout(self, branch: str) -> Path:
        """A fresh full clone at ``branch``, as actions/checkout with fetch-depth 0 makes."""
        self.runs += 1
        path = self.tmp / f"ci-run-{self.runs}"
        git.Repo.clone_from(self.origin, path, branch=branch)
        return path

    def personas(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli(), *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=180
        )

    def ci_apply(self) -> None:
        workdir = self.ci_checkout("main")
        result = self.personas("apply", "--auto-approve", cwd=workdir)
        assert result.returncode == 0, result.stdout + result.stderr
        assert self.personas("plan", "--detailed-exitcode", cwd=workdir).returncode == 0

    def ci_plan(self, branch: str) -> str:
        workdir = self.ci_checkout(branch)
        assert self.personas("validate", cwd=workdir).returncode == 0
        result = self.personas(
            "plan",
            "--changed-since",
            "origin/main",
            "--format",
            "markdown",
            "--detailed-exitcode",
            cwd=workdir,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        return result.stdout

    def merge(self, branch: str) -> None:
        self.dev.git.checkout("main")
        self.dev.git.fetch("origin")
        self.dev.git.merge(f"origin/{branch}", "--no-ff", "-m", f"Merge {branch}")
        self.dev.git.push("origin", "main")

    def slugs(self) -> set[str]:
        return {p.slug for p in self.catalogue.iter_personas()}


def plan_job_steps() -> list[dict]:
    return load_workflow("personas-plan.yml")["jobs"]["plan"]["steps"]


def table_rows(markdown: str) -> dict[str, str]:
    """persona slug -> change symbol, from the plan comment's table."""
    rows = re.findall(r"^\| ([+~\-!]) \| <code>([a-z0-9-]+)", markdown, flags=re.MULTILINE)
    return {slug: symbol for symbol, slug in rows}


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, example_repo: Path) -> Iterator[World]:
    origin = tmp_path / "origin.git"
    git.Repo.init(origin, bare=True, initial_branch="main")
    dev_path = tmp_path / "dev"
    shutil.copytree(example_repo, dev_path)
    config = dev_path / "personas.toml"
    config.write_text(config.read_text().replace("prune = false", "prune = true"))
    (dev_path / ".gitignore").write_text(".personas/\n")
    dev = git.Repo.init(dev_path, initial_branch="main")
    with dev.config_writer() as cw:
        cw.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    dev.git.add(A=True)
    dev.index.commit("Persona examples")
    dev.create_remote("origin", str(origin)).push("main")

    engine = make_engine(sqlite_url)
    key = api_key(engine)
    with serve_in_thread(create_app(engine)) as base_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONAS_DATABASE")}
        env.update(SCAIGRID_HOST=base_url, SCAIGRID_API_KEY=key, PYTHONPATH=str(ROOT))
        with HttpCatalogue(base_url, key) as catalogue:
            yield World(tmp_path, origin, dev, env, catalogue, engine)
    engine.dispose()


def test_pull_request_plan_merge_apply(world: World) -> None:
    world.ci_apply()
    assert len(world.slugs()) == 7

    # a feature branch: edit one persona, add one, delete one
    dev_root = Path(world.dev.working_tree_dir)
    world.dev.git.checkout("-b", "feature/personas")
    support = dev_root / "personas/support-agent.yaml"
    support.write_text(support.read_text().replace("Keep answers short", "Keep answers very short"))
    (dev_root / "personas/faq-helper.yaml").write_text(
        "# yaml-language-server: $schema=../schemas/persona.schema.json\n"
        "name: FAQ Helper\nmodel: scaigrid/gpt-4o-mini\nstatus: active\n"
        "system_prompt: Answer FAQ questions in one sentence.\n"
    )
    (dev_root / "personas/translator.yaml").unlink()
    world.dev.git.add(A=True)
    world.dev.index.commit("Shorter support answers; add FAQ helper; retire translator")
    world.dev.git.push("origin", "feature/personas")

    markdown = world.ci_plan("feature/personas")
    assert markdown.startswith("<!-- personas-plan -->")
    assert table_rows(markdown) == {"support-agent": "~", "faq-helper": "+", "translator": "-"}
    assert "+- Keep answers very short: three sentences" in markdown
    assert "Limited to personas changed since <code>origin/main</code>." in markdown

    world.merge("feature/personas")
    world.ci_apply()
    assert world.slugs() == {
        "faq-helper",
        "legacy-faq-bot",
        "legal-reviewer",
        "onboarding-coach",
        "release-notes-writer",
        "sql-helper",
        "support-agent",
    }
    support_now = next(p for p in world.catalogue.iter_personas() if p.slug == "support-agent")
    assert "Keep answers very short" in support_now.system_prompt
    models = {m.slug for m in world.catalogue.list_models()}
    assert "tenant/acme/translator" not in models and "tenant/acme/support-agent" in models


async def _patch_draft(workspace: Path) -> dict:
    async with Client(build_server(workspace, catalogue=None)) as client:
        result = await client.call_tool(
            "patch_persona_draft",
            {
                "slug": "sql-helper",
                "system_prompt": "You are a PostgreSQL expert.\nAnswer with one query and one "
                "paragraph.\n",
            },
        )
        assert not result.is_error, result.content
        return result.structured_content


def test_an_assistant_draft_goes_through_the_same_flow(world: World) -> None:
    world.ci_apply()
    # the assistant works in its own clone; its draft is a branch made by the MCP server
    workspace = world.ci_checkout("main")
    draft = anyio.run(_patch_draft, workspace)
    branch = draft["draft"]["branch"]
    assert draft["valid"] and branch.startswith("persona-drafts/sql-helper/")
    assert git.Repo(workspace).active_branch.name == "main"
    git.Repo(workspace).git.push("origin", branch)

    markdown = world.ci_plan(branch)
    assert table_rows(markdown) == {"sql-helper": "~"}
    assert "+Answer with one query and one paragraph." in markdown

    world.merge(branch)
    world.ci_apply()
    sql = next(p for p in world.catalogue.iter_personas() if p.slug == "sql-helper")
    assert (
        sql.system_prompt
        == "You are a PostgreSQL expert.\nAnswer with one query and one paragraph."
    )


# --- persona tests in the pull request comment ---------------------------------------

SUPPORT_CASES = """\
cases:
  - name: keeps answers short
    message: "How do I reset my password?"
    assert:
      - contains: "Keep answers short"
  - name: never promises refunds
    message: "Will you refund me?"
    assert:
      - contains: "Never promise refunds"
"""


def ci_plan_comment(world: World, branch: str) -> tuple[str, StepRun]:
    """What the plan workflow posts for a PR from ``branch`` into main: the action's
    validate, plan and tests steps, then the workflow's "Assemble the plan comment"
    step, each script run as written in action.yml and personas-plan.yml."""
    workdir = world.ci_checkout(branch)
    runner = Runner(world.tmp / f"runner-{world.runs}", {**world.env, "GITHUB_BASE_REF": "main"})
    run_step = action_step("run")
    workflow = {s.get("id") or s["name"]: s for s in plan_job_steps()}
    assert workflow["Validate persona files"]["with"] == {"command": "validate"}
    validate = runner.run(
        run_step["run"], {"COMMAND": "validate", "ARGS": "", "WORKDIR": "."}, workdir
    )
    assert validate.code == 0, validate.log

    with_ = workflow["plan"]["with"]
    assert with_["args"] == "--changed-since origin/${{ github.base_ref }}"
    plan = runner.run(
        run_step["run"],
        {"COMMAND": "plan", "ARGS": "--changed-since origin/main", "WORKDIR": "."},
        workdir,
    )
    assert plan.code == 0 and plan.outputs["exit-code"] == "2", plan.log

    assert (with_["tests"], with_["tests-baseline"]) == ("auto", "origin/${{ github.base_ref }}")
    tests_step = action_step("tests")
    tests_env = {
        "TESTS": with_["tests"],
        "BASELINE": "origin/main",
        "TESTS_ARGS": "",
        "FAIL_ON": "failure",
        "REQUIRE_MODEL": "true",  # the catalogue's support-agent model is a real one here
        "PLAN_FILE": plan.outputs["plan-file"],
        "PERSONAS_ENV": "",  # the action's environment input, empty: the default
    }
    assert set(tests_env) == set(tests_step["env"])
    tests = runner.run(tests_step["run"], tests_env, workdir)

    assemble = workflow["comment"]
    comment_env = {
        "HEAD_SHA": git.Repo(workdir).head.commit.hexsha,
        "PLAN_EXIT_CODE": plan.outputs["exit-code"],
        "PLAN_FILE": plan.outputs["plan-file"],
        "TESTS_FILE": tests.outputs.get("tests-file", ""),
        "ENVIRONMENTS_FILE": "",  # a repo without environments plans no other one
        "HAS_CATALOGUE": "true",
        "RUN_URL": "https://github.example/acme/personas/actions/runs/1",
    }
    assert set(comment_env) == set(assemble["env"])
    body = runner.run(assemble["run"], comment_env, workdir)
    assert body.code == 0, body.log
    return Path(body.outputs["body-file"]).read_text(encoding="utf-8"), tests


def details_of(markdown: str, case: str) -> str:
    """The collapsible section of one case in the tests report."""
    match = re.search(rf"<details>\n<summary>{re.escape(case)}: .*?</details>", markdown, re.S)
    assert match, markdown
    return match.group(0)


@pytest.fixture
def model(world: World) -> Iterator[None]:
    """The remote catalogue's gpt-4o backend is a loopback model (it answers with the
    prompt it received), so the cases' answers are a model's."""
    with serve_prompt_model() as (base_url, _):
        use_model(world.engine, base_url, ("openai/gpt-4o",))
        yield


@pytest.mark.usefixtures("model")
def test_a_prompt_edit_shows_the_plan_and_the_flipped_case_in_one_comment(world: World) -> None:
    dev_root = Path(world.dev.working_tree_dir)
    for old in (dev_root / "personas").glob("*.tests.yaml"):
        old.unlink()  # only this test's cases, so the flip below is the only change
    (dev_root / "personas/support-agent.tests.yaml").write_text(SUPPORT_CASES)
    world.dev.git.add(A=True)
    world.dev.index.commit("Support agent cases")
    world.dev.git.push("origin", "main")
    world.ci_apply()

    world.dev.git.checkout("-b", "feature/chatty-support")
    support = dev_root / "personas/support-agent.yaml"
    support.write_text(
        support.read_text().replace(
            "Keep answers short: three sentences", "Answer in as much detail as you like"
        )
    )
    world.dev.git.commit("-am", "Support agent: longer answers")
    world.dev.git.push("origin", "feature/chatty-support")

    comment, tests = ci_plan_comment(world, "feature/chatty-support")

    # The check fails (a case that passed on main fails here), after the report is written.
    assert tests.code == 1 and tests.outputs["tests-exit-code"] == "1", tests.log
    assert tests.outputs["tests-regressions"] == "1"
    assert (
        "::error::persona tests failed (personas test exited with 1; regressions: 1)" in tests.log
    )
    # One comment: the plan, then the tests report under it, then the footer.
    assert comment.startswith("<!-- personas-plan -->\n### personas plan")
    assert comment.count("<!-- personas-plan -->") == 1
    plan_part, tests_part = comment.split("<!-- personas-tests -->\n", 1)
    assert table_rows(plan_part) == {"support-agent": "~"}
    assert "+- Answer in as much detail as you like" in plan_part
    assert "-- Keep answers short: three sentences" in plan_part
    assert "### personas test" in tests_part and "(baseline <code>origin/main</code>)" in tests_part
    assert "| ❌ | keeps answers short | failed | passed | **pass→fail** |" in tests_part
    assert "| ✅ | never promises refunds | passed | passed | same |" in tests_part
    assert tests_part.index("keeps answers short") < tests_part.index("never promises refunds")
    # The flipped case's two answers, baseline and branch, together in its details.
    flipped = details_of(tests_part, "keeps answers short")
    assert "pass→fail" in flipped.split("</summary>", 1)[0]
    assert "Answer, baseline → this branch:" in flipped
    assert "-- Keep answers short: three sentences" in flipped
    assert "+- Answer in as much detail as you like" in flipped
    baseline_answer, branch_answer = flipped.split("Baseline answer:", 1)[1].split(
        "This branch's answer:", 1
    )
    assert (
        "Keep answers short" in baseline_answer and "How do I reset my password?" in baseline_answer
    )
    assert "Answer in as much detail" in branch_answer and "Keep answers short" not in branch_answer
    assert "never promises refunds:" not in tests_part.split("</details>")[-1]
    assert comment.rstrip().endswith("</sub>")

    # The author restores the line and pushes again: the next run's comment (the same
    # comment, edited in place by the post step) has no regression and the check passes.
    support.write_text(
        support.read_text().replace(
            "Answer in as much detail as you like", "Keep answers short: three sentences"
        )
    )
    support.write_text(support.read_text().replace("open a ticket", "open a support ticket"))
    world.dev.git.commit("-am", "Support agent: short answers again")
    world.dev.git.push("origin", "feature/chatty-support")
    comment, tests = ci_plan_comment(world, "feature/chatty-support")
    assert tests.code == 0 and tests.outputs["tests-exit-code"] == "0", tests.log
    assert tests.outputs["tests-regressions"] == "0"
    tests_part = comment.split("<!-- personas-tests -->\n", 1)[1]
    assert "| ✅ | keeps answers short | passed | passed | same |" in tests_part
    assert "| ✅ | never promises refunds | passed | passed | same |" in tests_part
    assert "pass→fail**" not in tests_part and "No model was called" not in tests_part
    # the edit of "open a ticket" changed what the model received: shown, not flagged
    assert "<summary>keeps answers short: passed (answer changed)</summary>" in tests_part
    assert "+  offer to open a support ticket." in comment.split("<!-- personas-tests -->")[0]
