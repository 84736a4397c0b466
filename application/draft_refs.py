"""Draft branches as refs: what a draft's tip commit records, and what a commit targets.

A draft of persona ``slug`` is the branch ``persona-drafts/<slug>/<draft_id>``; its
tip commit's trailers record the version counter (``Draft-Version``), the base
commit, the slug and the persona file's path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import git
from personas_as_code.application.ids import DRAFT_REF_PREFIX, check_draft_id, check_slug
from personas_as_code.application.models import DraftRef

ZERO_SHA = "0" * 40
_TRAILER = re.compile(r"^(Draft-[A-Za-z]+): (.+)$", re.MULTILINE)


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
        """The branch name (the ref without ``refs/heads/``)."""
        return self.ref.removeprefix("refs/heads/")

    def to_ref(self, head_sha: str) -> DraftRef:
        """The draft as the tools show it; ``head_sha`` is the current branch's tip."""
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


@dataclass(frozen=True)
class DraftTarget:
    """Where one draft commit goes: the draft ``draft_id`` of ``slug`` (persona file
    ``path``), based on commit ``base``, on top of ``parent`` (None: a new draft).

    The slug and the draft id become a ref name: whoever builds a target has checked
    them, once, where they came in (``checked`` builds one from unchecked values).
    """

    slug: str
    draft_id: str
    base: str
    path: str
    parent: DraftTip | None
    new_persona: bool

    @classmethod
    def checked(
        cls,
        slug: str,
        draft_id: str,
        base: str,
        path: str,
        parent: DraftTip | None,
        new_persona: bool,
    ) -> DraftTarget:
        """A target whose ``slug`` and ``draft_id`` are checked here."""
        return cls(check_slug(slug), check_draft_id(draft_id), base, path, parent, new_persona)

    @property
    def ref(self) -> str:
        """The draft's ref."""
        return f"{DRAFT_REF_PREFIX}{self.slug}/{self.draft_id}"

    @property
    def version(self) -> int:
        """The version the commit gets."""
        return (self.parent.version if self.parent else 0) + 1

    @property
    def parent_sha(self) -> str:
        """The commit the new one goes on top of."""
        return self.parent.head if self.parent else self.base

    def message(self, summary: str, trailers: dict[str, str] | None) -> str:
        """The commit message: ``summary`` and the draft's trailers."""
        extra = "".join(f"{key}: {value}\n" for key, value in (trailers or {}).items())
        return (
            f"{summary}\n\n"
            f"Draft-Version: {self.version}\nDraft-Base: {self.base}\nDraft-Slug: {self.slug}\n"
            f"Draft-Path: {self.path}\n{extra}"
        )


def read_tip(repo: git.Repo, ref: str, sha: str) -> DraftTip:
    """The draft at ``ref`` whose tip is commit ``sha``, from its trailers."""
    commit = repo.commit(sha)
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


def list_refs(repo: git.Repo, pattern: str) -> list[tuple[str, str]]:
    """(ref, sha) of every ref matching ``pattern``."""
    out = repo.git.for_each_ref("--format=%(refname) %(objectname)", pattern)
    return [tuple(line.split(" ", 1)) for line in out.splitlines() if line.strip()]
