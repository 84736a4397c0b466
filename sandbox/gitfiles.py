"""``RepoFiles`` over one git commit, so a draft is validated like the working tree."""

from __future__ import annotations

import hashlib
import posixpath
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Literal

import git
from git.objects import Blob, Tree
from personas_as_code.loader.files import PathRefused
from personas_as_code.sync.gitrefs import resolve_commit

_REGULAR_MODES = (0o100644, 0o100755)


def repo_relative(path: str) -> str:
    """``path`` as a normalised repo-relative POSIX path (``"."``: the repo's root);
    ``PathRefused`` when it is empty, absolute, holds a NUL byte or leaves the repo."""
    if not path or "\x00" in path or path.startswith("/"):
        raise PathRefused(f"path '{path}' is not a repo-relative path")
    norm = posixpath.normpath(path)
    if norm.startswith("../") or norm == "..":
        raise PathRefused(f"path '{path}' points outside the repo")
    return norm


def blob_id(data: bytes) -> str:
    """The git blob id of ``data`` (what ``git hash-object`` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class GitTreeFiles:
    """The files of ``commit`` in ``repo``; never touches the working tree or the index.

    GitPython's object readers are not thread-safe, so every access holds ``lock``
    (share the lock of whoever else uses the same ``git.Repo``).  A ``commit`` given as
    text is resolved by ``sync.gitrefs.resolve_commit`` (``ConfigError`` when it names
    no commit).
    """

    def __init__(
        self,
        repo: git.Repo,
        commit: str | git.Commit,
        lock: threading.RLock | None = None,
    ) -> None:
        self.repo = repo
        self._lock: AbstractContextManager[object] = lock or nullcontext()
        with self._lock:
            self.commit = (
                resolve_commit(repo, commit, "commit") if isinstance(commit, str) else commit
            )
            self.tree: Tree = self.commit.tree
        self._dirs: dict[str, dict[str, Blob | Tree] | None] = {}

    def _listing(self, directory: str) -> dict[str, Blob | Tree] | None:
        """Entries of ``directory`` by name (cached; one dict per tree)."""
        listing = self._dirs.get(directory)
        if listing is None and directory not in self._dirs:
            parent, _, name = directory.rpartition("/")
            if directory == "":
                tree: object = self.tree
            else:
                up = self._listing(parent)
                tree = up.get(name) if up is not None else None
            listing = (
                {item.name: item for item in tree if isinstance(item, Blob | Tree)}
                if isinstance(tree, Tree)
                else None
            )
            self._dirs[directory] = listing
        return listing

    def _entry(self, path: str) -> Blob | Tree | None:
        norm = repo_relative(path)
        if norm == ".":
            return self.tree
        parent, _, name = norm.rpartition("/")
        with self._lock:
            listing = self._listing(parent)
        return listing.get(name) if listing is not None else None

    def _blob(self, path: str) -> Blob:
        entry = self._entry(path)
        if entry is None:
            raise FileNotFoundError(path)
        if not isinstance(entry, Blob) or entry.mode not in _REGULAR_MODES:
            raise PathRefused(f"path '{path}' is not a regular file")
        return entry

    def kind(self, path: str) -> Literal["absent", "file", "dir", "other"]:
        """What the tree holds at ``path``: nothing, a regular file, a folder, or anything
        else (a symlink, a submodule).  Below a symlink or a file there is nothing."""
        entry = self._entry(path)
        if entry is None:
            return "absent"
        if isinstance(entry, Tree):
            return "dir"
        return "file" if entry.mode in _REGULAR_MODES else "other"

    def list_files(self, directory: str, suffixes: tuple[str, ...]) -> list[str]:
        """Regular files under ``directory`` ending in ``suffixes`` (hidden parts skipped)."""
        base = self._entry(directory)
        if not isinstance(base, Tree):
            return []
        found = []
        with self._lock:
            for item in base.traverse():
                if not isinstance(item, Blob) or item.mode not in _REGULAR_MODES:
                    continue
                path = str(item.path)  # typed as any path-like; a tree entry's is a str
                if any(part.startswith(".") for part in path.split("/")):
                    continue
                if path.endswith(suffixes):
                    found.append(path)
        return sorted(found)

    def size(self, path: str) -> int:
        blob = self._blob(path)
        with self._lock:
            return blob.size

    def read(self, path: str) -> bytes:
        blob = self._blob(path)
        with self._lock:
            return blob.data_stream.read()

    def blob_id(self, path: str) -> str | None:
        """The blob id at ``path``, or None when there is no regular file there."""
        try:
            return self._blob(path).hexsha
        except (FileNotFoundError, PathRefused):
            return None
