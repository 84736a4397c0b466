"""Another commit's personas and knowledge folders, read from git without touching the
working tree or the index (``sandbox.gitfiles.GitTreeFiles``), to run the same cases
against them (retrieving from that commit's knowledge)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from personas_as_code.loader.repo import Repo, load_repo
from personas_as_code.schemas.errors import ConfigError

if TYPE_CHECKING:
    from personas_as_code.sandbox.gitfiles import GitTreeFiles


def load_ref(root: str | Path, ref: str) -> Repo:
    """The repo at ``root`` as commit ``ref`` has it (``ConfigError`` for a bad ref)."""
    # GitPython loads only when a baseline is asked for
    import git
    from personas_as_code.sandbox.gitfiles import GitTreeFiles
    from personas_as_code.sync.gitrefs import resolve_commit

    root = Path(root).resolve()
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ConfigError(f"--baseline needs a git repository; {root} is not one") from None
    files = GitTreeFiles(repo, resolve_commit(repo, ref, "--baseline"))
    top = Path(repo.working_tree_dir or root).resolve()
    prefix = root.relative_to(top).as_posix()
    if prefix != ".":
        files = _Subdir(files, prefix)  # type: ignore[assignment]
    return load_repo(root, files=files)


class _Subdir:
    """``RepoFiles`` of a folder inside a git tree (the persona repo below the git root)."""

    def __init__(self, inner: GitTreeFiles, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix.rstrip("/") + "/"

    def list_files(self, directory: str, suffixes: tuple[str, ...]) -> list[str]:
        found = self.inner.list_files(self.prefix + directory, suffixes)
        return [p[len(self.prefix) :] for p in found]

    def size(self, path: str) -> int:
        return self.inner.size(self.prefix + path)

    def read(self, path: str) -> bytes:
        return self.inner.read(self.prefix + path)
