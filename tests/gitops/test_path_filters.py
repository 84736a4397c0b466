"""The plan and apply workflows start for every folder the repo config names.

The ``on:`` filters are evaluated with GitHub's documented glob rules
(``tests.gitops.triggers``, checked here against the cheat sheet's examples) over the files
a real git history changes: a pull request that touches only knowledge, only test
personas or only a prompt gets the plan workflow (validate, plan, tests), and its merge
the apply workflow; one that touches none of them gets neither.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest
from personas_as_code.scaffold.ci_filters import watched
from personas_as_code.schemas.config import RepoConfig

from tests.gitops.conftest import ROOT, TEMPLATES_DIR, WORKFLOWS_DIR, load_yaml
from tests.gitops.layout import git, new_persona_repo
from tests.gitops.triggers import changed_files, glob_regex, included, triggers

# (pattern, matching paths, paths it does not match): the cheat sheet's examples, and
# the neighbours that tell its rules apart.
CHEAT_SHEET = [
    ("*", ["README.md", "server.rb"], ["docs/README.md"]),
    ("*.jsx?", ["page.js", "page.jsx"], ["page.jsxx", "src/page.js"]),
    ("**", ["all/the/files.md"], []),
    ("*.js", ["app.js", "index.js"], ["js/index.js"]),
    ("**.js", ["index.js", "js/index.js", "src/js/app.js"], ["index.jsx"]),
    ("docs/*", ["docs/README.md", "docs/file.txt"], ["docs/mona/octocat.txt", "docs"]),
    ("docs/**", ["docs/README.md", "docs/mona/octocat.txt"], ["docsx/a.md", "a/docs/b.md"]),
    (
        "docs/**/*.md",
        ["docs/README.md", "docs/mona/hello-world.md", "docs/a/markdown/guide.md"],
        ["docs/a/guide.txt"],
    ),
    (
        "**/docs/**",
        ["docs/hello.md", "dir/docs/my-file.txt", "space/docs/plan/space.doc"],
        ["mydocs/a.md"],
    ),
    ("**/README.md", ["README.md", "js/README.md"], ["README.mdx"]),
    ("**/*src/**", ["a/src/app.js", "my-src/code/js/app.js"], ["src.js"]),
    ("**/*-post.md", ["my-post.md", "path/their-post.md"], ["post.md"]),
    (
        "**/migrate-*.sql",
        ["migrate-10909.sql", "db/migrate-v1.0.sql", "db/sept/migrate-v1.sql"],
        ["db/migrate.sql"],
    ),
    ("v[12].[0-9]+.[0-9]+", ["v1.10.1", "v2.0.0"], ["v3.0.0", "v1..1"]),
    ("[CB]at", ["Cat", "Bat"], ["Hat", "CBat"]),
    ("Octo*", ["Octocat"], ["Octo/cat"]),
    ("team \\[a\\]\\+b/**", ["team [a]+b/x.yaml"], ["team a+b/x.yaml", "team ab/x.yaml"]),
]


@pytest.mark.parametrize(
    ("pattern", "hits", "misses"), CHEAT_SHEET, ids=[c[0] for c in CHEAT_SHEET]
)
def test_the_matcher_follows_the_cheat_sheet(pattern: str, hits: list[str], misses: list[str]):
    assert [p for p in hits if not glob_regex(pattern).fullmatch(p)] == []
    assert [p for p in misses if glob_regex(pattern).fullmatch(p)] == []


def test_negation_is_read_in_order() -> None:
    patterns = ["*.md", "!README.md"]
    assert included(patterns, "hello.md")
    assert not included(patterns, "README.md") and not included(patterns, "docs/hello.md")
    again = [*patterns, "README*"]
    assert all(included(again, p) for p in ("hello.md", "README.md", "README.doc"))


def test_fnmatch_would_say_otherwise() -> None:
    # why the filters are not checked with fnmatch: its * crosses folders, its ? is a char
    assert fnmatch.fnmatchcase("docs/mona/octocat.txt", "docs/*")
    assert not glob_regex("docs/*").fullmatch("docs/mona/octocat.txt")
    assert not fnmatch.fnmatchcase("page.js", "*.jsx?")
    assert glob_regex("*.jsx?").fullmatch("page.js")


# --- the workflows in a persona repository's history ------------------------------------

WORKFLOW_SETS = {
    "templates": TEMPLATES_DIR / "workflows",
    "this repo": WORKFLOWS_DIR,
}
# A change to one kind of file, alone (path -> text).
KNOWLEDGE = {
    "knowledge/col_sql_notes/collection.yaml": "name: SQL notes\n",
    "knowledge/col_sql_notes/window-functions.md": "# Window functions\n\nUse OVER().\n",
}
TEST_PERSONA = {
    "test-personas/hurried-analyst.yaml": (
        ROOT / "test-personas" / "impatient-user.yaml"
    ).read_text(encoding="utf-8"),
}
PROMPT = {"personas/prompts/sql-helper.md": "You are a PostgreSQL expert.\n"}
ONLY = {"knowledge": KNOWLEDGE, "test personas": TEST_PERSONA, "a prompt": PROMPT}
# What the plan and apply workflows listened to before they followed the config.
OLD_PATHS = ["personas/**", "personas.toml"]


def workflow(kind: str, name: str) -> dict:
    return load_yaml(WORKFLOW_SETS[kind] / name)


def pull_request(tmp_path: Path, files: dict[str, str]) -> tuple[Path, list[str]]:
    """A new persona repo with a PR branch adding ``files``; the PR's changed files."""
    repo = new_persona_repo(tmp_path)
    git(repo, "switch", "-q", "-c", "feature")
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    return repo, changed_files(repo, "origin/main", merge_base=True)


def merge(repo: Path) -> list[str]:
    """Merge the PR into main (a merge commit); the files that push to main changes."""
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    return changed_files(repo, "origin/main", "main", merge_base=False)


@pytest.mark.parametrize("kind", WORKFLOW_SETS)
@pytest.mark.parametrize("only", ONLY)
def test_a_pull_request_of_one_kind_of_file_is_planned_and_its_merge_applied(
    tmp_path: Path, kind: str, only: str
) -> None:
    repo, changed = pull_request(tmp_path, ONLY[only])
    assert sorted(changed) == sorted(ONLY[only])
    plan = workflow(kind, "personas-plan.yml")
    assert triggers(plan, "pull_request", branch="main", changed=changed)
    # the one job of the workflow validates, plans and runs the tests
    steps = [step.get("with", {}) for step in plan["jobs"]["plan"]["steps"]]
    assert {"command": "validate"} in steps
    assert any(s.get("command") == "plan" and s.get("tests") == "auto" for s in steps)

    pushed = merge(repo)
    assert sorted(pushed) == sorted(ONLY[only])
    apply = workflow(kind, "personas-apply.yml")
    assert triggers(apply, "push", branch="main", changed=pushed)
    assert not triggers(apply, "push", branch="feature", changed=pushed)
    if only != "a prompt":  # the old filters ran for personas/ only
        assert not any(included(OLD_PATHS, path) for path in changed)


@pytest.mark.parametrize("kind", WORKFLOW_SETS)
def test_a_pull_request_that_touches_no_persona_repo_folder_runs_neither(
    tmp_path: Path, kind: str
) -> None:
    repo, changed = pull_request(tmp_path, {"README.md": "# ours\n", "docs/notes.md": "x\n"})
    assert not triggers(
        workflow(kind, "personas-plan.yml"), "pull_request", branch="main", changed=changed
    )
    pushed = merge(repo)
    assert not triggers(workflow(kind, "personas-apply.yml"), "push", branch="main", changed=pushed)


def test_a_pull_request_that_only_changes_the_plan_workflow_runs_it(tmp_path: Path) -> None:
    repo = new_persona_repo(tmp_path)
    git(repo, "switch", "-q", "-c", "feature")
    target = repo / ".github" / "workflows" / "personas-plan.yml"
    target.write_text(target.read_text() + "\n")
    git(repo, "commit", "-qam", "touch the plan workflow")
    changed = changed_files(repo, "origin/main", merge_base=True)
    assert changed == [".github/workflows/personas-plan.yml"]
    assert triggers(
        workflow("templates", "personas-plan.yml"), "pull_request", branch="main", changed=changed
    )


@pytest.mark.parametrize("name", ["personas-plan.yml", "personas-apply.yml"])
def test_this_repos_filters_are_the_folders_its_config_names(name: str) -> None:
    config = RepoConfig.model_validate(tomllib.loads((ROOT / "personas.toml").read_text()))
    on = load_yaml(WORKFLOWS_DIR / name)["on"]
    paths = (on.get("pull_request") or on["push"])["paths"]
    assert paths == watched(config).globs(f".github/workflows/{name}")
    # every folder that holds this repo's persona repo files is among them
    for folder in ("personas", "knowledge", "test-personas", "schemas"):
        sample = next(p for p in (ROOT / folder).rglob("*") if p.is_file())
        assert included(paths, sample.relative_to(ROOT).as_posix()), sample
