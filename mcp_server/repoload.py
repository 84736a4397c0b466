"""``load_repo`` through the parse cache, so a 10,000-file repo reloads in a blink.

Each persona file is still validated by ``schemas.loader`` (the same rules as
``personas validate``); what is cached is its result, keyed by the content of
every file the loader read for it (``schemas.parse_cache``).  A file's content
id is both its SHA-256 and its git blob id, so one cache serves the working tree
and every draft commit, and ``LoadCache.for_repo`` starts warm from what the last
``personas plan`` (or server) saved under ``.personas/``.  The cross-file rules
stay in ``load_repo``, which takes the cache as its ``persona_loader``.
"""

from __future__ import annotations

from pathlib import Path

from personas_as_code.schemas.files import DirectoryFiles, RepoFiles
from personas_as_code.schemas.loader import Repo, load_repo
from personas_as_code.schemas.parse_cache import ParseCache

# The MCP server's name for the one parse cache.
LoadCache = ParseCache


class HashedDirectoryFiles(DirectoryFiles):
    """The working tree; the parse cache hashes what it reads, so nothing is added."""


def load_repo_cached(
    files: RepoFiles,
    cache: ParseCache,
    *,
    root: Path | None = None,
    default_id: str = "repo",
) -> Repo:
    """Same result as ``schemas.loader.load_repo(files=files)``, reusing ``cache``."""
    return load_repo(root, files=files, default_id=default_id, persona_loader=cache.load)
