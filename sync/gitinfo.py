"""What git knows about the repo: the commit being applied and files changed since a ref.

GitPython loads on the first call, not on import: ``sync.engine`` imports this module,
and a plan without ``--changed-since`` (or ``personas test``) never asks git anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from personas_as_code.schemas.errors import ConfigError

if TYPE_CHECKING:
    import git


def _open(root: Path) -> git.Repo | None:
    import git

    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def head_commit(root: Path) -> str | None:
    """The HEAD commit sha, or None outside a git repo or before the first commit."""
    repo = _open(root)
    if repo is None:
        return None
    try:
        return repo.head.commit.hexsha
    except ValueError:
        return None


@dataclass(frozen=True)
class ChangedFiles:
    """Repo-relative paths changed since a ref (committed, staged, unstaged, untracked)."""

    changed: frozenset[str]
    deleted: frozenset[str]


def changed_since(root: Path, ref: str) -> ChangedFiles:
    """Files that differ between ``ref`` and the working tree, relative to ``root``."""
    repo = _open(root)
    if repo is None:
        raise ConfigError(f"--changed-since needs a git repository; {root} is not one")
    from personas_as_code.sync.gitrefs import resolve_commit

    base = resolve_commit(repo, ref, "--changed-since")
    if repo.working_tree_dir is None:
        raise ConfigError(f"--changed-since needs a working tree; {root} is a bare repository")
    top = Path(repo.working_tree_dir).resolve()
    prefix = root.resolve().relative_to(top).as_posix()
    prefix = "" if prefix == "." else prefix + "/"

    def rel(path: str | None) -> str | None:
        return path[len(prefix) :] if path is not None and path.startswith(prefix) else None

    # a diff item's a_path or b_path is None where that side has no file; rel drops it
    changed: set[str | None] = set()
    deleted: set[str | None] = set()
    for item in base.diff(None):  # ref -> working tree
        if item.change_type == "D":
            deleted.add(item.a_path)
        elif item.change_type == "R":
            deleted.add(item.a_path)
            changed.add(item.b_path)
        else:
            changed.add(item.b_path or item.a_path)
    changed.update(repo.untracked_files)
    return ChangedFiles(
        changed=frozenset(p for p in map(rel, changed) if p is not None),
        deleted=frozenset(p for p in map(rel, deleted) if p is not None),
    )
