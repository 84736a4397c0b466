"""Issue 21: the SQLite keyword query filters a source's chunks through its covering
index instead of joining every match to its row; its hits (ids, ranks and order) are
those of the join it replaced, over a corpus of several tenants and sources."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from personas_as_code.knowledge_index import fulltext, store
from personas_as_code.knowledge_index.embeddings import WordLlamaEmbedder
from personas_as_code.knowledge_index.indexer import Document, SourceDocuments, index_sources
from personas_as_code.knowledge_index.terms import query_terms
from sqlalchemy import Engine, create_engine, text

WORDS = [
    "refund",
    "invoice",
    "payslip",
    "tax",
    "annual",
    "plan",
    "password",
    "reset",
    "account",
    "locked",
    "billing",
    "address",
    "change",
    "holiday",
    "leave",
    "manager",
    "approval",
    "expense",
    "receipt",
    "travel",
    "laptop",
    "security",
    "badge",
    "office",
    "parking",
    "pension",
    "salary",
    "bonus",
    "contract",
    "notice",
    "period",
    "training",
    "course",
]

# the query the keyword search ran before issue 21 (a join of every match to its row)
JOINED = text(
    "SELECT c.id, -bm25(knowledge_chunks_fts) AS r "
    "FROM knowledge_chunks_fts CROSS JOIN knowledge_chunks c "
    "ON c.id = knowledge_chunks_fts.rowid "
    "WHERE knowledge_chunks_fts MATCH :q AND c.tenant_id = :t "
    "AND c.source_type = :st AND c.source_id = :sid ORDER BY r DESC, c.id LIMIT :n"
)


def _source(rng: random.Random, source_id: str, docs: int) -> SourceDocuments:
    found = []
    for n in range(docs):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
        found.append(Document(f"knowledge/{source_id}/d{n}.md", body, f"{source_id}{n:060d}"))
    return SourceDocuments("collection", source_id, found, name=source_id)


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Engine]:
    """SQLite only: the FTS5 query is SQLite's (PostgreSQL's is unchanged)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'knowledge.db'}")
    rng = random.Random(21)
    embedder = WordLlamaEmbedder()
    for tenant in ("ten_a", "ten_b"):
        sources = [_source(rng, f"col_{tenant}_{k}", 25) for k in range(3)]
        index_sources(engine, tenant, "acme/personas", sources, embedder)
    # one document of one source changed: its new chunks come after every other source's,
    # so that source's ids are no longer one range (the keyword query's other filter)
    changed = sources[1]
    first = changed.documents[0]
    changed.documents[0] = Document(first.path, first.text + " refund refund", "changed" * 8)
    index_sources(engine, "ten_b", "acme/personas", sources, embedder)
    yield engine
    engine.dispose()


def test_the_keyword_query_finds_what_the_join_found(corpus: Engine) -> None:
    rng = random.Random(7)
    queries = [" ".join(rng.sample(WORDS, rng.randint(1, 4))) for _ in range(60)]
    queries += ["nothing matches zzz", "refund", "refund refund invoice"]
    compared = 0
    ranges: list[tuple[int, int] | None] = []
    with corpus.connect() as conn:
        for tenant in ("ten_a", "ten_b"):
            for k in range(3):
                source_id = f"col_{tenant}_{k}"
                source = store.get_source(conn, tenant, "collection", source_id)
                assert source is not None
                ranges.append(fulltext.contiguous_ids(conn, source))
                for query in queries:
                    for limit in (1, 20, 200):
                        hits = fulltext.keyword_search(
                            conn, tenant, "collection", source_id, query, limit
                        )
                        by_range = fulltext.keyword_search(
                            conn, tenant, "collection", source_id, query, limit, source=source
                        )
                        assert by_range == hits, (source_id, query)
                        terms = query_terms(query)
                        params = {
                            "q": " OR ".join(f'"{term}"' for term in terms),
                            "t": tenant,
                            "st": "collection",
                            "sid": source_id,
                            "n": limit,
                        }
                        old = [(int(i), float(r)) for i, r in conn.execute(JOINED, params)]
                        assert [(h.chunk_id, h.raw) for h in hits] == old, (source_id, query)
                        compared += bool(old)
        # another tenant's source of the same name is not searched
        assert (
            fulltext.keyword_search(conn, "ten_b", "collection", "col_ten_a_0", "refund", 9) == []
        )
    assert compared > 300
    # both filters were compared: sources whose ids are one range, and the changed one
    assert ranges.count(None) == 1 and len(ranges) == 6
