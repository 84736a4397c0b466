"""The files ``personas init`` writes into a new persona repo (``scaffold/templates/``):
this repo's own workflows are the same files, they pin the project's version, their path
filters are the folders a default personas.toml names, and they lint clean where a new
repo puts them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from personas_as_code.scaffold.ci_filters import Watched, watched
from personas_as_code.schemas.config import RepoConfig

from tests.gitops.conftest import (
    HOOKS_FILE,
    PRE_COMMIT_TEMPLATE,
    PROJECT_VERSION,
    TEMPLATE_ACTION_LINE,
    TEMPLATE_DESTINATIONS,
    TEMPLATE_WORKFLOWS,
    TEMPLATES_DIR,
    WORKFLOWS_DIR,
    load_yaml,
)
from tests.gitops.layout import copy_templates
from tests.gitops.linters import describe, run_actionlint, run_zizmor


def default_filters() -> Watched:
    """What a default personas.toml (the one `personas init` writes) makes the filters."""
    return watched(RepoConfig.model_validate({"repo": {"id": "acme/personas"}}))


def test_the_templates_are_the_three_workflows_and_the_pre_commit_config() -> None:
    names = {path.name for path in TEMPLATE_WORKFLOWS}
    assert names == {
        "personas-plan.yml",
        "personas-apply.yml",
        "personas-drift.yml",
        "personas-promote.yml",
    }
    assert PRE_COMMIT_TEMPLATE.is_file()
    for source in TEMPLATE_DESTINATIONS:
        assert (TEMPLATES_DIR / source).is_file(), source


@pytest.mark.parametrize("template", TEMPLATE_WORKFLOWS, ids=lambda p: p.name)
def test_this_repos_workflow_is_the_template_run_from_the_checkout(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    assert "uses: ./" not in text
    assert text.count(TEMPLATE_ACTION_LINE) >= 1, (
        f"{template.name} does not run {TEMPLATE_ACTION_LINE}"
    )
    own = (WORKFLOWS_DIR / template.name).read_text(encoding="utf-8")
    # The only difference: where the action comes from.
    assert text.replace(TEMPLATE_ACTION_LINE, "uses: ./") == own, (
        f"{template.name} and .github/workflows/{template.name} differ beyond the action's "
        f"uses: line; change both"
    )


@pytest.mark.parametrize("template", TEMPLATE_WORKFLOWS, ids=lambda p: p.name)
def test_every_action_reference_pins_the_projects_version(template: Path) -> None:
    lines = [line.strip() for line in template.read_text(encoding="utf-8").splitlines()]
    refs = [line for line in lines if "personas-as-code@" in line and line.startswith("uses:")]
    assert refs and all(line == TEMPLATE_ACTION_LINE for line in refs), refs


def test_the_pre_commit_config_uses_this_repos_hook_at_the_projects_version() -> None:
    config = load_yaml(PRE_COMMIT_TEMPLATE)
    [repo] = config["repos"]
    assert repo["repo"].endswith("/personas-as-code")
    assert repo["rev"] == f"v{PROJECT_VERSION}"
    provided = {hook["id"] for hook in load_yaml(HOOKS_FILE)}
    assert {hook["id"] for hook in repo["hooks"]} <= provided
    assert {hook["id"] for hook in repo["hooks"]} == {"personas-validate"}


@pytest.mark.parametrize("name", ["personas-plan.yml", "personas-apply.yml"])
def test_the_path_filters_are_the_default_configs_folders(name: str) -> None:
    on = load_yaml(TEMPLATES_DIR / "workflows" / name)["on"]
    trigger = on.get("pull_request") or on["push"]
    assert trigger["paths"] == default_filters().globs(f".github/workflows/{name}")
    for folder in ("personas", "knowledge", "test-personas", "schemas"):
        assert f"{folder}/**" in trigger["paths"]
    assert "personas.toml" in trigger["paths"]


def test_the_pre_commit_files_pattern_is_the_default_configs_folders() -> None:
    [hook] = load_yaml(PRE_COMMIT_TEMPLATE)["repos"][0]["hooks"]
    assert hook["files"] == default_filters().files_regex()
    pattern = re.compile(hook["files"])
    for path in (
        "personas/support-agent.yaml",
        "personas/prompts/support.md",
        "personas/support-agent.tests.yaml",
        "knowledge/col_faq/faq.md",
        "test-personas/t.yaml",
        "schemas/persona.schema.json",
        "personas.toml",
    ):
        assert pattern.search(path), path
    for path in ("README.md", "docs/personas/x.yaml", "personas.toml.bak", "knowledge.md"):
        assert not pattern.search(path), path
    # The hook this overrides says the same (a repo without the override gets the default).
    assert hook["files"] == load_yaml(HOOKS_FILE)[0]["files"]


def test_the_templates_lint_clean_in_a_new_repo(tmp_path: Path) -> None:
    repo = tmp_path / "new-persona-repo"
    copy_templates(repo)
    workflows = sorted((repo / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) == 4
    assert (findings := run_actionlint(*workflows, cwd=repo)) == [], describe(findings)
    assert (findings := run_zizmor(*workflows, cwd=repo)) == [], describe(findings)
