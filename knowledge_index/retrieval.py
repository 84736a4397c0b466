"""A persona's retrieval over the knowledge index.

``retrieve`` searches every active source of a persona and returns the best chunks
with their provenance.  Per source, ``search_type`` picks the search:

* ``keyword``: the database's full-text engine (SQLite FTS5 ``bm25``, PostgreSQL
  ``ts_rank_cd``) over the query's content words, any of which may match; the raw
  scores are divided by the best raw score of the query across all keyword-searched
  sources, so the best keyword match scores 1.0;
* ``semantic``: cosine similarity between the query's embedding (made by the same
  embedder the index was built with) and the chunks' embeddings, clipped to 0..1;
* ``hybrid`` (the default): reciprocal rank fusion of the two lists
  (``1/(60 + rank)`` summed), divided by its maximum ``2/61``, so a chunk ranked first
  by both scores 1.0 and one ranked first by only one scores 0.5.

The source's ``weight`` multiplies the score; ``min_score`` drops chunks whose
weighted score is below it; ``top_k`` is taken across all sources.  Disabled sources
and sources without an index are skipped (``Retrieval.note`` says which had no index).

``strategy`` decides which queries run:

* ``single_step``: one retrieval with the query (the last user message);
* ``multi_step``: that retrieval, then a second one whose query is the first expanded
  with the previous user turns (``history``, the last two) and the five most frequent
  content words of the first pass's best chunk that the query lacks; the two result
  lists are merged, each chunk keeping its best score;
* ``agentic``: the question is decomposed into sub-questions (split at sentence ends,
  semicolons and the conjunctions "and also", "and then", "as well as", "also", "plus"
  and " and " between two clauses that each have at least two content words); each
  sub-question is retrieved on its own, the lists are merged by best score, and each
  sub-question's best chunk is kept in the top_k when it passes ``min_score``, so no
  part of the question goes unanswered.  A question that does not decompose is a
  single step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from knowledge_index import store
from knowledge_index.embeddings import embedder_for_identity, identity_key
from knowledge_index.terms import query_terms, salient_terms, words

SEARCH_TYPES = ("keyword", "semantic", "hybrid")
STRATEGIES = ("single_step", "multi_step", "agentic")
RRF_K = 60
MAX_QUERY_CHARS = 4000
MAX_SUB_QUESTIONS = 5


@dataclass(frozen=True)
class SourceRef:
    """One active or disabled source of a persona."""

    source_type: str  # "collection" | "scaidrive"
    source_id: str
    weight: float = 1.0
    search_type: str = "hybrid"  # "keyword" | "semantic" | "hybrid"
    status: str = "active"  # disabled sources are skipped


@dataclass(frozen=True)
class RetrievedChunk:
    """A retrieved chunk with its provenance; ``score`` is what ``min_score`` is compared with."""

    source_type: str
    source_id: str
    document: str  # repo-relative path, e.g. knowledge/col_product_docs/refunds.md
    chunk: int  # ordinal of the chunk within the document
    score: float
    text: str


@dataclass(frozen=True)
class Retrieval:
    """The chunks retrieved, the queries actually run, and why nothing came back if so."""

    chunks: list[RetrievedChunk]
    queries: list[str]
    note: str | None = None


def has_index(engine: Engine, tenant_id: str, source_type: str, source_id: str) -> bool:
    """Whether the source has been indexed for the tenant."""
    if not store.tables_exist(engine):
        return False
    with engine.connect() as conn:
        return store.get_source(conn, tenant_id, source_type, source_id) is not None


def retrieve(
    engine: Engine,
    tenant_id: str,
    sources: Sequence[SourceRef],
    query: str,
    *,
    top_k: int = 5,
    min_score: float | None = None,
    strategy: str = "single_step",
    history: Sequence[str] = (),
) -> Retrieval:
    """The best ``top_k`` chunks for ``query`` over the persona's active, indexed sources."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    query = query[:MAX_QUERY_CHARS]
    top_k = max(1, top_k)
    active = [s for s in sources if s.status != "disabled" and s.weight > 0]
    if not sources:
        return Retrieval([], [], "the persona has no sources")
    if not active:
        return Retrieval([], [], "every source is disabled")
    if not store.tables_exist(engine):
        return Retrieval([], [], "nothing is indexed in this catalogue yet (run apply)")
    if not words(query):
        return Retrieval([], [query], "the query has no words to search for")
    with engine.connect() as conn:
        indexed: list[tuple[SourceRef, store.SourceIndex]] = []
        missing: list[str] = []
        for ref in active:
            found = store.get_source(conn, tenant_id, ref.source_type, ref.source_id)
            if found is None:
                missing.append(f"{ref.source_type} {ref.source_id}")
            else:
                indexed.append((ref, found))
        note = f"no index for {', '.join(missing)}" if missing else None
        if not indexed:
            return Retrieval([], [], note)
        searcher = _Searcher(conn, tenant_id, indexed, top_k)
        if strategy == "single_step":
            queries = [query]
            scored = searcher.run(query)
            pinned: set[int] = set()
        elif strategy == "multi_step":
            queries, scored, pinned = _multi_step(searcher, query, history)
        else:
            queries, scored, pinned = _agentic(searcher, query)
        chunks = _finish(conn, scored, pinned, top_k, min_score)
    if not chunks and note is None:
        note = "no chunk scored above min_score" if scored else "nothing matched the query"
    return Retrieval(chunks, queries, note)


class _Searcher:
    """Runs one query over the indexed sources; returns ``{chunk id: weighted score}``."""

    def __init__(
        self,
        conn: Connection,
        tenant_id: str,
        sources: list[tuple[SourceRef, store.SourceIndex]],
        top_k: int,
    ) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.sources = sources
        self.depth = max(4 * top_k, 20)
        self.best_chunk: int | None = None

    def _query_vectors(self, query: str) -> dict[str, np.ndarray]:
        vectors: dict[str, np.ndarray] = {}
        for ref, index in self.sources:
            if ref.search_type == "keyword":
                continue
            key = identity_key(index.embedder)
            if key not in vectors:
                vectors[key] = embedder_for_identity(index.embedder).embed([query])[0]
        return vectors

    def run(self, query: str) -> dict[int, float]:
        vectors = self._query_vectors(query)
        keyword_raw: dict[tuple[str, str], list[store.Hit]] = {}
        for ref, _index in self.sources:
            if ref.search_type != "semantic":
                keyword_raw[(ref.source_type, ref.source_id)] = store.keyword_search(
                    self.conn, self.tenant_id, ref.source_type, ref.source_id, query, self.depth
                )
        best_raw = max((h.raw for hits in keyword_raw.values() for h in hits), default=0.0)
        scores: dict[int, float] = {}
        for ref, index in self.sources:
            key = (ref.source_type, ref.source_id)
            semantic: list[store.Hit] = []
            if ref.search_type != "keyword":
                vector = vectors[identity_key(index.embedder)]
                semantic = store.semantic_search(self.conn, index, vector, self.depth)
            keyword = keyword_raw.get(key, [])
            if ref.search_type == "keyword":
                found = {h.chunk_id: h.raw / best_raw for h in keyword if best_raw > 0}
            elif ref.search_type == "semantic":
                found = {h.chunk_id: min(max(h.raw, 0.0), 1.0) for h in semantic}
            else:
                found = _fuse(keyword, semantic)
            for chunk_id, score in found.items():
                weighted = score * ref.weight
                if weighted > scores.get(chunk_id, -1.0):
                    scores[chunk_id] = weighted
        if scores:
            self.best_chunk = max(scores, key=lambda c: (scores[c], -c))
        return scores


def _fuse(keyword: list[store.Hit], semantic: list[store.Hit]) -> dict[int, float]:
    """Reciprocal rank fusion of two ranked lists, scaled so first in both is 1.0."""
    fused: dict[int, float] = {}
    for hits in (keyword, semantic):
        for rank, hit in enumerate(hits, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    top = 2.0 / (RRF_K + 1)
    return {chunk_id: value / top for chunk_id, value in fused.items()}


def _merge(into: dict[int, float], more: dict[int, float]) -> None:
    for chunk_id, score in more.items():
        if score > into.get(chunk_id, -1.0):
            into[chunk_id] = score


def _multi_step(
    searcher: _Searcher, query: str, history: Sequence[str]
) -> tuple[list[str], dict[int, float], set[int]]:
    scored = searcher.run(query)
    extra: list[str] = [h[:MAX_QUERY_CHARS] for h in list(history)[-2:] if h.strip()]
    if searcher.best_chunk is not None:
        rows = store.chunk_rows(searcher.conn, [searcher.best_chunk])
        known = set(query_terms(" ".join([query, *extra])))
        extra += salient_terms(rows[searcher.best_chunk].text, known, 5)
    if not extra:
        return [query], scored, set()
    expanded = " ".join([query, *extra])
    _merge(scored, searcher.run(expanded))
    return [query, expanded], scored, set()


_SPLIT = re.compile(r"(?<=[?.!;])\s+|\s*;\s*")
_CONJUNCTION = re.compile(
    r",?\s+(?:and also|and then|as well as|also|plus)\s+|,?\s+and\s+", re.IGNORECASE
)


def sub_questions(query: str) -> list[str]:
    """The parts of a compound question (see the module docstring); at least one."""
    parts: list[str] = []
    for sentence in _SPLIT.split(query):
        pieces = _CONJUNCTION.split(sentence)
        if len(pieces) > 1 and all(len(query_terms(p)) >= 2 for p in pieces):
            parts += pieces
        elif sentence.strip():
            parts.append(sentence)
    parts = [p.strip() for p in parts if query_terms(p)]
    return parts[:MAX_SUB_QUESTIONS] or [query]


def _agentic(searcher: _Searcher, query: str) -> tuple[list[str], dict[int, float], set[int]]:
    parts = sub_questions(query)
    if len(parts) == 1:
        return [query], searcher.run(query), set()
    scored: dict[int, float] = {}
    pinned: set[int] = set()
    for part in parts:
        found = searcher.run(part)
        _merge(scored, found)
        if searcher.best_chunk is not None and found:
            pinned.add(searcher.best_chunk)
    return parts, scored, pinned


def _finish(
    conn: Connection,
    scored: dict[int, float],
    pinned: set[int],
    top_k: int,
    min_score: float | None,
) -> list[RetrievedChunk]:
    floor = min_score or 0.0
    passing = {c: s for c, s in scored.items() if s >= floor}
    ranked = sorted(passing, key=lambda c: (-passing[c], c))
    keep = [c for c in ranked if c in pinned][:top_k]
    keep += [c for c in ranked if c not in keep][: top_k - len(keep)]
    keep.sort(key=lambda c: (-passing[c], c))
    rows = store.chunk_rows(conn, keep)
    return [
        RetrievedChunk(
            rows[c].source_type,
            rows[c].source_id,
            rows[c].path,
            rows[c].ordinal,
            round(passing[c], 6),
            rows[c].text,
        )
        for c in keep
        if c in rows
    ]
