"""Keyword search over the knowledge index, in the database's own full-text engine.

An FTS5 table kept in step by triggers on SQLite (``bm25``), a generated ``tsvector``
column with a GIN index on PostgreSQL (``ts_rank``); the same engine says which query
words a chunk contains and in how many chunks of a source a word occurs (cached per
source revision), from which retrieval computes its scores.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from personas_as_code.knowledge_index.store import Hit, SourceIndex, chunks_table
from personas_as_code.knowledge_index.terms import query_terms
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import Connection

# The chunks of one source are the rowids its covering index lists (``+rowid``: a
# filter, not an FTS5 rowid lookup per entry); joining every match to its
# ``knowledge_chunks`` row cost a table seek per match (a fifth of the query's CPU).
_SQLITE_KEYWORD = text(
    "SELECT rowid, -bm25(knowledge_chunks_fts) AS r FROM knowledge_chunks_fts "
    "WHERE knowledge_chunks_fts MATCH :q AND +rowid IN (SELECT id FROM knowledge_chunks "
    "WHERE tenant_id = :t AND source_type = :st AND source_id = :sid) "
    "ORDER BY r DESC, rowid LIMIT :n"
)


# A source whose chunks are every id from its first to its last (one indexed in one go,
# as most are) is filtered by that range instead: a comparison per match, where the list
# of its ids was built again for every query (a quarter of a hybrid retrieval's CPU).
_SQLITE_KEYWORD_RANGE = text(
    "SELECT rowid, -bm25(knowledge_chunks_fts) AS r FROM knowledge_chunks_fts "
    "WHERE knowledge_chunks_fts MATCH :q AND +rowid BETWEEN :lo AND :hi "
    "ORDER BY r DESC, rowid LIMIT :n"
)

_RevisionKey = tuple[str, str, str, str, str]

_RANGE_LOCK = threading.Lock()
_RANGES: dict[_RevisionKey, tuple[int, int] | None] = {}


def _revision_key(conn: Connection, source: SourceIndex) -> _RevisionKey:
    """What a cache of a source's index is keyed by: its database, itself, its revision."""
    return (
        conn.engine.url.render_as_string(hide_password=True),
        source.tenant_id,
        source.source_type,
        source.source_id,
        source.revision,
    )


def contiguous_ids(conn: Connection, source: SourceIndex) -> tuple[int, int] | None:
    """The first and last chunk id of ``source`` when its chunks are every id between
    them, else None; cached per source revision (a write gives a new one).  A new chunk
    of any source takes an id past the largest, never one inside a range without gaps."""
    key = _revision_key(conn, source)
    with _RANGE_LOCK:
        if key in _RANGES:
            return _RANGES[key]
    c = chunks_table.c
    first, last, count = conn.execute(
        select(func.min(c.id), func.max(c.id), func.count()).where(
            c.tenant_id == source.tenant_id,
            c.source_type == source.source_type,
            c.source_id == source.source_id,
        )
    ).one()
    found = (int(first), int(last)) if count and last - first + 1 == count else None
    with _RANGE_LOCK:
        if len(_RANGES) >= _DF_CACHE_SOURCES:
            _RANGES.pop(next(iter(_RANGES)))
        _RANGES[key] = found
    return found


def keyword_search(
    conn: Connection,
    tenant_id: str,
    source_type: str,
    source_id: str,
    query: str,
    limit: int,
    *,
    source: SourceIndex | None = None,
) -> list[Hit]:
    """Chunks matching any content word of ``query``, best first by the engine's own rank.

    ``raw`` is the engine's rank (SQLite ``bm25``, PostgreSQL ``ts_rank``): only its
    order means anything, and only within one query.  PostgreSQL ranks with
    ``ts_rank`` rather than ``ts_rank_cd``: the cover-density rank reads every
    matching chunk's positions and cost four times as much on broad queries.
    ``source``: the indexed source's record, which lets SQLite filter by its chunks'
    id range (``contiguous_ids``)."""
    terms = query_terms(query)
    if not terms:
        return []
    params = {"t": tenant_id, "st": source_type, "sid": source_id, "n": limit}
    if conn.dialect.name == "postgresql":
        sql = text(
            "SELECT c.id, ts_rank(c.tsv, q) AS r "
            "FROM knowledge_chunks c, to_tsquery('english', :q) q "
            "WHERE c.tenant_id = :t AND c.source_type = :st AND c.source_id = :sid "
            "AND c.tsv @@ q ORDER BY r DESC, c.id LIMIT :n"
        )
        params["q"] = " | ".join(terms)
    else:
        ids = contiguous_ids(conn, source) if source is not None else None
        sql = _SQLITE_KEYWORD if ids is None else _SQLITE_KEYWORD_RANGE
        if ids is not None:
            params = {"lo": ids[0], "hi": ids[1], "n": limit}
        params["q"] = " OR ".join(f'"{term}"' for term in terms)
    return [Hit(int(row[0]), float(row[1])) for row in conn.execute(sql, params)]


def matched_terms(
    conn: Connection, chunk_ids: Sequence[int], terms: Sequence[str]
) -> dict[int, set[str]]:
    """``chunk id -> the terms it contains``, as the full-text engine matches them
    (stemmed: "payslips" matches "payslip"); chunks matching none are absent."""
    if not chunk_ids or not terms:
        return {}
    params: dict[str, object] = {f"q{i}": term for i, term in enumerate(terms)}
    if conn.dialect.name == "postgresql":
        each = " UNION ALL ".join(
            f"SELECT c.id, {i} FROM knowledge_chunks c WHERE c.id IN :ids "
            f"AND c.tsv @@ plainto_tsquery('english', :q{i})"
            for i in range(len(terms))
        )
    else:
        params = {name: f'"{term}"' for name, term in params.items()}
        each = " UNION ALL ".join(
            f"SELECT rowid, {i} FROM knowledge_chunks_fts "
            f"WHERE knowledge_chunks_fts MATCH :q{i} AND +rowid IN :ids"
            for i in range(len(terms))
        )
    params["ids"] = [int(c) for c in chunk_ids]
    found: dict[int, set[str]] = {}
    for chunk_id, term in conn.execute(
        text(each).bindparams(bindparam("ids", expanding=True)), params
    ):
        found.setdefault(int(chunk_id), set()).add(terms[int(term)])
    return found


_DF_LOCK = threading.Lock()
_DF: dict[_RevisionKey, dict[str, int]] = {}
_DF_CACHE_SOURCES = 256
_DF_CACHE_TERMS = 20_000


def term_chunk_counts(
    conn: Connection, source: SourceIndex, terms: Sequence[str]
) -> dict[str, int]:
    """``term -> how many chunks of the source contain it`` (as the engine matches it),
    and ``"" -> how many chunks the source has``; cached until its revision changes."""
    key = _revision_key(conn, source)
    with _DF_LOCK:
        known = dict(_DF.get(key, {}))
    if "" not in known:
        c = chunks_table.c
        known[""] = conn.execute(
            select(func.count()).where(
                c.tenant_id == source.tenant_id,
                c.source_type == source.source_type,
                c.source_id == source.source_id,
            )
        ).scalar_one()
    missing = [t for t in dict.fromkeys(terms) if t and t not in known]
    if missing:
        params: dict[str, object] = {f"q{i}": t for i, t in enumerate(missing)}
        params.update(t=source.tenant_id, st=source.source_type, sid=source.source_id)
        if conn.dialect.name == "postgresql":
            each = " UNION ALL ".join(
                f"SELECT {i}, count(*) FROM knowledge_chunks WHERE tenant_id = :t "
                "AND source_type = :st AND source_id = :sid "
                f"AND tsv @@ plainto_tsquery('english', :q{i})"
                for i in range(len(missing))
            )
        else:
            params = {name: (f'"{v}"' if name.startswith("q") else v) for name, v in params.items()}
            each = " UNION ALL ".join(
                f"SELECT {i}, count(*) FROM knowledge_chunks_fts "
                "CROSS JOIN knowledge_chunks c ON c.id = knowledge_chunks_fts.rowid "
                f"WHERE knowledge_chunks_fts MATCH :q{i} AND c.tenant_id = :t "
                "AND c.source_type = :st AND c.source_id = :sid"
                for i in range(len(missing))
            )
        found = {missing[int(i)]: int(n) for i, n in conn.execute(text(each), params)}
        known.update({t: found.get(t, 0) for t in missing})
        with _DF_LOCK:
            if len(_DF) >= _DF_CACHE_SOURCES:
                _DF.pop(next(iter(_DF)))
            cached = _DF.setdefault(key, {})
            if len(cached) < _DF_CACHE_TERMS:
                cached.update(known)
    return {t: known[t] for t in ["", *terms]}


def clear_term_counts() -> None:
    """Forget the cached word counts and chunk id ranges."""
    with _DF_LOCK:
        _DF.clear()
    with _RANGE_LOCK:
        _RANGES.clear()
