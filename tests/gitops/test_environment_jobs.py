"""The template workflows with ``[environments]`` in personas.toml, run as jobs
(``tests.gitops.jobs``) in a new persona repository: the PR comment holds one plan per
environment; the promote job shows a commit's plan for an environment and applies nothing,
then, given that plan's checksum, applies exactly it, and refuses a stale checksum; the
drift job checks a named environment without the SCAIGRID secrets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread
from sqlalchemy import Engine

from tests.gitops.conftest import TEMPLATES_DIR, load_yaml
from tests.gitops.jobs import JobRun, run_job
from tests.gitops.layout import git, new_persona_repo
from tests.gitops.steps import Runner
from tests.sync.conftest import api_key

POST_STEP = "Post or update the plan comment"
SHOW_STEP = "Show the plan only"
APPLY_STEP = "Apply exactly the reviewed plan"


def template(name: str) -> dict[str, Any]:
    return load_yaml(TEMPLATES_DIR / "workflows" / name)


def github_context(**extra: Any) -> dict[str, Any]:
    return {
        "repository": "acme/personas",
        "server_url": "https://github.example",
        "run_id": "9",
        "token": "not-a-token",
        "ref_name": "main",
        "event": {"repository": {"default_branch": "main"}},
        **extra,
    }


@pytest.fixture
def production(sqlite_url: str) -> Iterator[tuple[str, str, Engine]]:
    """A remote catalogue for tenant acme on loopback: its URL, its key, its database."""
    engine = make_engine(sqlite_url)
    key = api_key(engine)
    with serve_in_thread(create_app(engine)) as base_url:
        yield base_url, key, engine
    engine.dispose()


def with_environments(tmp_path: Path, production_url: str) -> Path:
    repo = new_persona_repo(tmp_path)
    config = repo / "personas.toml"
    config.write_text(
        config.read_text()
        + '\n[environments.staging]\ndatabase = "sqlite:///.personas/staging.db"\n'
        + f'\n[environments.production]\nurl = "{production_url}"\n'
        + 'api_key_env = "PERSONAS_CATALOGUE_KEY"\n'
    )
    git(repo, "commit", "-qam", "staging and production")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    return repo


def slugs(engine: Engine) -> list[str]:
    catalogue = EmbeddedCatalogue(engine, "acme")
    return [p.slug for p in catalogue.iter_personas()]


def promote(tmp_path: Path, repo: Path, key: str, checksum: str = "") -> JobRun:
    runner = Runner(tmp_path / f"promote-{len(list(tmp_path.iterdir()))}")
    return run_job(
        runner,
        template("personas-promote.yml"),
        "promote",
        repo,
        secrets={"PERSONAS_CATALOGUE_KEY": key},
        github=github_context(),
        inputs={"environment": "production", "ref": "main", "checksum": checksum},
    )


def test_the_pr_comment_shows_the_plan_of_every_environment(
    tmp_path: Path, production: tuple[str, str, Engine]
) -> None:
    url, key, _ = production
    repo = with_environments(tmp_path, url)
    git(repo, "switch", "-q", "-c", "feature/shorter")
    persona = repo / "personas" / "sql-helper.yaml"
    persona.write_text(persona.read_text().replace("one paragraph", "one sentence"))
    git(repo, "commit", "-qam", "shorter")
    pull_request = {"number": 5, "head": {"sha": "feedbeef", "repo": {"full_name": "a/p"}}}
    job = run_job(
        Runner(tmp_path / "runner", {"GITHUB_BASE_REF": "main"}),
        template("personas-plan.yml"),
        "plan",
        repo,
        secrets={"PERSONAS_CATALOGUE_KEY": key},
        github=github_context(base_ref="main", event={"pull_request": pull_request}),
        offline=(POST_STEP,),
    )
    assert job.succeeded, job.log()
    body = Path(job.outputs["comment"]["body-file"]).read_text(encoding="utf-8")
    assert body.startswith("<!-- personas-plan -->\n### personas plan: <code>staging</code>")
    assert body.count("<!-- personas-plan -->") == 1  # one comment, found by its marker
    staging = body.index("### personas plan: <code>staging</code>")
    production_at = body.index("### personas plan: <code>production</code>")
    tests_at = body.index("<!-- personas-tests -->")
    assert staging < production_at < tests_at  # the plans first, the tests under them
    assert body.count("Plan checksum:") == 2


def test_a_remote_environment_without_its_key_is_said_not_planned(
    tmp_path: Path, production: tuple[str, str, Engine]
) -> None:
    repo = with_environments(tmp_path, production[0])
    pull_request = {"number": 6, "head": {"sha": "feedbeef", "repo": {"full_name": "a/p"}}}
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
    body = Path(job.outputs["comment"]["body-file"]).read_text(encoding="utf-8")
    assert "### personas plan: <code>production</code>: not planned" in body
    assert "PERSONAS_CATALOGUE_KEY" in body and "is not set" in body


def test_promote_shows_the_plan_then_applies_exactly_it(
    tmp_path: Path, production: tuple[str, str, Engine]
) -> None:
    url, key, engine = production
    repo = with_environments(tmp_path, url)

    shown = promote(tmp_path, repo, key)
    assert shown.succeeded, shown.log()
    assert shown.status[APPLY_STEP] == "skipped"
    checksum = shown.outputs["plan"]["checksum"]
    assert len(checksum) == 64
    assert f"checksum {checksum} to apply it" in shown.logs[SHOW_STEP]
    assert slugs(engine) == []  # shown, not applied
    assert not (repo / ".personas" / "staging.db").exists()

    applied = promote(tmp_path, repo, key, checksum)
    assert applied.succeeded, applied.log()
    assert applied.status[SHOW_STEP] == "skipped"
    assert "Applied to environment production:" in applied.logs[APPLY_STEP]
    assert slugs(engine) == ["sql-helper"]

    stale = promote(tmp_path, repo, key, checksum)  # production changed since that review
    assert not stale.succeeded
    assert "error STALE_PLAN" in stale.logs[APPLY_STEP]


@pytest.mark.parametrize("bad", [{"environment": "Prod uction"}, {"checksum": "abc"}])
def test_promote_refuses_bad_inputs_before_anything_runs(
    tmp_path: Path, bad: dict[str, str]
) -> None:
    repo = new_persona_repo(tmp_path)
    job = run_job(
        Runner(tmp_path / "runner"),
        template("personas-promote.yml"),
        "promote",
        repo,
        secrets={},
        github=github_context(),
        inputs={"environment": "production", "ref": "main", **bad},
    )
    assert job.status["Check the inputs"] == "failure"
    assert job.status["Plan the commit for the environment"] == "skipped"


def test_drift_checks_a_named_environment(
    tmp_path: Path, production: tuple[str, str, Engine]
) -> None:
    url, key, _ = production
    repo = with_environments(tmp_path, url)
    job = run_job(
        Runner(tmp_path / "runner"),
        template("personas-drift.yml"),
        "drift",
        repo,
        secrets={"PERSONAS_CATALOGUE_KEY": key},
        github=github_context(),
        offline=("Open, update or close the drift issue",),
        matrix={"environment": "production"},
    )
    # the empty production catalogue lacks the persona: drift, reported and failing the run
    assert job.outputs["catalogue"] == {"configured": "true"}
    assert job.outputs["plan"]["has-changes"] == "true"
    assert "<code>production</code>" in Path(job.outputs["plan"]["plan-file"]).read_text()
    assert job.status["Fail on drift"] == "failure"
