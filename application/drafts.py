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

from datetime import datetime
from pathlib import Path

import git
from personas_as_code.application.commit_views import CommitViews
from personas_as_code.application.draft_diff import unified_diff
from personas_as_code.application.draft_refs import (
    ZERO_SHA,
    DraftTarget,
    DraftTip,
    Written,
    list_refs,
    read_tip,
)
from personas_as_code.application.git_objects import ObjectWriter, listing_changes
from personas_as_code.application.ids import DRAFT_REF_PREFIX, check_draft_id, check_slug
from personas_as_code.application.models import CommitInfo
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.schemas.errors import DraftConflict, DraftError, NotFound

DEFAULT_ACTOR = git.Actor("personas-mcp", "personas-mcp@localhost")

__all__ = ["DraftStore", "DraftTarget", "DraftTip", "Written", "commit_info", "open_git"]


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


class DraftStore(CommitViews):
    """Create, patch, list and discard draft branches of one repository; read its
    commits (``CommitViews``)."""

    def __init__(
        self,
        root: str | Path,
        actor: git.Actor = DEFAULT_ACTOR,
        *,
        cache: ParseCache | None = None,
    ) -> None:
        super().__init__(open_git(root), root, cache)
        self.actor = actor
        self.objects = ObjectWriter(self.repo)

    def head_sha(self) -> str:
        """The sha of HEAD (the current branch's tip)."""
        with self.lock:
            return self.repo.head.commit.hexsha

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
        return unified_diff(self.files_at(base), self.files_at(head))

    def list(self, slug: str | None = None) -> list[DraftTip]:
        """Every draft (of ``slug`` when given), newest first."""
        pattern = DRAFT_REF_PREFIX + (f"{check_slug(slug)}/" if slug is not None else "")
        with self.lock:
            tips = [read_tip(self.repo, ref, sha) for ref, sha in list_refs(self.repo, pattern)]
        return sorted(tips, key=lambda t: (t.updated_at, t.draft_id), reverse=True)

    def get(self, draft_id: str) -> DraftTip:
        """The draft ``draft_id``; NotFound when there is none."""
        check_draft_id(draft_id)
        with self.lock:
            refs = [
                (ref, sha)
                for ref, sha in list_refs(self.repo, f"{DRAFT_REF_PREFIX}*/{draft_id}")
                if ref.endswith("/" + draft_id)
            ]
            if not refs:
                raise NotFound(f"no draft '{draft_id}' (list_persona_drafts shows the drafts)")
            return read_tip(self.repo, *refs[0])

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
        target = DraftTarget.checked(slug, draft_id, base, path, parent, new_persona)
        return self.commit(target, changes, summary, actor=actor, trailers=trailers)

    def commit(
        self,
        target: DraftTarget,
        changes: dict[str, bytes | None],
        summary: str,
        *,
        actor: git.Actor | None = None,
        trailers: dict[str, str] | None = None,
    ) -> Written:
        """Commit ``changes`` (path -> content, None: delete) as the next version of
        ``target`` and move its ref by CAS; DraftScope checks every path first."""
        version, parent = target.version, target.parent
        with self.lock:
            parent_files = self.files_at(target.parent_sha)
            self.scope(target.base, target.slug, target.path).check_write(changes, parent_files)
            blobs = {
                p: (self.objects.store("blob", d) if d is not None else None)
                for p, d in changes.items()
            }
            tree = self.objects.write_tree(
                self.objects.tree_of(target.parent_sha),
                {tuple(p.split("/")): b for p, b in blobs.items()},
            )
            if tree is None:
                raise DraftError("the draft would leave the repository empty")
            message = target.message(summary, trailers)
            head, when = self.objects.commit(tree, target.parent_sha, message, actor or self.actor)
            self._move_ref(target, head)
            self.keep_files(head, parent_files.derived(head, listing_changes(parent_files, blobs)))
            tip = DraftTip(
                draft_id=target.draft_id,
                slug=target.slug,
                ref=target.ref,
                head=head,
                version=version,
                base=target.base,
                path=target.path,
                updated_at=datetime.fromtimestamp(when).astimezone().isoformat(),
                summary=summary,
            )
            return Written(tip, parent is None, target.new_persona)

    def _move_ref(self, target: DraftTarget, head: str) -> None:
        """Move ``target``'s ref to ``head`` if it still points at the parent (CAS)."""
        old = target.parent.head if target.parent else ZERO_SHA
        try:
            self.repo.git.update_ref(
                "-m", f"personas draft v{target.version}", target.ref, head, old
            )
        except git.GitCommandError:
            refs = list_refs(self.repo, target.ref)
            current = read_tip(self.repo, *refs[0]).version if refs else None
            raise DraftConflict(
                f"draft '{target.draft_id}' changed concurrently: it is now at version "
                f"{current}, this patch was based on version {target.version - 1}; re-read it "
                "and retry",
                details={"draft_id": target.draft_id, "current_version": current},
            ) from None

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
