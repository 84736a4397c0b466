"""``load_repo`` with a per-file cache, so a 2,000-file repo reloads in milliseconds.

Each persona file is still validated by ``schemas.loader.load_persona`` (the same
rules as ``personas validate``); what is cached is its result, keyed by the git
blob ids of every file the loader read for it (the persona file, its prompt and
avatar, or their absence).  Blob ids are content hashes, so one cache serves the
working tree and every draft commit.  The cross-file rules stay in ``load_repo``,
which takes the cache as its ``persona_loader``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from personas_as_code.sandbox.gitfiles import blob_id
from personas_as_code.schemas.files import DirectoryFiles, PathRefused, RepoFiles
from personas_as_code.schemas.loader import PersonaLoad, Repo, load_persona_entry, load_repo


class HashedFiles(RepoFiles, Protocol):
    """``RepoFiles`` that can name a file's content by its git blob id."""

    def blob_id(self, path: str) -> str | None: ...


class HashedDirectoryFiles(DirectoryFiles):
    """``DirectoryFiles`` plus git blob ids of the files on disk."""

    def blob_id(self, path: str) -> str | None:
        try:
            return blob_id(self.read(path))
        except (FileNotFoundError, PathRefused, OSError):
            return None


class _Recording:
    """Wraps ``HashedFiles`` and records the blob id of every path the loader touches."""

    def __init__(self, inner: HashedFiles) -> None:
        self.inner = inner
        self.seen: dict[str, str | None] = {}

    def list_files(self, directory: str, suffixes: tuple[str, ...]) -> list[str]:
        return self.inner.list_files(directory, suffixes)

    def size(self, path: str) -> int:
        self.seen.setdefault(path, self.inner.blob_id(path))
        return self.inner.size(path)

    def read(self, path: str) -> bytes:
        try:
            data = self.inner.read(path)
        except (FileNotFoundError, PathRefused):
            self.seen[path] = None
            raise
        self.seen[path] = blob_id(data)
        return data


@dataclass(frozen=True)
class _Entry:
    reads: tuple[tuple[str, str | None], ...]
    load: PersonaLoad


class LoadCache:
    """Results of ``load_persona_entry`` by (path, blob id of every file read); bounded LRU."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str | None], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def load(self, files: HashedFiles, path: str) -> PersonaLoad:
        """The (cached) loader result for ``path`` in ``files``: a ``PersonaLoader``."""
        key = (path, files.blob_id(path))
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and all(files.blob_id(p) == b for p, b in entry.reads[1:]):
            with self._lock:
                self._entries.move_to_end(key)
                self.hits += 1
            return entry.load
        recording = _Recording(files)
        load = load_persona_entry(recording, path)
        reads = [(path, key[1])] + [(p, b) for p, b in recording.seen.items() if p != path]
        with self._lock:
            self.misses += 1
            self._entries[key] = _Entry(tuple(reads), load)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return load


def load_repo_cached(
    files: HashedFiles,
    cache: LoadCache,
    *,
    root: Path | None = None,
    default_id: str = "repo",
) -> Repo:
    """Same result as ``schemas.loader.load_repo(files=files)``, reusing ``cache``."""
    return load_repo(
        root,
        files=files,
        default_id=default_id,
        persona_loader=cache.load,  # type: ignore[arg-type]
    )
