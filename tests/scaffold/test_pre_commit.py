"""The personas-validate hook, run by the real ``pre-commit`` in a repo ``personas init``
made: a commit that stages only a test persona or only a knowledge document runs
``personas validate`` (and fails when the file is invalid); one that stages neither
skips it.

The hook is this repository's ``.pre-commit-hooks.yaml`` definition with the overrides of
the ``.pre-commit-config.yaml`` init wrote, as pre-commit merges them; only where its code
comes from differs: ``repo: local`` and ``language: system`` run the installed
``personas`` of this venv instead of cloning and pip-installing the repository (offline).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gitops.conftest import HOOKS_FILE, load_yaml
from tests.scaffold.conftest import personas

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
GIT = ["git", "-c", "user.name=CI", "-c", "user.email=ci@example.com"]
OLD_FILES = r"^(personas/|personas\.toml$)"  # the hook's files: before it followed the config
BAD_TEST_PERSONA = "name: t\nsystem_promt: hi\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, timeout=60)


def hook_config(repo: Path, tmp_path: Path, **override: str) -> Path:
    """The init-written config's personas-validate hook, as a local hook (see above)."""
    [definition] = load_yaml(HOOKS_FILE)
    [remote] = load_yaml(repo / ".pre-commit-config.yaml")["repos"]
    [configured] = remote["hooks"]
    assert configured["id"] == definition["id"] == "personas-validate"
    hook = {**definition, **configured, **override, "language": "system"}
    path = tmp_path / f"pre-commit-{len(list(tmp_path.glob('pre-commit-*')))}.yaml"
    path.write_text(json.dumps({"repos": [{"repo": "local", "hooks": [hook]}]}))
    return path


def run_hook(repo: Path, config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``pre-commit run`` over the staged files, with this venv's ``personas`` on PATH."""
    assert PRE_COMMIT.exists(), "pre-commit is missing: pip install -e '.[dev]'"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_DATABASE"))
    }
    env |= {
        "PATH": f"{PRE_COMMIT.parent}:/usr/bin:/bin",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_COLOR": "never",
    }
    return subprocess.run(
        [str(PRE_COMMIT), "run", "--config", str(config)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def committed_repo(new_repo: Path) -> Path:
    """The repo init made, committed on main."""
    git(new_repo, "init", "-q", "-b", "main")
    git(new_repo, "add", "-A")
    git(new_repo, "commit", "-q", "-m", "personas init")
    return new_repo


def stage(repo: Path, rel: str, data: bytes) -> None:
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_bytes(data)
    git(repo, "add", rel)


def test_a_commit_of_only_a_test_persona_runs_validate(committed_repo: Path, tmp_path: Path):
    repo = committed_repo
    stage(repo, "test-personas/t.yaml", BAD_TEST_PERSONA.encode())

    done = run_hook(repo, hook_config(repo, tmp_path), tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "personas validate" in output and "Failed" in output
    assert "test-personas/t.yaml:2:1: unknown key 'system_promt'" in output

    # the pattern the hook had before: pre-commit never ran validate for this commit
    old = run_hook(repo, hook_config(repo, tmp_path, files=OLD_FILES), tmp_path)
    assert old.returncode == 0 and "(no files to check)Skipped" in old.stdout, old.stdout


def test_a_commit_of_only_a_knowledge_document_runs_validate(committed_repo: Path, tmp_path):
    repo = committed_repo
    config = hook_config(repo, tmp_path)
    stage(repo, "knowledge/col_notes/doc.md", b"# Notes\n\xff\xfe not UTF-8\n")
    done = run_hook(repo, config, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "knowledge/col_notes/doc.md:2:1: document is not UTF-8" in done.stdout

    stage(repo, "knowledge/col_notes/doc.md", b"# Notes\n\nPlain UTF-8.\n")
    fixed = run_hook(repo, config, tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "personas validate" in fixed.stdout and "Passed" in fixed.stdout


def test_a_commit_outside_the_named_folders_skips_validate(committed_repo: Path, tmp_path):
    repo = committed_repo
    stage(repo, "README.md", b"# Our personas\n")
    stage(repo, "docs/personas/notes.yaml", BAD_TEST_PERSONA.encode())
    done = run_hook(repo, hook_config(repo, tmp_path), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(no files to check)Skipped" in done.stdout


def test_a_custom_folder_from_init_is_what_the_hook_watches(tmp_path: Path) -> None:
    done = personas("init", "r", "--personas-dir", "team/personas", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    repo = tmp_path / "r"
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "personas init")
    persona = repo / "team" / "personas" / "example-assistant.yaml"
    stage(repo, persona.relative_to(repo).as_posix(), persona.read_bytes() + b"nope: 1\n")
    failed = run_hook(repo, hook_config(repo, tmp_path), tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "team/personas/example-assistant.yaml" in failed.stdout
    assert "unknown key 'nope'" in failed.stdout
