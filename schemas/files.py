"""Read-only access to a persona repo's files, confined to the repo.

The loader reads through ``RepoFiles`` so the same validation runs on a
working tree (``DirectoryFiles``) and on a git commit (drafts).  Paths are
repo-relative POSIX strings; anything that would leave the repo is refused.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Protocol

# What ``DirectoryFiles.read`` will ever hold in memory, whatever a caller asked
# for: above every file limit (the largest is a 2 MB avatar), far below harm.
MAX_READ_BYTES = 8 * 1024 * 1024


class PathRefused(Exception):
    """A referenced path is absolute, escapes the repo, or is not a regular file."""


class OversizedFile(PathRefused):
    """A file is over the size limit for what it is; nothing past the limit was read."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        super().__init__(f"'{path}' is {size:,} bytes; the limit is {limit:,} bytes")
        self.path = path
        self.size = size
        self.limit = limit


class RepoFiles(Protocol):
    """The files of one repo revision."""

    def list_files(self, directory: str, suffixes: tuple[str, ...]) -> list[str]:
        """Repo-relative paths under ``directory`` ending in one of ``suffixes``, sorted."""
        ...

    def size(self, path: str) -> int:
        """Size in bytes; raises FileNotFoundError or PathRefused."""
        ...

    def read(self, path: str) -> bytes:
        """Whole content; raises FileNotFoundError or PathRefused.

        Callers bound what they read with ``read_limited``, which checks ``size``
        first; an implementation may refuse (``OversizedFile``) a file too large to hold.
        """
        ...


def read_limited(files: RepoFiles, path: str, limit: int) -> bytes:
    """The content of ``path``, refused with ``OversizedFile`` when over ``limit`` bytes.

    The size is checked before anything is read, so a huge (or sparse) file costs
    no memory; a file that grows between the check and the read is refused too.
    """
    size = files.size(path)
    if size > limit:
        raise OversizedFile(path, size, limit)
    data = files.read(path)
    if len(data) > limit:
        raise OversizedFile(path, len(data), limit)
    return data


def join_relative(base_file: str, reference: str) -> str:
    """Resolve ``reference`` (relative to ``base_file``'s folder) to a repo-relative path.

    Raises ``PathRefused`` for absolute paths and paths that climb out of the repo.
    """
    if not reference or "\x00" in reference:
        raise PathRefused("empty path or NUL byte in path")
    if reference.startswith(("/", "\\")) or (len(reference) > 1 and reference[1] == ":"):
        raise PathRefused(f"absolute path '{reference}' is not allowed; use a path inside the repo")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), reference))
    if joined == ".." or joined.startswith("../"):
        raise PathRefused(f"path '{reference}' points outside the repo")
    return joined


class DirectoryFiles:
    """``RepoFiles`` over a directory on disk; symlinks may not lead outside it."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _resolve(self, path: str) -> Path:
        try:
            target = (self.root / path).resolve()
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
            raise PathRefused(f"path '{path}' cannot be resolved (a symlink loop?)") from None
        if target != self.root and self.root not in target.parents:
            raise PathRefused(f"path '{path}' resolves outside the repo (symlink?)")
        if not target.exists():
            raise FileNotFoundError(path)
        if not target.is_file():
            raise PathRefused(f"path '{path}' is not a regular file")
        return target

    def list_files(self, directory: str, suffixes: tuple[str, ...]) -> list[str]:
        base = self.root / directory
        if not base.is_dir():
            return []
        found = []
        for p in base.rglob("*"):
            rel = p.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            if p.suffix in suffixes and p.is_file():
                found.append(rel.as_posix())
        return sorted(found)

    def size(self, path: str) -> int:
        return self._resolve(path).stat().st_size

    def read(self, path: str) -> bytes:
        with self._resolve(path).open("rb") as stream:
            data = stream.read(MAX_READ_BYTES + 1)
        if len(data) > MAX_READ_BYTES:
            raise OversizedFile(path, self.size(path), MAX_READ_BYTES)
        return data
