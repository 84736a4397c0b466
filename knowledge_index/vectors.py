"""Semantic search over the knowledge index: cosine similarity computed with numpy over
a source's vectors, cached per process and reloaded when the source's revision changes.

(This Python's ``sqlite3`` cannot load extensions, so sqlite-vec is not used, and the
PostgreSQL here has no pgvector: the float32 blobs are the documented fallback and work
on both.)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from personas_as_code.knowledge_index.store import Hit, SourceIndex, chunks_table
from sqlalchemy import select
from sqlalchemy.engine import Connection

_VECTOR_LOCK = threading.Lock()
_VECTORS: dict[tuple[str, str, str, str], tuple[str, np.ndarray, np.ndarray]] = {}
_VECTOR_CACHE_SOURCES = 256


def _vectors(
    conn: Connection, source: SourceIndex, engine_key: str
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids (ascending) and the vector matrix of a source, cached until its
    revision changes."""
    key = (engine_key, source.tenant_id, source.source_type, source.source_id)
    with _VECTOR_LOCK:
        cached = _VECTORS.get(key)
    if cached is not None and cached[0] == source.revision:
        return cached[1], cached[2]
    c = chunks_table.c
    rows = conn.execute(
        select(c.id, c.embedding)
        .where(
            c.tenant_id == source.tenant_id,
            c.source_type == source.source_type,
            c.source_id == source.source_id,
        )
        .order_by(c.id)
    ).all()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    matrix = np.zeros((len(rows), source.dimension), dtype=np.float32)
    for i, row in enumerate(rows):
        vector = np.frombuffer(row[1], dtype=np.float32)
        if vector.shape[0] == source.dimension:
            matrix[i] = vector
    with _VECTOR_LOCK:
        if len(_VECTORS) >= _VECTOR_CACHE_SOURCES:
            _VECTORS.pop(next(iter(_VECTORS)))
        _VECTORS[key] = (source.revision, ids, matrix)
    return ids, matrix


class SemanticScores:
    """The cosine similarity of one query vector with every chunk of a source.

    The stored vectors are unit rows (the embedders normalise them), so one
    matrix-vector product gives every chunk's cosine; the query vector is
    normalised here."""

    def __init__(self, conn: Connection, source: SourceIndex, query_vector: np.ndarray) -> None:
        ids, matrix = _vectors(conn, source, conn.engine.url.render_as_string(hide_password=True))
        vector = np.asarray(query_vector, dtype=np.float32).ravel()
        norm = float(np.linalg.norm(vector))
        self.ids = ids
        if not len(ids) or vector.shape[0] != matrix.shape[1] or norm == 0:
            self.scores = np.zeros(len(ids), dtype=np.float32)
            self.ids = ids[:0]
        else:
            # einsum, not BLAS: OpenBLAS's threads spin after a product and steal the
            # core the database needs next (this doubled PostgreSQL's latency)
            self.scores = np.einsum("ij,j->i", matrix, vector / norm)

    def best(self, limit: int) -> list[Hit]:
        """The ``limit`` chunks closest to the query, best first (ties by id)."""
        ids, scores = self.ids, self.scores[: len(self.ids)]
        if len(scores) > limit:
            top = np.argpartition(-scores, limit - 1)[:limit]
        else:
            top = np.arange(len(scores))
        top = top[np.lexsort((ids[top], -scores[top]))]
        return [Hit(int(ids[i]), float(scores[i])) for i in top]

    def of(self, chunk_ids: Sequence[int]) -> dict[int, float]:
        """The cosine of each of these chunks (ids not in the source are absent)."""
        wanted = np.asarray(list(chunk_ids), dtype=np.int64)
        if not len(wanted) or not len(self.ids):
            return {}
        at = np.minimum(np.searchsorted(self.ids, wanted), len(self.ids) - 1)
        found = self.ids[at] == wanted
        return {
            int(c): float(self.scores[i]) for c, i, ok in zip(wanted, at, found, strict=True) if ok
        }


def semantic_search(
    conn: Connection, source: SourceIndex, query_vector: np.ndarray, limit: int
) -> list[Hit]:
    """The chunks closest to ``query_vector`` (cosine similarity), best first."""
    return SemanticScores(conn, source, query_vector).best(limit)


def clear_vectors() -> None:
    """Forget the cached vectors."""
    with _VECTOR_LOCK:
        _VECTORS.clear()
