"""Incremental indexing: compare a repo's knowledge with the index, then write the difference.

A document is keyed by (tenant, source type, source id, repo-relative path) and
carries two hashes: its content's sha256, and the sha256 of the settings it was
indexed with (chunk settings + embedder identity).  ``diff_sources`` only reads those
hashes (the plan is read-only); ``index_sources`` writes only the added and changed
documents, deletes removed ones, and drops the indexes of sources that left the repo
(only those this repo owns).  An unchanged document is never re-chunked or re-embedded;
with a ``ContentStore`` (``content_store``), a written document's chunks and vectors
come from the store when any tree or index met the same content before.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from personas_as_code.knowledge_index import store
from personas_as_code.knowledge_index.chunking import ChunkSettings
from personas_as_code.knowledge_index.content_store import (
    ContentStore,
    chunk_and_embed,
    settings_hash,
)
from personas_as_code.knowledge_index.embeddings import Embedder, identity_key
from sqlalchemy import Engine, update


@dataclass(frozen=True)
class Document:
    """One document of a source: its repo-relative path, text and content hash."""

    path: str
    text: str
    sha256: str


@dataclass(frozen=True)
class SourceDocuments:
    """The desired state of one source: what the repo's knowledge folder holds."""

    source_type: str
    source_id: str
    documents: Sequence[Document]
    name: str | None = None
    description: str | None = None
    chunking: ChunkSettings = field(default_factory=ChunkSettings)


@dataclass(frozen=True)
class SourceDelta:
    """What indexing would change for one source."""

    source_type: str
    source_id: str
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    new_index: bool = False  # the source has no index yet
    drop: bool = False  # the source left the repo: its whole index goes
    reason: str | None = None  # why every document changes (embedder or chunking changed)
    details_changed: bool = False  # name or description only
    digest: str = ""  # sha256 over the added and changed documents' paths and content hashes

    @property
    def has_changes(self) -> bool:
        """Whether indexing would write anything for this source."""
        return bool(self.added or self.changed or self.removed or self.drop) or (
            self.details_changed
        )


def diff_sources(
    engine: Engine,
    tenant_id: str,
    repo_id: str,
    desired: Sequence[SourceDocuments],
    embedder_identity: dict,
    *,
    drop_missing: bool = True,
) -> list[SourceDelta]:
    """Per source, what ``index_sources`` would do.  Reads hashes only; writes nothing.
    ``drop_missing``: the repo's indexed sources missing from ``desired`` are dropped
    (false: ``desired`` is a part of the repo's sources, the others stay)."""
    has_tables = store.tables_exist(engine)
    deltas: list[SourceDelta] = []
    with engine.connect() as conn:
        indexed = {
            (s.source_type, s.source_id): s
            for s in (store.list_sources(conn, tenant_id) if has_tables else [])
        }
        wanted = set()
        for source in desired:
            key = (source.source_type, source.source_id)
            wanted.add(key)
            current = indexed.get(key)
            stored = store.document_hashes(conn, tenant_id, *key) if current is not None else {}
            deltas.append(_delta(source, current, stored, embedder_identity))
        for key, current in indexed.items():
            if drop_missing and key not in wanted and current.repo_id == repo_id:
                removed = tuple(sorted(store.document_hashes(conn, tenant_id, *key)))
                deltas.append(SourceDelta(*key, removed=removed, drop=True))
    return sorted(deltas, key=lambda d: (d.source_id, d.source_type))


def _delta(
    source: SourceDocuments,
    current: store.SourceIndex | None,
    stored: dict[str, tuple[str, str]],
    embedder_identity: dict,
) -> SourceDelta:
    settings = settings_hash(source.chunking, embedder_identity)
    added, changed, unchanged = [], [], 0
    for document in source.documents:
        before = stored.get(document.path)
        if before is None:
            added.append(document.path)
        elif before != (document.sha256, settings):
            changed.append(document.path)
        else:
            unchanged += 1
    paths = {d.path for d in source.documents}
    removed = sorted(p for p in stored if p not in paths)
    todo = set(added) | set(changed)
    digest = hashlib.sha256(
        "\n".join(f"{d.path}\0{d.sha256}" for d in source.documents if d.path in todo).encode()
    ).hexdigest()
    reason = None
    if current is not None and stored and any(s != settings for _, s in stored.values()):
        if identity_key(current.embedder) != identity_key(embedder_identity):
            reason = "the embedder changed"
        elif current.chunking != source.chunking.as_dict():
            reason = "the chunk settings changed"
    details = current is not None and (current.name, current.description) != (
        source.name,
        source.description,
    )
    return SourceDelta(
        source.source_type,
        source.source_id,
        added=tuple(added),
        changed=tuple(changed),
        removed=tuple(removed),
        unchanged=unchanged,
        new_index=current is None,
        reason=reason,
        details_changed=details,
        digest=digest,
    )


@dataclass
class IndexStats:
    """What one ``index_sources`` run did."""

    sources_written: int = 0
    sources_dropped: int = 0
    documents_embedded: int = 0  # chunked and embedded now
    chunks_embedded: int = 0
    documents_from_store: int = 0  # written from the content store, nothing embedded
    documents_deleted: int = 0
    embedding_requests: int = 0
    per_source: dict[str, str] = field(default_factory=dict)


def index_sources(
    engine: Engine,
    tenant_id: str,
    repo_id: str,
    desired: Sequence[SourceDocuments],
    embedder: Embedder,
    content_store: ContentStore | None = None,
    *,
    stable_ids: bool = False,
    drop_missing: bool = True,
    on_source: Callable[[str, int], None] | None = None,
) -> IndexStats:
    """Bring the index in line with ``desired``; each source is written in one transaction.
    ``content_store`` supplies (and keeps) the chunks and vectors of written documents;
    ``stable_ids`` gives chunks ids that depend on their place only (``store.stable_chunk_id``);
    ``on_source`` is told of each source written: its label and how many documents."""
    store.create_knowledge_tables(engine)
    stats = IndexStats()
    requests_before = embedder.requests
    by_key = {(s.source_type, s.source_id): s for s in desired}
    deltas = diff_sources(
        engine, tenant_id, repo_id, desired, embedder.identity, drop_missing=drop_missing
    )
    for delta in deltas:
        label = f"{delta.source_type}:{delta.source_id}"
        if delta.drop:
            with engine.begin() as conn:
                stats.documents_deleted += store.drop_source(
                    conn, tenant_id, delta.source_type, delta.source_id
                )
            stats.sources_dropped += 1
            stats.per_source[label] = "dropped"
            continue
        if not (delta.has_changes or delta.new_index):
            continue
        source = by_key[(delta.source_type, delta.source_id)]
        _write_source(
            engine, tenant_id, repo_id, source, delta, embedder, stats, content_store, stable_ids
        )
        stats.per_source[label] = (
            f"{len(delta.added)} added, {len(delta.changed)} changed, {len(delta.removed)} removed"
        )
        if on_source is not None:
            on_source(label, len(delta.added) + len(delta.changed))
    stats.embedding_requests = embedder.requests - requests_before
    return stats


def _write_source(
    engine: Engine,
    tenant_id: str,
    repo_id: str,
    source: SourceDocuments,
    delta: SourceDelta,
    embedder: Embedder,
    stats: IndexStats,
    content_store: ContentStore | None,
    stable_ids: bool,
) -> None:
    settings = settings_hash(source.chunking, embedder.identity)
    todo = set(delta.added) | set(delta.changed)
    documents = [d for d in source.documents if d.path in todo]
    # outside the transaction: embedding may be slow or remote
    if content_store is None:
        made = chunk_and_embed([d.text for d in documents], source.chunking, embedder)
    else:
        made = content_store.chunks_for(documents, source.chunking, embedder)
    dimension = next((int(m.vectors.shape[1]) for m in made if m.chunks), 0)
    key = (tenant_id, source.source_type, source.source_id)
    with engine.begin() as conn:
        current = store.get_source(conn, *key)
        if dimension == 0:
            dimension = current.dimension if current is not None else 0
        stats.documents_deleted += store.delete_documents(
            conn, *key, [*delta.removed, *delta.changed]
        )
        for document, entry in zip(documents, made, strict=True):
            store.insert_document(
                conn,
                tenant_id=tenant_id,
                source_type=source.source_type,
                source_id=source.source_id,
                path=document.path,
                content_sha256=document.sha256,
                settings_sha256=settings,
                chunks=entry.chunks,
                vectors=entry.vectors,
                stable_ids=stable_ids,
            )
        values = {
            "repo_id": repo_id,
            "name": source.name,
            "description": source.description,
            "embedder": embedder.identity,
            "chunking": source.chunking.as_dict(),
            "dimension": dimension,
            "revision": secrets.token_hex(16),
            "updated_at": datetime.now(UTC),
        }
        if current is None:
            conn.execute(
                store.sources_table.insert().values(
                    tenant_id=tenant_id,
                    source_type=source.source_type,
                    source_id=source.source_id,
                    **values,
                )
            )
        else:
            t = store.sources_table.c
            conn.execute(
                update(store.sources_table)
                .where(
                    t.tenant_id == tenant_id,
                    t.source_type == source.source_type,
                    t.source_id == source.source_id,
                )
                .values(**values)
            )
    stats.sources_written += 1
    embedded = [m for m in made if m.embedded]
    stats.documents_embedded += len(embedded)
    stats.chunks_embedded += sum(len(m.chunks) for m in embedded)
    stats.documents_from_store += len(made) - len(embedded)
