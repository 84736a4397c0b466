"""Drafts as git branches built with plumbing only.

A draft of persona ``slug`` is the branch ``persona-drafts/<slug>/<draft_id>``.
Each patch writes blobs and trees straight into the object database, makes one
commit whose parent is the previous tip (the base commit for the first patch)
and moves the ref with ``git update-ref <ref> <new> <old>``: a compare-and-swap,
so two writers can never both win.  The working tree, the index and the current
branch are never read or written.  Commit trailers record the version counter
(``Draft-Version``), the base commit, the slug and the persona file's path.
Every commit is checked by ``DraftScope`` first: a draft writes only its own
persona's files.
"""

from __future__ import annotations

import difflib
import io
import os
import posixpath
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import git
from gitdb.base import IStream
from gitdb.db import LooseObjectDB
from gitdb.exc import ODBError
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.loader.repo import PERSONA_SUFFIXES, Repo, load_config, load_repo
from personas_as_code.mcp_server.commit_files import REGULAR_MODES, CommitFiles, FocusedFiles
from personas_as_code.mcp_server.draft_scope import DraftScope, file_users, personas_folder
from personas_as_code.mcp_server.ids import DRAFT_REF_PREFIX, check_draft_id, check_slug
from personas_as_code.mcp_server.models import CommitInfo, DraftRef
from personas_as_code.schemas.errors import ConfigError, DraftConflict, DraftError, NotFound
from personas_as_code.schemas.persona_tests import TESTS_SUFFIXES, is_tests_file
from personas_as_code.sync.gitrefs import resolve_commit

ZERO_SHA = "0" * 40
FILE_MODE = 0o100644
_TREE = b"40000"
_FILE_MODES = (b"100644", b"100755")
# one entry of a raw git tree object: "<mode> <name>\0<20-byte id>"
_TREE_ENTRY = re.compile(rb"(\d+) ([^\0]*)\0(.{20})", re.DOTALL)
DEFAULT_ACTOR = git.Actor("personas-mcp", "personas-mcp@localhost")
_TRAILER = re.compile(r"^(Draft-[A-Za-z]+): (.+)$", re.MULTILINE)


def open_git(root: str | Path) -> git.Repo:
    """The git repository at ``root`` (not a parent); a clear DraftError otherwise."""
    try:
        repo = git.Repo(root, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise DraftError(
            f"{root} is not a git repository; drafts are git branches (run 'git init' and "
            "commit the persona files first)"
        ) from None
    if not repo.head.is_valid():
        raise DraftError(f"{root} has no commit yet; commit the persona files first")
    return repo


def commit_info(commit: git.Commit) -> CommitInfo:
    """Sha, date, author and summary of ``commit``."""
    summary = commit.summary
    return CommitInfo(
        sha=commit.hexsha,
        date=commit.committed_datetime.isoformat(),
        author=f"{commit.author.name} <{commit.author.email}>",
        summary=summary if isinstance(summary, str) else summary.decode("utf-8", "replace"),
    )


@dataclass(frozen=True)
class DraftTip:
    """A draft ref and what its tip commit records."""

    draft_id: str
    slug: str
    ref: str
    head: str
    version: int
    base: str
    path: str
    updated_at: str
    summary: str

    @property
    def branch(self) -> str:
        return self.ref.removeprefix("refs/heads/")

    def to_ref(self, head_sha: str) -> DraftRef:
        return DraftRef(
            draft_id=self.draft_id,
            slug=self.slug,
            branch=self.branch,
            version=self.version,
            head=self.head,
            base=self.base,
            base_is_head=self.base == head_sha,
            updated_at=self.updated_at,
            summary=self.summary,
        )


@dataclass(frozen=True)
class Written:
    """The result of one patch commit."""

    tip: DraftTip
    created: bool
    new_persona: bool


class DraftStore:
    """Create, patch, list and discard draft branches of one repository."""

    def __init__(
        self,
        root: str | Path,
        actor: git.Actor = DEFAULT_ACTOR,
        *,
        cache: ParseCache | None = None,
    ) -> None:
        self.repo = open_git(root)
        self.root_name = Path(root).resolve().name
        self.actor = actor
        self.lock = threading.RLock()
        self._loose = LooseObjectDB(os.path.join(self.repo.common_dir, "objects"))
        self.cache = cache or ParseCache()
        self._repos: OrderedDict[str, Repo] = OrderedDict()
        # per base commit: the personas folder and who uses which file
        self._users: OrderedDict[str, tuple[str, dict[str, frozenset[str]]]] = OrderedDict()
        self._files: OrderedDict[str, CommitFiles] = OrderedDict()
        self._claims: OrderedDict[str, dict[str, tuple[str, ...]]] = OrderedDict()
        self._trees: OrderedDict[bytes, dict[bytes, tuple[bytes, bytes]]] = OrderedDict()
        self._memo_lock = threading.Lock()

    # --- reading --------------------------------------------------------------

    def head_sha(self) -> str:
        """The sha of HEAD (the current branch's tip)."""
        with self.lock:
            return self.repo.head.commit.hexsha

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
        self._keep_files(sha, files)
        return files

    def _keep_files(self, sha: str, files: CommitFiles) -> None:
        with self._memo_lock:
            self._files[sha] = files
            self._files.move_to_end(sha)
            while len(self._files) > 8:
                self._files.popitem(last=False)

    def repo_at(self, sha: str) -> Repo:
        """The repo as loaded at commit ``sha`` (memoised; commits are immutable)."""
        with self._memo_lock:
            repo = self._repos.get(sha)
        if repo is None:
            repo = load_repo(
                files=self.files_at(sha), default_id=self.root_name, persona_loader=self.cache.load
            )
            with self._memo_lock:
                self._repos[sha] = repo
                while len(self._repos) > 16:
                    self._repos.popitem(last=False)
        return repo

    def claims_at(self, base: str) -> dict[str, tuple[str, ...]]:
        """Which persona files claim which slug (their slug or a previous slug) at commit
        ``base``, as the loader's cross-file check sees them (memoised per commit)."""
        with self._memo_lock:
            claims = self._claims.get(base)
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

    def scope_folder(self, base: str) -> tuple[str, dict[str, frozenset[str]]]:
        """The personas folder and who uses which file at commit ``base`` (memoised)."""
        with self._memo_lock:
            known = self._users.get(base)
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

    def _tip(self, ref: str, sha: str) -> DraftTip:
        commit = self.repo.commit(sha)
        message = commit.message if isinstance(commit.message, str) else commit.message.decode()
        trailers = dict(_TRAILER.findall(message))
        slug, _, draft_id = ref.removeprefix(DRAFT_REF_PREFIX).rpartition("/")
        try:
            version = int(trailers.get("Draft-Version", "0"))
        except ValueError:
            version = 0
        return DraftTip(
            draft_id=draft_id,
            slug=slug,
            ref=ref,
            head=sha,
            version=version,
            base=trailers.get("Draft-Base", ""),
            path=trailers.get("Draft-Path", ""),
            updated_at=commit.committed_datetime.isoformat(),
            summary=commit.summary if isinstance(commit.summary, str) else "",
        )

    def _refs(self, pattern: str) -> list[tuple[str, str]]:
        out = self.repo.git.for_each_ref("--format=%(refname) %(objectname)", pattern)
        return [tuple(line.split(" ", 1)) for line in out.splitlines() if line.strip()]  # type: ignore[misc]

    def list(self, slug: str | None = None) -> list[DraftTip]:
        """Every draft (of ``slug`` when given), newest first."""
        pattern = DRAFT_REF_PREFIX + (f"{check_slug(slug)}/" if slug is not None else "")
        with self.lock:
            tips = [self._tip(ref, sha) for ref, sha in self._refs(pattern)]
        return sorted(tips, key=lambda t: (t.updated_at, t.draft_id), reverse=True)

    def get(self, draft_id: str) -> DraftTip:
        """The draft ``draft_id``; NotFound when there is none."""
        check_draft_id(draft_id)
        with self.lock:
            refs = [
                (ref, sha)
                for ref, sha in self._refs(f"{DRAFT_REF_PREFIX}*/{draft_id}")
                if ref.endswith("/" + draft_id)
            ]
            if not refs:
                raise NotFound(f"no draft '{draft_id}' (list_persona_drafts shows the drafts)")
            return self._tip(*refs[0])

    def read(self, sha: str, path: str) -> bytes | None:
        """The content of ``path`` at commit ``sha``, or None."""
        try:
            return self.files_at(sha).read(path)
        except (FileNotFoundError, OSError, ValueError):
            return None

    def last_commit(self, path: str, rev: str = "HEAD") -> CommitInfo | None:
        """The last commit at or before ``rev`` that touched ``path``."""
        with self.lock:
            try:
                commit = next(self.repo.iter_commits(rev, paths=path, max_count=1), None)
            except (git.GitCommandError, ValueError):
                return None
            return commit_info(commit) if commit is not None else None

    def diff(self, base: str, head: str) -> tuple[list[str], str]:
        """Changed paths and a unified diff of commit ``head`` against ``base``."""
        old_files, new_files = self.files_at(base), self.files_at(head)
        paths = sorted({p for p, _ in old_files.entries.items() ^ new_files.entries.items()})
        chunks = []
        for path in paths:
            old, new = self.read(base, path), self.read(head, path)
            try:
                old_text = (old or b"").decode("utf-8")
                new_text = (new or b"").decode("utf-8")
            except UnicodeDecodeError:
                chunks.append(f"Binary files a/{path} and b/{path} differ\n")
                continue
            chunks.extend(
                difflib.unified_diff(
                    old_text.splitlines(keepends=True),
                    new_text.splitlines(keepends=True),
                    fromfile=f"a/{path}" if old is not None else "/dev/null",
                    tofile=f"b/{path}" if new is not None else "/dev/null",
                )
            )
        text = "".join(
            c if c.endswith("\n") else c + "\n\\ No newline at end of file\n" for c in chunks
        )
        return paths, text

    # --- locating the persona file --------------------------------------------

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

    # --- writing --------------------------------------------------------------

    def _store(self, kind: str, data: bytes) -> bytes:
        # written as a loose object in-process: the repo's odb would spawn git hash-object
        return self._loose.store(IStream(kind, len(data), io.BytesIO(data))).binsha

    def _tree_entries(self, binsha: bytes) -> dict[bytes, tuple[bytes, bytes]]:
        """Name -> (mode, object id) of tree ``binsha`` (memoised; trees are immutable)."""
        with self._memo_lock:
            entries = self._trees.get(binsha)
        if entries is None:
            data = self.repo.odb.stream(binsha).read()
            entries = {name: (mode, sha) for mode, name, sha in _TREE_ENTRY.findall(data)}
            self._remember_tree(binsha, entries)
        return entries

    def _remember_tree(self, binsha: bytes, entries: dict[bytes, tuple[bytes, bytes]]) -> None:
        with self._memo_lock:
            self._trees[binsha] = entries
            self._trees.move_to_end(binsha)
            while len(self._trees) > 64:
                self._trees.popitem(last=False)

    def _write_tree(
        self, binsha: bytes | None, changes: dict[tuple[str, ...], bytes | None]
    ) -> bytes | None:
        """Tree ``binsha`` with ``changes`` (path parts -> blob id, None: delete) applied.

        Only the trees on the changed paths are rewritten; every other entry keeps
        its object id.  None when the tree ends up empty (git has no empty folders).
        """
        entries = dict(self._tree_entries(binsha)) if binsha is not None else {}
        # entries keep git's order; only a new name, or one that changes between file and
        # folder (git sorts a folder as if its name ended in '/'), makes a sort necessary
        moved = binsha is None
        nested: dict[bytes, dict[tuple[str, ...], bytes | None]] = {}
        for parts, blob in changes.items():
            name = parts[0].encode("utf-8")
            if len(parts) > 1:
                nested.setdefault(name, {})[parts[1:]] = blob
            elif blob is None:
                entries.pop(name, None)
            else:
                old = entries.get(name)
                moved = moved or old is None or old[0] == _TREE
                mode = old[0] if old and old[0] in _FILE_MODES else b"100644"
                entries[name] = (mode, blob)
        for name, sub in nested.items():
            old = entries.get(name)
            subtree = self._write_tree(old[1] if old and old[0] == _TREE else None, sub)
            if subtree is None:
                entries.pop(name, None)
            else:
                moved = moved or old is None or old[0] != _TREE
                entries[name] = (_TREE, subtree)
        if not entries:
            return None
        ordered: Iterable[tuple[bytes, tuple[bytes, bytes]]] = entries.items()
        if moved:
            ordered = sorted(ordered, key=_git_tree_order)
        body = b"".join(mode + b" " + name + b"\0" + sha for name, (mode, sha) in ordered)
        tree = self._store("tree", body)
        self._remember_tree(tree, entries)
        return tree

    def _commit(self, tree: bytes, parent: str, message: str, actor: git.Actor) -> tuple[str, int]:
        """Store a commit of ``tree`` on ``parent`` by ``actor``; its sha and time."""
        now = int(time.time())
        offset = time.localtime(now).tm_gmtoff
        zone = f"{'-' if offset < 0 else '+'}{abs(offset) // 3600:02d}{abs(offset) // 60 % 60:02d}"
        who = f"{actor.name} <{actor.email}> {now} {zone}"
        text = f"tree {tree.hex()}\nparent {parent}\nauthor {who}\ncommitter {who}\n\n{message}"
        return self._store("commit", text.encode("utf-8")).hex(), now

    def write(
        self,
        *,
        slug: str,
        draft_id: str,
        parent: DraftTip | None,
        base: str,
        path: str,
        changes: dict[str, bytes | None],
        new_persona: bool,
        summary: str,
        actor: git.Actor | None = None,
        trailers: dict[str, str] | None = None,
    ) -> Written:
        """Commit ``changes`` (path -> content, None: delete) on top of ``parent`` (or
        ``base``) and move the ref by CAS."""
        check_slug(slug)
        check_draft_id(draft_id)
        ref = f"{DRAFT_REF_PREFIX}{slug}/{draft_id}"
        version = (parent.version if parent else 0) + 1
        extra = "".join(f"{key}: {value}\n" for key, value in (trailers or {}).items())
        message = (
            f"{summary}\n\n"
            f"Draft-Version: {version}\nDraft-Base: {base}\nDraft-Slug: {slug}\n"
            f"Draft-Path: {path}\n{extra}"
        )
        with self.lock:
            parent_sha = parent.head if parent else base
            parent_files = self.files_at(parent_sha)
            self.scope(base, slug, path).check_write(changes, parent_files)
            blobs = {
                p: (self._store("blob", d) if d is not None else None) for p, d in changes.items()
            }
            root = self._tree_of(parent_sha)
            tree = self._write_tree(root, {tuple(p.split("/")): b for p, b in blobs.items()})
            if tree is None:
                raise DraftError("the draft would leave the repository empty")
            head, when = self._commit(tree, parent_sha, message, actor or self.actor)
            old = parent.head if parent else ZERO_SHA
            try:
                self.repo.git.update_ref("-m", f"personas draft v{version}", ref, head, old)
            except git.GitCommandError:
                current = self._current_version(ref)
                raise DraftConflict(
                    f"draft '{draft_id}' changed concurrently: it is now at version {current}, "
                    f"this patch was based on version {version - 1}; re-read it and retry",
                    details={"draft_id": draft_id, "current_version": current},
                ) from None
            self._keep_files(
                head, parent_files.derived(head, _listing_changes(parent_files, blobs))
            )
            tip = DraftTip(
                draft_id=draft_id,
                slug=slug,
                ref=ref,
                head=head,
                version=version,
                base=base,
                path=path,
                updated_at=datetime.fromtimestamp(when).astimezone().isoformat(),
                summary=summary,
            )
            return Written(tip, parent is None, new_persona)

    def _tree_of(self, commit: str) -> bytes:
        """The root tree id of ``commit``."""
        data = self.repo.odb.stream(bytes.fromhex(commit)).read()
        return bytes.fromhex(data[5:45].decode("ascii"))

    def _current_version(self, ref: str) -> int | None:
        refs = self._refs(ref)
        return self._tip(*refs[0]).version if refs else None

    def discard(self, draft_id: str, expected_version: int | None = None) -> DraftTip:
        """Delete the draft's branch (CAS on its tip); the commits stay until git gc."""
        with self.lock:
            tip = self.get(draft_id)
            if expected_version is not None and tip.version != expected_version:
                raise DraftConflict(
                    f"draft '{draft_id}' is at version {tip.version}, not {expected_version}",
                    details={"draft_id": draft_id, "current_version": tip.version},
                )
            try:
                self.repo.git.update_ref("-d", tip.ref, tip.head)
            except git.GitCommandError:
                raise DraftConflict(
                    f"draft '{draft_id}' changed while discarding it; re-read it and retry"
                ) from None
            return tip


def _git_tree_order(item: tuple[bytes, tuple[bytes, bytes]]) -> bytes:
    """The key git sorts tree entries by: a folder's name as if it ended in '/'."""
    return item[0] + b"/" if item[1][0] == _TREE else item[0]


def _listing_changes(
    parent: CommitFiles, blobs: dict[str, bytes | None]
) -> dict[str, tuple[int, str] | None]:
    """What a commit of ``blobs`` (path -> blob id, None: deleted) changes in ``parent``'s
    listing: the mode ``_write_tree`` keeps, and the new blob id."""
    out: dict[str, tuple[int, str] | None] = {}
    for path, blob in blobs.items():
        old = parent.entries.get(path)
        mode = old[0] if old and old[0] in REGULAR_MODES else FILE_MODE
        out[path] = None if blob is None else (mode, blob.hex())
    return out


def _tests_paths(persona_path: str, slug: str) -> list[str]:
    """Where the tests file of persona ``slug`` (file ``persona_path``) may be."""
    folder = posixpath.dirname(persona_path)
    return [posixpath.join(folder, slug + suffix) for suffix in TESTS_SUFFIXES]
