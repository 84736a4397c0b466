"""A git repository's commits as loaded persona repos, memoised per commit.

Commits are immutable, so a commit's file listing, its loaded repo, which files
claim which slug and who uses which file are each computed once and kept in a
small LRU.  A draft commit written in this process gets its listing derived from
its parent's (``keep_files``), so a patch never re-lists the whole tree.
"""

from __future__ import annotations

import posixpath
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TypeVar

import git
from gitdb.exc import ODBError
from personas_as_code.application.commit_files import CommitFiles, FocusedFiles
from personas_as_code.application.draft_diff import read_or_none
from personas_as_code.application.draft_scope import DraftScope, file_users, personas_folder
from personas_as_code.loader.config import load_config
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.loader.repo import PERSONA_SUFFIXES, Repo, load_repo
from personas_as_code.schemas.errors import ConfigError, DraftError
from personas_as_code.schemas.persona_tests import TESTS_SUFFIXES, is_tests_file
from personas_as_code.sync.gitrefs import resolve_commit

_K = TypeVar("_K")
_V = TypeVar("_V")
FileUsers = tuple[str, dict[str, frozenset[str]]]  # the personas folder, file -> slugs


class CommitViews:
    """Files, loaded repo, slug claims and draft scope of each commit of ``repo``."""

    def __init__(self, repo: git.Repo, root: str | Path, cache: ParseCache | None) -> None:
        self.repo = repo
        self.root_name = Path(root).resolve().name
        self.lock = threading.RLock()  # around git calls on ``repo``
        self.cache = cache or ParseCache()
        self._repos: OrderedDict[str, Repo] = OrderedDict()
        self._users: OrderedDict[str, FileUsers] = OrderedDict()
        self._files: OrderedDict[str, CommitFiles] = OrderedDict()
        self._claims: OrderedDict[str, dict[str, tuple[str, ...]]] = OrderedDict()
        self._memo_lock = threading.Lock()

    def _recall(self, memo: OrderedDict[_K, _V], key: _K) -> _V | None:
        with self._memo_lock:
            return memo.get(key)

    def _keep(self, memo: OrderedDict[_K, _V], key: _K, value: _V, size: int) -> None:
        with self._memo_lock:
            memo[key] = value
            memo.move_to_end(key)
            while len(memo) > size:
                memo.popitem(last=False)

    def files_at(self, sha: str) -> CommitFiles:
        """The files of commit ``sha`` (memoised: a commit's tree is listed once; a draft
        commit written here is derived from its parent's listing)."""
        with self._memo_lock:
            files = self._files.get(sha)
            if files is not None:
                self._files.move_to_end(sha)
                return files
        try:
            resolved = resolve_commit(self.repo, sha, "commit").hexsha if len(sha) != 40 else sha
        except ConfigError:
            raise DraftError(f"commit {sha[:40]!r} is not in the repository") from None
        files = CommitFiles.listed(self.repo, resolved, self.lock)
        self.keep_files(sha, files)
        return files

    def keep_files(self, sha: str, files: CommitFiles) -> None:
        """Remember ``files`` as the files of commit ``sha``."""
        self._keep(self._files, sha, files, 8)

    def repo_at(self, sha: str) -> Repo:
        """The repo as loaded at commit ``sha`` (memoised; commits are immutable)."""
        repo = self._recall(self._repos, sha)
        if repo is None:
            repo = load_repo(
                files=self.files_at(sha), default_id=self.root_name, persona_loader=self.cache.load
            )
            with self._memo_lock:  # no move to the end: the oldest loaded goes first
                self._repos[sha] = repo
                while len(self._repos) > 16:
                    self._repos.popitem(last=False)
        return repo

    def claims_at(self, base: str) -> dict[str, tuple[str, ...]]:
        """Which persona files claim which slug (their slug or a previous slug) at commit
        ``base``, as the loader's cross-file check sees them (memoised per commit)."""
        claims = self._recall(self._claims, base)
        if claims is None:
            files = self.files_at(base)
            found: dict[str, list[str]] = {}
            for path in self.repo_at(base).persona_files:
                for name, _ in self.cache.load(files, path).names:
                    found.setdefault(name, []).append(path)
            claims = {name: tuple(paths) for name, paths in found.items()}
            with self._memo_lock:
                self._claims[base] = claims
                while len(self._claims) > 4:
                    self._claims.popitem(last=False)
        return claims

    def focused_repo(self, base: str, head: str, changed: list[str]) -> Repo:
        """The repo at draft commit ``head`` loaded only as far as the ``changed`` files
        need: those persona files, every file claiming one of their slugs, and their
        tests files.  Their problems are those a whole-repo load reports for them."""
        files = self.files_at(head)
        folder, _ = self.scope_folder(base)
        own = [p for p in changed if p.endswith(PERSONA_SUFFIXES) and not is_tests_file(p)]
        claims = self.claims_at(base)
        keep = set(own)
        for path in own:
            stem = posixpath.splitext(posixpath.basename(path))[0]
            keep.update(_tests_paths(path, stem))
            if files.blob_id(path) is None:
                continue
            load = self.cache.load(files, path)
            for name, _ in load.names:
                keep.update(claims.get(name, ()))
                keep.update(_tests_paths(path, name))
        focused = FocusedFiles(files, folder, keep)
        return load_repo(files=focused, default_id=self.root_name, persona_loader=self.cache.load)

    def scope_folder(self, base: str) -> FileUsers:
        """The personas folder and who uses which file at commit ``base`` (memoised)."""
        known = self._recall(self._users, base)
        if known is None:
            try:
                repo = self.repo_at(base)
            except (ODBError, ValueError, git.GitCommandError):
                raise DraftError(
                    f"the draft's base commit {base[:40]!r} is not in the repository"
                ) from None
            known = (
                personas_folder(repo.config.repo.personas_dir),
                file_users(repo, self.files_at(base)),
            )
            with self._memo_lock:
                self._users[base] = known
                while len(self._users) > 16:
                    self._users.popitem(last=False)
        return known

    def scope(self, base: str, slug: str, path: str) -> DraftScope:
        """What a draft of ``slug`` (file ``path``) based on commit ``base`` may write."""
        return DraftScope(slug, path, *self.scope_folder(base))

    def read(self, sha: str, path: str) -> bytes | None:
        """The content of ``path`` at commit ``sha``, or None."""
        try:
            files = self.files_at(sha)
        except (FileNotFoundError, OSError, ValueError):
            return None
        return read_or_none(files, path)

    def persona_path(self, sha: str, slug: str, hint: str | None = None) -> str | None:
        """The path of persona ``slug``'s file at commit ``sha``, or None."""
        files = self.files_at(sha)
        config, _ = load_config(files, "repo")
        personas_dir = config.repo.personas_dir.strip("/")
        candidates = [hint] if hint else []
        candidates += [f"{personas_dir}/{slug}{suffix}" for suffix in PERSONA_SUFFIXES]
        for path in candidates:
            if path and files.blob_id(path) is not None:
                return path
        for path in files.list_files(personas_dir, PERSONA_SUFFIXES):
            if posixpath.splitext(posixpath.basename(path))[0] == slug:
                return path
        return None

    def new_persona_path(self, sha: str, slug: str) -> str:
        """Where a new persona ``slug`` goes at commit ``sha``."""
        config, _ = load_config(self.files_at(sha), "repo")
        return f"{config.repo.personas_dir.strip('/')}/{slug}.yaml"


def _tests_paths(persona_path: str, slug: str) -> list[str]:
    """Where the tests file of persona ``slug`` (file ``persona_path``) may be."""
    folder = posixpath.dirname(persona_path)
    return [posixpath.join(folder, slug + suffix) for suffix in TESTS_SUFFIXES]
