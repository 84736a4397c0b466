"""The knowledge index tables: sources, documents and chunks, written and read.

Three tables, each row carrying the tenant id as a plain string (no foreign key into
the catalogue's tables, so this package stands alone):

* ``knowledge_sources``: one per indexed (tenant, source type, source id): the repo
  that owns it, its name, the embedder identity and chunk settings it was built with,
  and a ``revision`` that changes on every write (the vector cache's key);
* ``knowledge_documents``: one per document path, with its content hash and the hash
  of the settings it was indexed with (chunking + embedder);
* ``knowledge_chunks``: the chunks, their text and their embedding (float32 bytes).

The searches over them are ``knowledge_index.fulltext`` (keyword) and
``knowledge_index.vectors`` (semantic); both answer ``Hit``s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    import numpy as np  # loaded by the one write that stores vectors: a plan creates tables

metadata = MetaData()

sources_table = Table(
    "knowledge_sources",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("source_type", String(32), primary_key=True),
    Column("source_id", String(200), primary_key=True),
    Column("repo_id", String(200), nullable=False),
    Column("name", String(200)),
    Column("description", Text),
    Column("embedder", JSON, nullable=False),
    Column("chunking", JSON, nullable=False),
    Column("dimension", Integer, nullable=False),
    Column("revision", String(40), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

documents_table = Table(
    "knowledge_documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("source_type", String(32), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("path", String(1000), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("settings_sha256", String(64), nullable=False),
    Column("chunk_count", Integer, nullable=False),
    UniqueConstraint("tenant_id", "source_type", "source_id", "path", name="uq_knowledge_doc"),
)

chunks_table = Table(
    "knowledge_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "document_id",
        Integer,
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("tenant_id", String(64), nullable=False),
    Column("source_type", String(32), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
    Index("ix_knowledge_chunks_source", "tenant_id", "source_type", "source_id"),
)

_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_chunks_fts USING fts5("
    "text, content='knowledge_chunks', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS knowledge_chunks_ai AFTER INSERT ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_chunks_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS knowledge_chunks_ad AFTER DELETE ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_chunks_fts(knowledge_chunks_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
)
_POSTGRES_DDL = (
    "ALTER TABLE knowledge_chunks ADD COLUMN IF NOT EXISTS tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
    "CREATE INDEX IF NOT EXISTS ix_knowledge_chunks_tsv ON knowledge_chunks USING GIN (tsv)",
)


def create_knowledge_tables(engine: Engine) -> None:
    """Create the knowledge tables and full-text structures that do not exist yet."""
    metadata.create_all(engine)
    ddl = _POSTGRES_DDL if engine.dialect.name == "postgresql" else _SQLITE_DDL
    with engine.begin() as conn:
        for statement in ddl:
            conn.execute(text(statement))


_TABLES_SEEN: set[str] = set()


def tables_exist(engine: Engine) -> bool:
    """Whether this database has the knowledge tables (an older catalogue may not).

    Once seen, remembered per database URL: inspecting costs a round trip or more per
    call, and retrieval asks on every query."""
    key = engine.url.render_as_string(hide_password=True)
    if key in _TABLES_SEEN:
        return True
    found = inspect(engine).has_table(sources_table.name)
    if found:
        _TABLES_SEEN.add(key)
    return found


@dataclass(frozen=True)
class SourceIndex:
    """What is stored about one indexed source."""

    tenant_id: str
    source_type: str
    source_id: str
    repo_id: str
    name: str | None
    description: str | None
    embedder: dict
    chunking: dict
    dimension: int
    revision: str


def list_sources(
    conn: Connection, tenant_id: str, *, source_type: str | None = None
) -> list[SourceIndex]:
    """The indexed sources of a tenant (optionally of one type), by type then id."""
    query = select(sources_table).where(sources_table.c.tenant_id == tenant_id)
    if source_type is not None:
        query = query.where(sources_table.c.source_type == source_type)
    rows = conn.execute(
        query.order_by(sources_table.c.source_type, sources_table.c.source_id)
    ).mappings()
    return [_source(row) for row in rows]


# the reads of every retrieval, built once (building one per call cost more than running it)
_ONE_SOURCE = select(sources_table).where(
    sources_table.c.tenant_id == bindparam("t"),
    sources_table.c.source_type == bindparam("st"),
    sources_table.c.source_id == bindparam("sid"),
)

_CHUNKS_BY_ID = (
    select(
        chunks_table.c.id,
        chunks_table.c.source_type,
        chunks_table.c.source_id,
        documents_table.c.path,
        chunks_table.c.ordinal,
        chunks_table.c.text,
    )
    .join(documents_table, documents_table.c.id == chunks_table.c.document_id)
    .where(chunks_table.c.id.in_(bindparam("ids", expanding=True)))
)


def get_source(
    conn: Connection, tenant_id: str, source_type: str, source_id: str
) -> SourceIndex | None:
    """One indexed source, or None."""
    params = {"t": tenant_id, "st": source_type, "sid": source_id}
    row = conn.execute(_ONE_SOURCE, params).mappings().first()
    return _source(row) if row else None


def _source(row) -> SourceIndex:
    return SourceIndex(**{name: row[name] for name in SourceIndex.__dataclass_fields__})


def document_hashes(
    conn: Connection, tenant_id: str, source_type: str, source_id: str
) -> dict[str, tuple[str, str]]:
    """``path -> (content hash, settings hash)`` of a source's indexed documents."""
    d = documents_table.c
    rows = conn.execute(
        select(d.path, d.content_sha256, d.settings_sha256).where(
            d.tenant_id == tenant_id, d.source_type == source_type, d.source_id == source_id
        )
    )
    return {path: (content, settings) for path, content, settings in rows}


def delete_documents(
    conn: Connection, tenant_id: str, source_type: str, source_id: str, paths: Iterable[str]
) -> int:
    """Delete documents (and their chunks, explicitly so the FTS triggers run)."""
    d = documents_table.c
    ids = [
        row[0]
        for row in conn.execute(
            select(d.id).where(
                d.tenant_id == tenant_id,
                d.source_type == source_type,
                d.source_id == source_id,
                d.path.in_(bindparam("paths", expanding=True)),
            ),
            {"paths": list(paths)},
        )
    ]
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        conn.execute(delete(chunks_table).where(chunks_table.c.document_id.in_(batch)))
        conn.execute(delete(documents_table).where(documents_table.c.id.in_(batch)))
    return len(ids)


def stable_chunk_id(source_type: str, source_id: str, path: str, ordinal: int) -> int:
    """A chunk id that depends only on where the chunk stands (source, document, ordinal).

    Retrieval breaks exact ties by chunk id; an index whose ids are these ranks tied
    chunks the same way however it was built (from scratch, or updated from another
    tree's index), so equal knowledge gives equal answers on every machine."""
    key = "\0".join((source_type, source_id, path, str(ordinal))).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1 or 1


_INSERT_DOCUMENT = documents_table.insert()


def insert_document(
    conn: Connection,
    *,
    tenant_id: str,
    source_type: str,
    source_id: str,
    path: str,
    content_sha256: str,
    settings_sha256: str,
    chunks: Sequence[str],
    vectors: np.ndarray,
    stable_ids: bool = False,
) -> None:
    """Insert one document with its chunks and their vectors.  With ``stable_ids`` each
    chunk's id is ``stable_chunk_id`` of its place instead of the next free number."""
    import numpy as np

    # the values as parameters, not ``.values()``: one statement, compiled once for all
    result = conn.execute(
        _INSERT_DOCUMENT,
        {
            "tenant_id": tenant_id,
            "source_type": source_type,
            "source_id": source_id,
            "path": path,
            "content_sha256": content_sha256,
            "settings_sha256": settings_sha256,
            "chunk_count": len(chunks),
        },
    )
    assert result.inserted_primary_key is not None  # an INSERT of one row has its key
    document_id = result.inserted_primary_key[0]
    if chunks:
        conn.execute(
            chunks_table.insert(),
            [
                {
                    **(
                        {"id": stable_chunk_id(source_type, source_id, path, ordinal)}
                        if stable_ids
                        else {}
                    ),
                    "document_id": document_id,
                    "tenant_id": tenant_id,
                    "source_type": source_type,
                    "source_id": source_id,
                    "ordinal": ordinal,
                    "text": chunk,
                    "embedding": np.asarray(vector, dtype=np.float32).tobytes(),
                }
                for ordinal, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
            ],
        )


def drop_source(conn: Connection, tenant_id: str, source_type: str, source_id: str) -> int:
    """Delete a whole source's index; returns the number of documents deleted."""
    paths = document_hashes(conn, tenant_id, source_type, source_id)
    count = delete_documents(conn, tenant_id, source_type, source_id, paths)
    conn.execute(
        delete(sources_table).where(
            sources_table.c.tenant_id == tenant_id,
            sources_table.c.source_type == source_type,
            sources_table.c.source_id == source_id,
        )
    )
    return count


@dataclass(frozen=True)
class Hit:
    """A chunk found by one search, with the engine's raw score (higher is better)."""

    chunk_id: int
    raw: float


@dataclass(frozen=True)
class ChunkRow:
    """A chunk's text and where it comes from."""

    chunk_id: int
    source_type: str
    source_id: str
    path: str
    ordinal: int
    text: str


def chunk_rows(conn: Connection, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
    """The chunks with these ids, with their document paths."""
    if not chunk_ids:
        return {}
    rows = conn.execute(_CHUNKS_BY_ID, {"ids": list(chunk_ids)})
    return {row[0]: ChunkRow(*row) for row in rows}


def count_chunks(conn: Connection, tenant_id: str) -> int:
    """How many chunks a tenant has indexed (for tests and benches)."""
    return conn.execute(
        select(func.count()).select_from(chunks_table).where(chunks_table.c.tenant_id == tenant_id)
    ).scalar_one()


def document_counts(conn: Connection, tenant_id: str, source_type: str) -> dict[str, int]:
    """``source id -> number of indexed documents`` for one source type of a tenant."""
    d = documents_table.c
    rows = conn.execute(
        select(d.source_id, func.count())
        .where(d.tenant_id == tenant_id, d.source_type == source_type)
        .group_by(d.source_id)
    )
    return {source_id: count for source_id, count in rows}
