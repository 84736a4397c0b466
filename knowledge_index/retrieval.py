"""A persona's retrieval over the knowledge index.

``retrieve`` searches every active source of a persona and returns the best chunks
with their provenance.  Every score is absolute -- it says how well the chunk matches
the query, whatever else was found -- and lies in 0..1 before weighting, so scores
compare across sources and search types and ``min_score`` means the same everywhere.
Per source, ``search_type`` picks the search:

* ``semantic``: the cosine similarity between the query's embedding (made by the same
  embedder the index was built with) and the chunk's, clipped to 0..1.  With the
  offline wordllama model a chunk that answers the question typically scores
  0.45-0.8 and an unrelated one below 0.3.
* ``keyword``: the database's full-text engine (SQLite FTS5, PostgreSQL ``tsvector``;
  stemmed, so "payslips" matches "payslip") finds the chunks containing any content
  word of the query and ranks them (``bm25`` / ``ts_rank``) to pick the candidates.
  The score is the share of the query's content words the chunk contains, each word
  weighted by its rarity in the source (``idf = ln(1 + (N - n + 0.5) / (n + 0.5))``,
  ``N`` chunks, ``n`` of them containing the word): 1.0 when it contains every word,
  0.5 when it contains words worth half the query.  Chunks are ordered by score, the
  engine's rank breaking ties.
* ``hybrid`` (the default): the two candidate lists are fused by reciprocal rank
  fusion (``1/(60 + rank)`` summed over both lists) and the fused order is the order
  within the source.  The score is the mean of the chunk's own semantic and keyword
  scores (each computed for every candidate, 0 when the chunk has none of the words),
  smoothed to be non-increasing along the fused order (neighbours out of order share
  their mean); so a chunk first in both lists but matching poorly still scores low.

The source's ``weight`` multiplies the score (so a weighted score may exceed 1);
``min_score`` drops chunks whose weighted score is below it; ``top_k`` is taken across
all sources, best weighted score first.  Disabled sources and sources without an
index are skipped (``Retrieval.note`` says which had no index).

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

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from personas_as_code.knowledge_index import fulltext, store, vectors
from personas_as_code.knowledge_index.embeddings import embedder_for_identity, identity_key
from personas_as_code.knowledge_index.terms import query_terms, salient_terms, words
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

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


def clear_caches() -> None:
    """Forget the cached vectors and word counts (benches measure cold queries with it)."""
    fulltext.clear_term_counts()
    vectors.clear_vectors()


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


Scored = dict[int, tuple[float, int]]
"""``chunk id -> (weighted score, rank within its source)``; higher score wins, then
lower rank (so ties keep each search's own order)."""


def _better(a: tuple[float, int], b: tuple[float, int] | None) -> bool:
    return b is None or a[0] > b[0] or (a[0] == b[0] and a[1] < b[1])


class _Searcher:
    """Runs one query over the indexed sources; returns the chunks' weighted scores."""

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
        self._embedded: dict[str, np.ndarray] = {}

    def _query_vector(self, query: str, index: store.SourceIndex) -> np.ndarray:
        key = identity_key(index.embedder) + "\0" + query
        if key not in self._embedded:
            self._embedded[key] = embedder_for_identity(index.embedder).embed([query])[0]
        return self._embedded[key]

    def run(self, query: str, scoring: str | None = None) -> Scored:
        """Search with ``query``; score (and order) what it finds as answers to
        ``scoring`` (default: the query itself)."""
        self._embedded = {}
        scores: Scored = {}
        for ref, index in self.sources:
            found = self._source(ref, index, query, scoring or query)
            for rank, (chunk_id, score) in enumerate(found):
                weighted = (score * ref.weight, rank)
                if _better(weighted, scores.get(chunk_id)):
                    scores[chunk_id] = weighted
        self.best_chunk = _best(scores)
        return scores

    def _source(
        self, ref: SourceRef, index: store.SourceIndex, query: str, scoring: str
    ) -> list[tuple[int, float]]:
        """One source's chunks found by ``query``, in the search's order, with their
        0..1 scores against ``scoring``."""
        terms = query_terms(scoring)
        keyword: list[int] = []
        if ref.search_type != "semantic":
            hits = fulltext.keyword_search(
                self.conn,
                self.tenant_id,
                ref.source_type,
                ref.source_id,
                query,
                self.depth,
                source=index,
            )
            keyword = [h.chunk_id for h in hits]
        if ref.search_type == "keyword":
            coverage = _coverage(self.conn, index, keyword, terms)
            # the engine's order breaks ties between chunks covering as much of the query
            ordered = sorted(keyword, key=lambda c: -coverage.get(c, 0.0))
            return [(c, coverage.get(c, 0.0)) for c in ordered]
        found = vectors.SemanticScores(self.conn, index, self._query_vector(query, index))
        nearest = [h.chunk_id for h in found.best(self.depth)]
        semantic = found
        if scoring != query:
            semantic = vectors.SemanticScores(self.conn, index, self._query_vector(scoring, index))
        cosine = semantic.of([*keyword, *nearest])
        nearest.sort(key=lambda c: -cosine.get(c, 0.0))
        if ref.search_type == "semantic":
            return [(c, _clip(cosine.get(c, 0.0))) for c in nearest]
        coverage = _coverage(self.conn, index, list(dict.fromkeys([*keyword, *nearest])), terms)
        keyword.sort(key=lambda c: -coverage.get(c, 0.0))
        fused = _fuse(keyword, nearest)
        blend = [(_clip(cosine.get(c, 0.0)) + coverage.get(c, 0.0)) / 2 for c in fused]
        return list(zip(fused, _non_increasing(blend), strict=True))


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _coverage(
    conn: Connection, index: store.SourceIndex, chunk_ids: list[int], terms: list[str]
) -> dict[int, float]:
    """The IDF-weighted share of the query's content words each chunk contains (0..1)."""
    if not terms or not chunk_ids:
        return {}
    counts = fulltext.term_chunk_counts(conn, index, terms)
    size = counts.pop("")
    idf = {t: math.log(1 + (size - n + 0.5) / (n + 0.5)) for t, n in counts.items()}
    total = sum(idf.values())
    matched = fulltext.matched_terms(conn, chunk_ids, terms)
    return {c: sum(idf[t] for t in ts) / total for c, ts in matched.items()}


def _fuse(keyword: list[int], semantic: list[int]) -> list[int]:
    """Reciprocal rank fusion of two ranked lists: ``1/(60 + rank)`` summed, best first."""
    fused: dict[int, float] = {}
    for ranked in (keyword, semantic):
        for rank, chunk_id in enumerate(ranked, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused, key=lambda c: (-fused[c], c))


def _non_increasing(values: list[float]) -> list[float]:
    """The non-increasing sequence closest to ``values`` (least squares: neighbours out
    of order share their mean -- isotonic regression by pooling adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for value in values:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            mean, count = blocks.pop()
            total = blocks[-1][1] + count
            blocks[-1][0] = (blocks[-1][0] * blocks[-1][1] + mean * count) / total
            blocks[-1][1] = total
    return [mean for mean, count in blocks for _ in range(int(count))]


def _best(scores: Scored) -> int | None:
    best: int | None = None
    for chunk_id, value in scores.items():
        if (
            best is None
            or _better(value, scores[best])
            or (value == scores[best] and chunk_id < best)
        ):
            best = chunk_id
    return best


def _merge(into: Scored, more: Scored) -> None:
    for chunk_id, value in more.items():
        if _better(value, into.get(chunk_id)):
            into[chunk_id] = value


def _multi_step(
    searcher: _Searcher, query: str, history: Sequence[str]
) -> tuple[list[str], Scored, set[int]]:
    scored = searcher.run(query)
    history_used = [h[:MAX_QUERY_CHARS] for h in list(history)[-2:] if h.strip()]
    extra: list[str] = list(history_used)
    if searcher.best_chunk is not None:
        rows = store.chunk_rows(searcher.conn, [searcher.best_chunk])
        known = set(query_terms(" ".join([query, *extra])))
        extra += salient_terms(rows[searcher.best_chunk].text, known, 5)
    if not extra:
        return [query], scored, set()
    expanded = " ".join([query, *extra])
    # the expansion finds candidates; they are scored as answers to the user's own
    # words (the query and the history): the first pass's best chunk would otherwise
    # match its own words and score high however poorly it answers
    _merge(scored, searcher.run(expanded, scoring=" ".join([query, *history_used])))
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


def _agentic(searcher: _Searcher, query: str) -> tuple[list[str], Scored, set[int]]:
    parts = sub_questions(query)
    if len(parts) == 1:
        return [query], searcher.run(query), set()
    scored: Scored = {}
    pinned: set[int] = set()
    for part in parts:
        found = searcher.run(part)
        _merge(scored, found)
        if searcher.best_chunk is not None and found:
            pinned.add(searcher.best_chunk)
    return parts, scored, pinned


def _finish(
    conn: Connection,
    scored: Scored,
    pinned: set[int],
    top_k: int,
    min_score: float | None,
) -> list[RetrievedChunk]:
    floor = min_score or 0.0
    passing = {c: v for c, v in scored.items() if v[0] >= floor}

    def order(c: int) -> tuple[float, int, int]:
        return (-passing[c][0], passing[c][1], c)

    ranked = sorted(passing, key=order)
    keep = [c for c in ranked if c in pinned][:top_k]
    keep += [c for c in ranked if c not in keep][: top_k - len(keep)]
    keep.sort(key=order)
    rows = store.chunk_rows(conn, keep)
    return [
        RetrievedChunk(
            rows[c].source_type,
            rows[c].source_id,
            rows[c].path,
            rows[c].ordinal,
            round(passing[c][0], 6),
            rows[c].text,
        )
        for c in keep
        if c in rows
    ]
