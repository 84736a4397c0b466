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
import posixpath
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import git
from git.objects import Tree
from git.objects.fun import tree_to_stream
from gitdb.base import IStream
from gitdb.exc import ODBError
from personas_as_code.mcp_server.draft_scope import DraftScope, file_users, personas_folder
from personas_as_code.mcp_server.ids import DRAFT_REF_PREFIX, check_draft_id, check_slug
from personas_as_code.mcp_server.models import CommitInfo, DraftRef
from personas_as_code.mcp_server.repoload import LoadCache, load_repo_cached
from personas_as_code.sandbox.gitfiles import GitTreeFiles
from personas_as_code.schemas.errors import DraftConflict, DraftError, NotFound
from personas_as_code.schemas.loader import PERSONA_SUFFIXES, Repo, load_config

ZERO_SHA = "0" * 40
TREE_MODE = 0o040000
FILE_MODE = 0o100644
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
        cache: LoadCache | None = None,
    ) -> None:
        self.repo = open_git(root)
        self.root_name = Path(root).resolve().name
        self.actor = actor
        self.lock = threading.RLock()
        self.cache = cache or LoadCache()
        self._repos: OrderedDict[str, Repo] = OrderedDict()
        # per base commit: the personas folder and who uses which file
        self._users: OrderedDict[str, tuple[str, dict[str, frozenset[str]]]] = OrderedDict()
        self._files: OrderedDict[str, GitTreeFiles] = OrderedDict()
        self._memo_lock = threading.Lock()

    # --- reading --------------------------------------------------------------

    def head_sha(self) -> str:
        """The sha of HEAD (the current branch's tip)."""
        with self.lock:
            return self.repo.head.commit.hexsha

    def files_at(self, sha: str) -> GitTreeFiles:
        """The files of commit ``sha`` (memoised: a commit's tree listings are parsed once)."""
        with self._memo_lock:
            files = self._files.get(sha)
            if files is not None:
                self._files.move_to_end(sha)
                return files
        files = GitTreeFiles(self.repo, sha, self.lock)
        with self._memo_lock:
            self._files[sha] = files
            while len(self._files) > 8:
                self._files.popitem(last=False)
        return files

    def repo_at(self, sha: str) -> Repo:
        """The repo as loaded at commit ``sha`` (memoised; commits are immutable)."""
        with self._memo_lock:
            repo = self._repos.get(sha)
        if repo is None:
            repo = load_repo_cached(self.files_at(sha), self.cache, default_id=self.root_name)
            with self._memo_lock:
                self._repos[sha] = repo
                while len(self._repos) > 16:
                    self._repos.popitem(last=False)
        return repo

    def scope(self, base: str, slug: str, path: str) -> DraftScope:
        """What a draft of ``slug`` (file ``path``) based on commit ``base`` may write."""
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
        return DraftScope(slug, path, *known)

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
        with self.lock:
            changes = self.repo.commit(base).diff(self.repo.commit(head))
            paths = sorted({d.b_path or d.a_path for d in changes if d.b_path or d.a_path})
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
        return self.repo.odb.store(IStream(kind, len(data), io.BytesIO(data))).binsha

    def _tree_with(self, tree: Tree | None, changes: dict[tuple[str, ...], bytes]) -> bytes:
        entries: dict[str, tuple[bytes, int, str]] = {}
        if tree is not None:
            for item in tree:
                entries[item.name] = (item.binsha, item.mode, item.name)
        nested: dict[str, dict[tuple[str, ...], bytes]] = {}
        for parts, data in changes.items():
            if len(parts) == 1:
                old = entries.get(parts[0])
                mode = old[1] if old and old[1] in (FILE_MODE, 0o100755) else FILE_MODE
                entries[parts[0]] = (self._store("blob", data), mode, parts[0])
            else:
                nested.setdefault(parts[0], {})[parts[1:]] = data
        for name, sub in nested.items():
            subtree = None
            if tree is not None and name in entries and entries[name][1] == TREE_MODE:
                subtree = tree[name]
            entries[name] = (self._tree_with(subtree, sub), TREE_MODE, name)
        ordered = sorted(entries.values(), key=lambda e: e[2] + ("/" if e[1] == TREE_MODE else ""))
        buffer = io.BytesIO()
        tree_to_stream(ordered, buffer.write)
        return self._store("tree", buffer.getvalue())

    def write(
        self,
        *,
        slug: str,
        draft_id: str,
        parent: DraftTip | None,
        base: str,
        path: str,
        changes: dict[str, bytes],
        new_persona: bool,
        summary: str,
    ) -> Written:
        """Commit ``changes`` on top of ``parent`` (or ``base``) and move the ref by CAS."""
        check_slug(slug)
        check_draft_id(draft_id)
        ref = f"{DRAFT_REF_PREFIX}{slug}/{draft_id}"
        version = (parent.version if parent else 0) + 1
        message = (
            f"{summary}\n\n"
            f"Draft-Version: {version}\nDraft-Base: {base}\nDraft-Slug: {slug}\n"
            f"Draft-Path: {path}\n"
        )
        with self.lock:
            parent_commit = self.repo.commit(parent.head if parent else base)
            self.scope(base, slug, path).check_write(changes, self.files_at(parent_commit.hexsha))
            split = {tuple(p.split("/")): data for p, data in changes.items()}
            tree_sha = self._tree_with(parent_commit.tree, split)
            commit = git.Commit.create_from_tree(
                self.repo,
                Tree(self.repo, tree_sha),
                message,
                parent_commits=[parent_commit],
                head=False,
                author=self.actor,
                committer=self.actor,
            )
            old = parent.head if parent else ZERO_SHA
            try:
                self.repo.git.update_ref(
                    "-m", f"personas draft v{version}", ref, commit.hexsha, old
                )
            except git.GitCommandError:
                current = self._current_version(ref)
                raise DraftConflict(
                    f"draft '{draft_id}' changed concurrently: it is now at version {current}, "
                    f"this patch was based on version {version - 1}; re-read it and retry",
                    details={"draft_id": draft_id, "current_version": current},
                ) from None
            return Written(self._tip(ref, commit.hexsha), parent is None, new_persona)

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
