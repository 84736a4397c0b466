"""Read-only access to a persona repo's files, confined to the repo.

The loader reads through ``RepoFiles`` so the same validation runs on a
working tree (``DirectoryFiles``) and on a git commit (drafts).  Paths are
repo-relative POSIX strings; anything that would leave the repo is refused.
"""

from __future__ import annotations

import os
import posixpath
import stat
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
    if type(files) is DirectoryFiles:  # a subclass may change size or read: not here
        return files.read_bounded(path, limit)
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
        self._root = str(self.root)
        self._folders: dict[str, str | None] = {}

    def _resolve(self, path: str) -> Path:
        return Path(self._resolve_str(path))

    def _resolve_str(self, path: str) -> str:
        """The real path of ``path`` inside the repo, checked; string operations only,
        with each folder's real path remembered (a file is one ``lstat``)."""
        folder, _, name = path.rpartition("/")
        real_folder = self._folders.get(folder)
        if real_folder is None and folder not in self._folders:
            real_folder = self._real_folder(folder)
            self._folders[folder] = real_folder
        if real_folder is not None and name not in ("", ".", ".."):
            target = os.path.join(real_folder, name)
            try:
                mode = os.lstat(target).st_mode
            except FileNotFoundError:
                raise FileNotFoundError(path) from None
            except OSError:
                mode = None
            if mode is not None and not stat.S_ISLNK(mode):
                if not stat.S_ISREG(mode):
                    raise PathRefused(f"path '{path}' is not a regular file")
                return target
        return self._resolve_slowly(path)

    def _real_folder(self, folder: str) -> str | None:
        """The real path of a folder inside the repo, or None to take the slow path."""
        if folder.startswith("/") or ".." in folder.split("/") or "\x00" in folder:
            return None
        try:
            real = os.path.realpath(os.path.join(self._root, folder), strict=True)
        except (OSError, ValueError):
            return None
        inside = real == self._root or real.startswith(self._root.rstrip("/") + "/")
        return real if inside and os.path.isdir(real) else None

    def _resolve_slowly(self, path: str) -> str:
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
        return str(target)

    def list_files(self, directory: str, suffixes: tuple[str, ...]) -> list[str]:
        base = self.root / directory
        if not base.is_dir():
            return []
        prefix = base.relative_to(self.root).as_posix()
        if any(part.startswith(".") for part in prefix.split("/") if part != "."):
            return []
        prefix = "" if prefix == "." else prefix + "/"
        found = []
        # like rglob("*"): symlinked folders are listed, not entered; hidden parts skipped
        for folder, subfolders, names in os.walk(base):
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            rel = os.path.relpath(folder, base)
            rel = prefix if rel == "." else prefix + rel.replace(os.sep, "/") + "/"
            for name in names:
                if name.startswith("."):
                    continue
                dot = name.rfind(".")
                suffix = name[dot:] if 0 < dot < len(name) - 1 else ""
                if suffix in suffixes and os.path.isfile(os.path.join(folder, name)):
                    found.append(rel + name)
        return sorted(found)

    def size(self, path: str) -> int:
        return os.stat(self._resolve_str(path)).st_size

    def read_bounded(self, path: str, limit: int) -> bytes:
        """``read_limited`` in one resolution: the open file's size is checked before
        anything is read, and nothing past ``limit`` is read."""
        with open(self._resolve_str(path), "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > limit:
                raise OversizedFile(path, size, limit)
            data = stream.read(limit + 1)
        if len(data) > limit:
            raise OversizedFile(path, len(data), limit)
        return data

    def read(self, path: str) -> bytes:
        with open(self._resolve_str(path), "rb") as stream:
            data = stream.read(MAX_READ_BYTES + 1)
        if len(data) > MAX_READ_BYTES:
            raise OversizedFile(path, self.size(path), MAX_READ_BYTES)
        return data
