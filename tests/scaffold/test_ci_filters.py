"""The workflows' path filters and the hook's ``files:`` follow ``personas.toml``:
``personas init --personas-dir`` writes them for its folder, and ``personas init
--update-filters`` rewrites only them after the config moved a folder.  Whether a change
starts a workflow is decided with GitHub's glob rules (``tests.gitops.triggers``)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.gitops.conftest import load_yaml
from tests.gitops.linters import describe, run_actionlint
from tests.gitops.triggers import included, triggers
from tests.scaffold.conftest import personas, tree

PLAN = ".github/workflows/personas-plan.yml"
APPLY = ".github/workflows/personas-apply.yml"
PRE_COMMIT = ".pre-commit-config.yaml"


def plan_runs_for(repo: Path, *changed: str) -> bool:
    return triggers(load_yaml(repo / PLAN), "pull_request", branch="main", changed=changed)


def apply_runs_for(repo: Path, *changed: str) -> bool:
    return triggers(load_yaml(repo / APPLY), "push", branch="main", changed=changed)


def hook_pattern(repo: Path) -> re.Pattern[str]:
    [hook] = load_yaml(repo / PRE_COMMIT)["repos"][0]["hooks"]
    return re.compile(hook["files"])


def test_init_with_a_personas_dir_writes_filters_for_that_folder(tmp_path: Path) -> None:
    done = personas("init", "r", "--personas-dir", "team/personas", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    repo = tmp_path / "r"
    assert 'personas_dir = "team/personas"' in (repo / "personas.toml").read_text()
    valid = personas("validate", cwd=repo)
    assert valid.returncode == 0 and "1 persona(s) valid." in valid.stdout, valid.stdout

    for path in ("team/personas/example-assistant.yaml", "team/personas/prompts/x.md"):
        assert plan_runs_for(repo, path) and apply_runs_for(repo, path)
        assert hook_pattern(repo).search(path)
    for path in ("personas/example-assistant.yaml", "team/notes.md"):
        assert not plan_runs_for(repo, path) and not apply_runs_for(repo, path)
        assert not hook_pattern(repo).search(path)
    # the default knowledge and test-personas folders are still watched
    assert plan_runs_for(repo, "knowledge/col_a/a.md") and plan_runs_for(
        repo, "test-personas/t.yaml"
    )
    workflows = sorted((repo / ".github" / "workflows").glob("*.yml"))
    assert (findings := run_actionlint(*workflows, cwd=repo)) == [], describe(findings)


def test_a_folder_name_with_glob_characters_is_matched_literally(tmp_path: Path) -> None:
    done = personas("init", "r", "--personas-dir", "team [a]+b*", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    repo = tmp_path / "r"
    assert personas("validate", cwd=repo).returncode == 0
    assert plan_runs_for(repo, "team [a]+b*/example-assistant.yaml")
    assert hook_pattern(repo).search("team [a]+b*/example-assistant.yaml")
    for other in ("team a+b/x.yaml", "team [a]b/x.yaml", "team [a]+bz/x.yaml"):
        assert not plan_runs_for(repo, other), other
        assert not hook_pattern(repo).search(other), other


def test_init_refuses_a_personas_dir_outside_or_hidden(tmp_path: Path) -> None:
    for folder, reason in [
        ("../elsewhere", "is not a folder inside the repo"),
        ("/abs", "is not a folder inside the repo"),
        (".hidden", "choose a folder of its own"),
        ("a\nb", "holds a control character"),
    ]:
        done = personas("init", "r", "--personas-dir", folder, cwd=tmp_path)
        assert done.returncode == 1, folder
        assert done.stderr.startswith("error CONFIG_ERROR:") and reason in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "r").exists()


MOVED = """
[knowledge]
folder = "docs/kb"

[test_personas]
dir = "qa/users"
"""


def paths_removed(text: str) -> str:
    """The file without its filter lines (what --update-filters must leave alone)."""
    lines = text.splitlines()
    return "\n".join(line for line in lines if not re.match(r'^\s+(- "|files: )', line))


def test_update_filters_follows_moved_folders_and_keeps_everything_else(new_repo: Path) -> None:
    repo = new_repo
    # the adopter's own edits to the files init wrote
    for rel in (PLAN, APPLY):
        text = (repo / rel).read_text().replace("OWNER/personas-as-code", "acme/personas-as-code")
        (repo / rel).write_text(text)
    before = tree(repo)
    with (repo / "personas.toml").open("a") as config:
        config.write(MOVED)
    # a prompt moved out of the personas folder
    (repo / "prompts").mkdir()
    (repo / "personas" / "prompts" / "example-assistant.md").rename(
        repo / "prompts" / "example-assistant.md"
    )
    persona = repo / "personas" / "example-assistant.yaml"
    persona.write_text(persona.read_text().replace("prompts/", "../prompts/"))
    assert personas("validate", cwd=repo).returncode == 0
    for path in ("docs/kb/col_a/a.md", "qa/users/t.yaml", "prompts/example-assistant.md"):
        assert not plan_runs_for(repo, path), path  # what init wrote does not know them

    done = personas("init", "--update-filters", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"updated {APPLY}",
        f"updated {PLAN}",
        f"updated {PRE_COMMIT}",
    ]
    for path in ("docs/kb/col_a/a.md", "qa/users/t.yaml", "prompts/example-assistant.md"):
        assert plan_runs_for(repo, path) and apply_runs_for(repo, path), path
        assert hook_pattern(repo).search(path), path
    for path in ("knowledge/col_a/a.md", "test-personas/t.yaml", "docs/other.md"):
        assert not plan_runs_for(repo, path) and not hook_pattern(repo).search(path), path
    plan_paths = load_yaml(repo / PLAN)["on"]["pull_request"]["paths"]
    assert included(plan_paths, "personas/example-assistant.yaml")
    assert included(plan_paths, PLAN) and not included(plan_paths, APPLY)

    after = tree(repo)
    for rel in (PLAN, APPLY, PRE_COMMIT):
        assert paths_removed(after[rel].decode()) == paths_removed(before[rel].decode()), rel
    assert "acme/personas-as-code" in after[PLAN].decode()
    assert {rel for rel in after if after[rel] != before.get(rel)} == {
        PLAN,
        APPLY,
        PRE_COMMIT,
        "personas.toml",
        "personas/example-assistant.yaml",
        "prompts/example-assistant.md",
    }

    again = personas("init", "--update-filters", cwd=repo)
    assert (
        again.returncode == 0 and again.stdout == "The path filters already match personas.toml.\n"
    )
    assert tree(repo) == after


def test_update_filters_adds_files_to_a_hook_without_it(new_repo: Path) -> None:
    config = new_repo / PRE_COMMIT
    config.write_text(
        "repos:\n  - repo: https://github.com/acme/personas-as-code\n    rev: v1.0.0\n"
        "    hooks:\n      - id: personas-validate\n      - id: other\n        files: x\n"
    )
    done = personas("init", "--update-filters", cwd=new_repo)
    assert done.returncode == 0, done.stderr
    hooks = load_yaml(config)["repos"][0]["hooks"]
    assert hooks[1] == {"id": "other", "files": "x"}
    assert re.compile(hooks[0]["files"]).search("knowledge/col_a/a.md")


def test_update_filters_refuses_what_it_cannot_rewrite_and_writes_nothing(new_repo: Path) -> None:
    plan = new_repo / PLAN
    plan.write_text(plan.read_text().replace("on:\n", "on:\n  push:\n    paths: [x]\n", 1))
    with (new_repo / "personas.toml").open("a") as config:
        config.write(MOVED)
    before = tree(new_repo)
    done = personas("init", "--update-filters", cwd=new_repo)
    assert done.returncode == 1
    assert done.stderr.startswith("error WRITE_REFUSED:") and PLAN in done.stderr
    assert "Traceback" not in done.stderr
    assert tree(new_repo) == before  # the apply workflow and the hook were not rewritten either


def test_update_filters_needs_a_valid_config_and_takes_no_init_options(tmp_path: Path) -> None:
    done = personas("init", "--update-filters", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("error CONFIG_ERROR:")
    assert "personas.toml not found" in done.stderr
    (tmp_path / "personas.toml").write_text('[repo]\nid = "a"\npersonas_dir = "../out"\n')
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    refused = personas("init", "--update-filters", cwd=tmp_path)
    assert refused.returncode == 1, refused.stdout
    assert "[repo] personas_dir '../out' is not a folder inside the repo" in refused.stderr
    mixed = personas("init", "--update-filters", "--personas-dir", "x", cwd=tmp_path)
    assert mixed.returncode == 1 and "takes no --repo-id" in mixed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".pre-commit-config.yaml",
        "personas.toml",
    ]


def test_an_own_entry_after_a_comment_in_the_list_survives_an_update(new_repo: Path) -> None:
    plan = new_repo / PLAN
    plan.write_text(
        plan.read_text().replace(
            '      - ".github/workflows/personas-plan.yml"\n',
            '      - ".github/workflows/personas-plan.yml"\n      # ours\n      - "glossary/**"\n',
        )
    )
    with (new_repo / "personas.toml").open("a") as config:
        config.write(MOVED)
    done = personas("init", "--update-filters", cwd=new_repo)
    assert done.returncode == 0, done.stderr
    paths = load_yaml(plan)["on"]["pull_request"]["paths"]
    assert paths[-1] == "glossary/**" and "docs/kb/**" in paths and "knowledge/**" not in paths
