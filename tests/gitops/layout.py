"""A new persona repository as ``personas init`` lays it out: ``personas.toml``, one
persona with its test cases, the templates where they go, committed in git with
``origin/main`` pointing at that commit (what a checkout with fetch-depth 0 has)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.gitops.conftest import ROOT, TEMPLATE_DESTINATIONS, TEMPLATES_DIR

CONFIG = """\
[repo]
id = "acme/personas"
tenant = "acme"
personas_dir = "personas"
"""
CASES = """\
cases:
  - name: answers with SQL
    message: "Top 5 customers by revenue?"
    assert:
      - contains: "single SQL query"
"""
GIT = ["git", "-c", "user.name=CI", "-c", "user.email=ci@example.com"]


def copy_templates(repo: Path) -> None:
    """Every template at the path `personas init` gives it."""
    for source, destination in TEMPLATE_DESTINATIONS.items():
        (repo / destination).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(TEMPLATES_DIR / source, repo / destination)


def git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, timeout=60)


def new_persona_repo(tmp_path: Path) -> Path:
    """The repository, committed on main, with origin/main at that commit."""
    repo = tmp_path / "persona-repo"
    (repo / "personas").mkdir(parents=True)
    (repo / "personas.toml").write_text(CONFIG)
    (repo / ".gitignore").write_text(".personas/\n")
    shutil.copy(ROOT / "personas" / "sql-helper.yaml", repo / "personas" / "sql-helper.yaml")
    (repo / "personas" / "sql-helper.tests.yaml").write_text(CASES)
    copy_templates(repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "personas init")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    return repo
