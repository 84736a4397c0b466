"""Knowledge changes in the plan, and indexing them on apply.

The repo's knowledge folders (``loader.knowledge``) are the desired state; the
embedded catalogue's index (``knowledge_index.indexer``) is the actual one.  Planning reads
content hashes only and writes nothing.  Apply takes chunks and vectors from the repo's
content store (``.personas/knowledge/chunks.db``, shared with run, preview and test), so
knowledge a test run already embedded is not embedded again, and the other way round.
A remote ScaiGrid indexes nothing from here: the plan says so instead of listing changes.

A folder is indexed as the source type its ``collection.yaml`` declares, else as every
type the personas name it with, else as a collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.repo import Repo
from personas_as_code.schemas.errors import PersonasError
from personas_as_code.sync.render import knowledge as render
from personas_as_code.sync.render import outcomes as outcome_lines
from personas_as_code.sync.render.literal import StyledLine
from personas_as_code.sync.section import ApplyRun, OneStepApplied, SectionDefaults

if TYPE_CHECKING:
    # the index lives in the embedded catalogue (SQLAlchemy, numpy): its modules are
    # imported only where an embedded catalogue is indexed, never over HTTP
    from personas_as_code.knowledge_index.embeddings import Embedder
    from personas_as_code.knowledge_index.indexer import SourceDelta, SourceDocuments

MAX_LISTED_PATHS = 20
REMOTE_NOTE = (
    "knowledge is not indexed on a remote ScaiGrid: {count} knowledge folder(s) in the repo "
    "are left alone; upload them to the ScaiGrid collections and shares they name"
)


@dataclass(frozen=True)
class KnowledgeChange:
    """One source's index change, as the plan shows it."""

    source_type: str
    source_id: str
    action: str  # "index" (new), "update", "drop"
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    reason: str | None = None
    digest: str = ""  # the new content, so the plan checksum changes when a document does

    @classmethod
    def from_delta(cls, delta: SourceDelta) -> KnowledgeChange:
        action = "drop" if delta.drop else "index" if delta.new_index else "update"
        return cls(
            delta.source_type,
            delta.source_id,
            action,
            delta.added,
            delta.changed,
            delta.removed,
            delta.unchanged,
            delta.reason,
            delta.digest,
        )

    @property
    def label(self) -> str:
        """``col_x``, or ``shr_x (scaidrive)`` for a share."""
        suffix = "" if self.source_type == "collection" else f" ({self.source_type})"
        return f"{self.source_id}{suffix}"

    def describe(self) -> str:
        """``2 documents changed, 1 added`` (the plan's one-line account)."""
        if self.action == "drop":
            return f"folder gone: index dropped ({_count(len(self.removed))} removed)"
        parts = []
        if self.action == "index":
            parts.append(f"new index, {_count(len(self.added))} to embed")
        else:
            if self.changed:
                parts.append(f"{_count(len(self.changed))} changed")
            if self.added:
                parts.append(f"{len(self.added)} added")
            if self.removed:
                parts.append(f"{len(self.removed)} removed")
            if not parts:
                parts.append("name or description changed")
        if self.reason:
            parts.append(f"because {self.reason}")
        return ", ".join(parts)

    def path_lines(self) -> list[str]:
        """``+ path`` / ``~ path`` / ``- path`` lines, at most ``MAX_LISTED_PATHS``."""
        lines = [f"+ {p}" for p in self.added] + [f"~ {p}" for p in self.changed]
        lines += [f"- {p}" for p in self.removed]
        if len(lines) > MAX_LISTED_PATHS:
            more = len(lines) - MAX_LISTED_PATHS
            lines = [*lines[:MAX_LISTED_PATHS], f"… and {more} more"]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The change as plan JSON."""
        return {
            "source_type": self.source_type,
            "source_id": self.source_id,
            "action": self.action,
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
            "unchanged": self.unchanged,
            "reason": self.reason,
            "documents_sha256": self.digest,
        }


def _count(n: int) -> str:
    return f"{n} document{'s' if n != 1 else ''}"


def desired_sources(repo: Repo) -> list[SourceDocuments]:
    """The repo's knowledge folders as the sources to index (one per source type)."""
    from personas_as_code.knowledge_index.chunking import ChunkSettings
    from personas_as_code.knowledge_index.indexer import Document, SourceDocuments

    named: dict[str, set[str]] = {}
    for persona in repo.personas.values():
        for source in persona.spec.sources:
            named.setdefault(source.id, set()).add(source.type)
    sources = []
    for source_id, folder in sorted(repo.knowledge.items()):
        spec = folder.spec
        types = {spec.type} if spec.type else named.get(source_id) or {"collection"}
        documents = tuple(Document(d.path, d.text, d.sha256) for d in folder.documents)
        chunking = ChunkSettings(spec.chunking.max_chars, spec.chunking.overlap_chars)
        for source_type in sorted(types):
            sources.append(
                SourceDocuments(
                    source_type,
                    source_id,
                    documents,
                    name=spec.name,
                    description=spec.description,
                    chunking=chunking,
                )
            )
    return sources


def embedded_target(catalogue: Catalogue) -> tuple[Any, str] | None:
    """The embedded catalogue's engine and tenant id, or None for a remote catalogue."""
    index = catalogue.knowledge_index()
    return None if index is None else (index.engine, index.tenant_id)


@dataclass
class KnowledgeSection(SectionDefaults):
    """The knowledge part of a plan: the changes, or a note saying why there are none."""

    display_rank: ClassVar[int] = 1

    changes: list[KnowledgeChange] = field(default_factory=list)
    note: str | None = None
    # a targeted plan: the source ids it indexes (the others are left as they are)
    only: frozenset[str] | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[str, int]:
        """Sources and documents the changes touch."""
        return changed_count(self.changes)

    def plan_summary(self) -> dict[str, int]:
        return {"knowledge_changes": len(self.changes)}

    def checksum_part(self) -> list[Any]:
        # plans without knowledge changes keep their former checksum
        return [["knowledge", [k.to_dict() for k in self.changes]]] if self.changes else []

    def json_members(self) -> dict[str, Any]:
        return {"knowledge": [k.to_dict() for k in self.changes], "knowledge_note": self.note}

    def text_lines(self) -> Iterator[StyledLine]:
        return render.lines(self)

    def summary_lines(self) -> Iterator[StyledLine]:
        return render.summary_lines(self)

    def markdown(self, summary: Mapping[str, int]) -> list[str]:
        return render.markdown(self)

    def apply(self, run: ApplyRun) -> KnowledgeApplied:
        if not self.changes:
            return KnowledgeApplied()
        return KnowledgeApplied(
            apply_knowledge(run.repo, run.catalogue, only=self.only, on_source=run.on_indexed)
        )

    def skipped(self) -> KnowledgeApplied:
        return KnowledgeApplied()


def plan_knowledge(
    repo: Repo, catalogue: Catalogue, only: frozenset[str] | None = None
) -> KnowledgeSection:
    """What apply would index; reads the index's hashes and writes nothing.  ``only``:
    the source ids to consider (a targeted plan); the others are neither indexed nor
    dropped."""
    target = embedded_target(catalogue)
    if target is None:
        if repo.knowledge:
            return KnowledgeSection(note=REMOTE_NOTE.format(count=len(repo.knowledge)))
        return KnowledgeSection()
    engine, tenant_id = target
    from personas_as_code.knowledge_index.embeddings import embedder_for_settings
    from personas_as_code.knowledge_index.indexer import diff_sources

    identity = embedder_for_settings(repo.config.knowledge.embeddings).identity
    deltas = diff_sources(
        engine,
        tenant_id,
        repo.config.repo.id,
        _chosen(desired_sources(repo), only),
        identity,
        drop_missing=only is None,
    )
    changes = [KnowledgeChange.from_delta(d) for d in deltas if d.has_changes]
    return KnowledgeSection(changes, only=only)


def _chosen(sources: list[SourceDocuments], only: frozenset[str] | None) -> list[SourceDocuments]:
    return sources if only is None else [s for s in sources if s.source_id in only]


@dataclass
class KnowledgeOutcome:
    """What apply did to the knowledge index (or why it failed)."""

    lines: list[str] = field(default_factory=list)
    error: str | None = None
    error_code: str | None = None
    documents_embedded: int = 0
    chunks_embedded: int = 0
    documents_deleted: int = 0
    documents_from_store: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "sources": list(self.lines),
            "documents_embedded": self.documents_embedded,
            "chunks_embedded": self.chunks_embedded,
            "documents_deleted": self.documents_deleted,
            "documents_from_store": self.documents_from_store,
            "error": self.error,
            "error_code": self.error_code,
        }


@dataclass
class KnowledgeApplied(OneStepApplied[KnowledgeOutcome]):
    """What apply did to the knowledge section: ``outcome`` is None when it did nothing."""

    key: ClassVar[str] = "knowledge"

    def lines(self) -> Iterator[StyledLine]:
        return outcome_lines.knowledge_lines(self.outcome)


def apply_knowledge(
    repo: Repo,
    catalogue: Catalogue,
    embedder: Embedder | None = None,
    *,
    only: frozenset[str] | None = None,
    on_source: Callable[[str, int], None] | None = None,
) -> KnowledgeOutcome | None:
    """Index the repo's knowledge into the embedded catalogue; None for a remote one.
    ``only``: index just these source ids, dropping none (a targeted apply);
    ``on_source`` hears of each source indexed (its label and the documents written)."""
    target = embedded_target(catalogue)
    if target is None:
        return None
    engine, tenant_id = target
    from personas_as_code.knowledge_index.content_store import ContentStore
    from personas_as_code.knowledge_index.embeddings import embedder_for_settings
    from personas_as_code.knowledge_index.indexer import index_sources

    try:
        embedder = embedder or embedder_for_settings(repo.config.knowledge.embeddings)
        store = ContentStore.for_repo(repo.root) if repo.root is not None else None
        stats = index_sources(
            engine,
            tenant_id,
            repo.config.repo.id,
            _chosen(desired_sources(repo), only),
            embedder,
            store,
            drop_missing=only is None,
            on_source=on_source,
        )
    except PersonasError as exc:
        return KnowledgeOutcome(error=exc.message, error_code=exc.code)
    return KnowledgeOutcome(
        [f"{label}: {what}" for label, what in sorted(stats.per_source.items())],
        documents_embedded=stats.documents_embedded,
        chunks_embedded=stats.chunks_embedded,
        documents_deleted=stats.documents_deleted,
        documents_from_store=stats.documents_from_store,
    )


def changed_count(changes: Iterable[KnowledgeChange]) -> dict[str, int]:
    """Sources and documents a set of knowledge changes touches (for summaries)."""
    changes = list(changes)
    return {
        "sources": len(changes),
        "added": sum(len(c.added) for c in changes),
        "changed": sum(len(c.changed) for c in changes),
        "removed": sum(len(c.removed) for c in changes),
    }
