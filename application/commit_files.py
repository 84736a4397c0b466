"""``RepoFiles`` over one git commit, from a flat listing of its tree.

A commit's listing comes from one ``git ls-tree -r -t`` (C speed, once per
commit this process has not seen); a draft commit this process writes gets its
listing derived from its parent's plus the paths it changed, so a patch never
re-reads the whole tree.  Blobs are read by id through the repo's object
database.  Same answers as ``sandbox.gitfiles.GitTreeFiles``.
"""

from __future__ import annotations

import bisect
import posixpath
import subprocess
import threading
from collections.abc import Mapping
from typing import Literal

import git
from personas_as_code.loader.files import PathRefused
from personas_as_code.sandbox.gitfiles import repo_relative
from personas_as_code.schemas.errors import DraftError

REGULAR_MODES = (0o100644, 0o100755)
TREE_MODE = 0o040000


def _hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/"))


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]


class CommitFiles:
    """The files of commit ``sha``: path -> (mode, blob id), plus the set of folders."""

    def __init__(
        self,
        repo: git.Repo,
        sha: str,
        entries: dict[str, tuple[int, str]],
        dirs: set[str],
        lock: threading.RLock,
    ) -> None:
        self.repo = repo
        self.sha = sha
        self.entries = entries
        self.dirs = dirs
        self._lock = lock
        self._visible: list[str] | None = None
        self._listed: dict[tuple[str, tuple[str, ...]], list[str]] = {}

    @classmethod
    def listed(cls, repo: git.Repo, sha: str, lock: threading.RLock) -> CommitFiles:
        """The files of commit ``sha`` from one ``git ls-tree -r -t -z``."""
        try:
            out = subprocess.run(
                ["git", "ls-tree", "-r", "-t", "-z", "--full-tree", sha],
                cwd=repo.git_dir,
                capture_output=True,
                check=True,
            ).stdout
        except subprocess.CalledProcessError:
            raise DraftError(f"commit {sha[:40]!r} is not in the repository") from None
        entries: dict[str, tuple[int, str]] = {}
        dirs: set[str] = set()
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, raw_path = record.partition(b"\t")
            mode, kind, object_id = meta.split(b" ")
            path = raw_path.decode("utf-8", "surrogateescape")
            if kind == b"tree":
                dirs.add(path)
            else:
                entries[path] = (int(mode, 8), object_id.decode("ascii"))
        return cls(repo, sha, entries, dirs, lock)

    def derived(self, sha: str, changes: Mapping[str, tuple[int, str] | None]) -> CommitFiles:
        """The files of commit ``sha``: these files with ``changes`` (None: deleted) applied."""
        entries = dict(self.entries)
        dirs = set(self.dirs)
        removed = False
        for path, entry in changes.items():
            if entry is None:
                removed = entries.pop(path, None) is not None or removed
            else:
                entries[path] = entry
                dirs.update(_parents(path))
        if removed:  # git drops folders that became empty
            dirs = {parent for path in entries for parent in _parents(path)}
        files = CommitFiles(self.repo, sha, entries, dirs, self._lock)
        if self._visible is not None:
            visible = list(self._visible)
            for path, entry in changes.items():
                at = bisect.bisect_left(visible, path)
                present = at < len(visible) and visible[at] == path
                keep = entry is not None and entry[0] in REGULAR_MODES and not _hidden(path)
                if present and not keep:
                    del visible[at]
                elif keep and not present:
                    visible.insert(at, path)
            files._visible = visible
        return files

    # --- RepoFiles ---------------------------------------------------------------

    @staticmethod
    def _norm(path: str) -> str:
        norm = repo_relative(path)
        return "" if norm == "." else norm

    def kind(self, path: str) -> Literal["absent", "file", "dir", "other"]:
        """What the tree holds at ``path``: nothing, a regular file, a folder, or anything
        else (a symlink, a submodule).  Below a symlink or a file there is nothing."""
        norm = self._norm(path)
        if norm == "" or norm in self.dirs:
            return "dir"
        entry = self.entries.get(norm)
        if entry is None:
            return "absent"
        return "file" if entry[0] in REGULAR_MODES else "other"

    def _blob(self, path: str) -> str:
        norm = self._norm(path)
        entry = self.entries.get(norm)
        if entry is None:
            if norm == "" or norm in self.dirs:
                raise PathRefused(f"path '{path}' is not a regular file")
            raise FileNotFoundError(path)
        if entry[0] not in REGULAR_MODES:
            raise PathRefused(f"path '{path}' is not a regular file")
        return entry[1]

    def blob_id(self, path: str) -> str | None:
        """The blob id at ``path``, or None when there is no regular file there."""
        try:
            return self._blob(path)
        except (FileNotFoundError, PathRefused):
            return None

    def read(self, path: str) -> bytes:
        sha = self._blob(path)
        with self._lock:
            return self.repo.odb.stream(bytes.fromhex(sha)).read()

    def size(self, path: str) -> int:
        sha = self._blob(path)
        with self._lock:
            return self.repo.odb.info(bytes.fromhex(sha)).size

    def list_files(self, directory: str, suffixes: tuple[str, ...]) -> list[str]:
        """Regular files under ``directory`` ending in ``suffixes`` (hidden parts skipped)."""
        norm = self._norm(directory) if directory not in ("", ".") else ""
        key = (norm, tuple(suffixes))
        found = self._listed.get(key)
        if found is not None:
            return list(found)
        if norm and norm not in self.dirs:
            return []
        if self._visible is None:
            self._visible = sorted(
                p
                for p, (mode, _) in self.entries.items()
                if mode in REGULAR_MODES and not _hidden(p)
            )
        visible = self._visible
        if norm:
            prefix = norm + "/"
            start = bisect.bisect_left(visible, prefix)
            end = bisect.bisect_left(visible, norm + "0")  # '0' sorts right after '/'
            window = visible[start:end]
        else:
            window = visible
        found = [p for p in window if p.endswith(suffixes)]
        self._listed[key] = found
        return list(found)


class FocusedFiles:
    """``files`` with the persona folder narrowed to the persona (and tests) files in
    ``keep``: loading it checks those files exactly as a whole-repo load would, as long
    as ``keep`` holds every file that claims one of their slugs."""

    def __init__(self, files: CommitFiles, personas_dir: str, keep: set[str]) -> None:
        self.files = files
        self.personas_dir = personas_dir
        self.keep = keep

    def list_files(self, directory: str, suffixes: tuple[str, ...]) -> list[str]:
        listed = self.files.list_files(directory, suffixes)
        if posixpath.normpath(directory.strip("/") or ".") != (self.personas_dir or "."):
            return listed
        return [path for path in listed if path in self.keep]

    def read(self, path: str) -> bytes:
        return self.files.read(path)

    def size(self, path: str) -> int:
        return self.files.size(path)

    def blob_id(self, path: str) -> str | None:
        return self.files.blob_id(path)
