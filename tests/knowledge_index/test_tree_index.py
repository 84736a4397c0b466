"""Tree indexes: one tree's knowledge in a SQLite file named by its fingerprint, built
from the shared content store, reused, evicted, and searched exactly as the catalogue's
index is (the same ``retrieve``, the same chunks and scores)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from personas_as_code.knowledge_index.content_store import ContentStore
from personas_as_code.knowledge_index.embeddings import WordLlamaEmbedder
from personas_as_code.knowledge_index.indexer import Document, SourceDocuments, index_sources
from personas_as_code.knowledge_index.retrieval import SourceRef, retrieve
from personas_as_code.knowledge_index.tree_index import (
    MAX_TREES,
    TREE_TENANT,
    close_tree_indexes,
    open_tree_index,
    tree_fingerprint,
)
from sqlalchemy import create_engine

REPO = "acme/personas"
REF = SourceRef("collection", "col_handbook")


def _doc(path: str, text: str) -> Document:
    return Document(path, text, hashlib.sha256(text.encode()).hexdigest())


@pytest.fixture(autouse=True)
def _fresh_process() -> Iterator[None]:
    close_tree_indexes()
    yield
    close_tree_indexes()


@pytest.fixture
def content(tmp_path: Path) -> ContentStore:
    return ContentStore.for_repo(tmp_path)


def test_a_tree_index_answers_exactly_as_the_catalogue_index(
    tmp_path: Path,
    content: ContentStore,
    handbook: SourceDocuments,
    questions: list[tuple[str, str]],
) -> None:
    """Same tables, same ``retrieve``: the same chunks, scores and order.  (Exact ties
    rank by chunk id; a tree's ids depend only on each chunk's place, so the catalogue
    here is indexed with those ids too.)"""
    embedder = WordLlamaEmbedder()
    catalogue = create_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
    index_sources(catalogue, "acme", REPO, [handbook], embedder, content, stable_ids=True)
    tree = open_tree_index(content.path.parent, REPO, [handbook], embedder, content)
    assert (tree.built_now, tree.embedded_now, tree.documents) == (True, 0, 12)
    for search_type in ("hybrid", "keyword", "semantic"):
        ref = dataclasses.replace(REF, search_type=search_type)
        for question, _ in questions:
            for strategy in ("single_step", "multi_step", "agentic"):
                options = {"top_k": 3, "strategy": strategy}
                want = retrieve(catalogue, "acme", [ref], question, **options)
                got = retrieve(tree.engine, TREE_TENANT, [ref], question, **options)
                assert got == want, (search_type, question, strategy)
    catalogue.dispose()


def test_a_built_tree_is_reused_by_the_next_process(
    content: ContentStore, handbook: SourceDocuments
) -> None:
    embedder = WordLlamaEmbedder()
    first = open_tree_index(content.path.parent, REPO, [handbook], embedder, content)
    assert first.built_now and first.embedded_now == 12 and first.chunks >= 12
    assert first.path == content.path.parent / "trees" / f"{first.fingerprint}.db"
    same = open_tree_index(content.path.parent, REPO, [handbook], embedder, content)
    assert same.engine is first.engine and not same.built_now  # this process: kept open

    close_tree_indexes()  # as a new process would
    requests, mtime = embedder.requests, first.path.stat().st_mtime_ns
    again = open_tree_index(content.path.parent, REPO, [handbook], embedder, content)
    assert (again.built_now, again.embedded_now, again.chunks) == (False, 0, first.chunks)
    assert embedder.requests == requests and again.path.stat().st_mtime_ns >= mtime
    found = retrieve(again.engine, TREE_TENANT, [REF], "How do I get a parking permit?", top_k=3)
    assert "knowledge/col_handbook/parking.md" in [c.document for c in found.chunks]

    # one changed document: another tree, and only that document is embedded
    edited = dataclasses.replace(
        handbook,
        documents=[
            _doc(d.path, "# Parking\n\nPark on level 3.") if d.path.endswith("parking.md") else d
            for d in handbook.documents
        ],
    )
    other = open_tree_index(content.path.parent, REPO, [edited], embedder, content)
    assert other.fingerprint != first.fingerprint
    assert (other.built_now, other.embedded_now) == (True, 1)
    assert first.path.exists()  # the earlier tree is kept (a baseline may want it)


def test_the_fingerprint_names_what_decides_the_chunks(handbook: SourceDocuments) -> None:
    identity = WordLlamaEmbedder().identity
    base = tree_fingerprint([handbook], identity)
    assert tree_fingerprint([handbook], dict(reversed(identity.items()))) == base
    renamed = dataclasses.replace(handbook, name="Another name")  # retrieval never reads it
    assert tree_fingerprint([renamed], identity) == base
    assert tree_fingerprint([handbook], {**identity, "model": "other"}) != base
    chunking = dataclasses.replace(handbook.chunking, max_chars=300)
    smaller = dataclasses.replace(handbook, chunking=chunking)
    assert tree_fingerprint([smaller], identity) != base
    shared = dataclasses.replace(handbook, source_type="scaidrive")
    assert tree_fingerprint([handbook, shared], identity) == tree_fingerprint(
        [shared, handbook], identity
    )


def test_only_the_most_recently_used_trees_are_kept(content: ContentStore) -> None:
    embedder = WordLlamaEmbedder()
    opened = []
    for n in range(MAX_TREES + 3):
        source = SourceDocuments(
            "collection", "col_x", [_doc("knowledge/col_x/a.md", f"# Page {n}\n\nText {n}.")]
        )
        opened.append(open_tree_index(content.path.parent, REPO, [source], embedder, content))
    trees = content.path.parent / "trees"
    kept = sorted(p.name for p in trees.iterdir())
    assert len(kept) == MAX_TREES
    assert kept == sorted(t.path.name for t in opened[-MAX_TREES:])


def test_a_damaged_tree_file_is_built_again(
    content: ContentStore, handbook: SourceDocuments
) -> None:
    embedder = WordLlamaEmbedder()
    first = open_tree_index(content.path.parent, REPO, [handbook], embedder, content)
    close_tree_indexes()
    first.path.write_bytes(b"not a database, the disk was full")
    again = open_tree_index(content.path.parent, REPO, [handbook], embedder, content)
    assert (again.built_now, again.embedded_now, again.chunks) == (True, 0, first.chunks)


def _all_chunks(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT c.id, d.path, c.ordinal, c.text, c.embedding FROM knowledge_chunks c "
            "JOIN knowledge_documents d ON d.id = c.document_id ORDER BY c.id"
        )
        return [tuple(r) for r in rows]


def test_a_tree_built_from_another_writes_only_what_differs_and_equals_a_fresh_build(
    tmp_path: Path,
    content: ContentStore,
    handbook: SourceDocuments,
    questions: list[tuple[str, str]],
) -> None:
    """A baseline that differs in a few documents starts from the working tree's index
    and writes only those; its chunks (ids included, so ties rank alike) and its answers
    are the same as a tree built from nothing, in a folder that never saw the first."""
    embedder = WordLlamaEmbedder()
    first = open_tree_index(content.path.parent, REPO, [handbook], embedder, content)
    docs = list(handbook.documents)
    docs[0] = _doc(docs[0].path, docs[0].text + "\nParking permits now cost 14 euros.\n")
    del docs[1]
    docs.append(_doc("knowledge/col_handbook/new.md", "# New\n\nBadges are blue from May.\n"))
    changed = dataclasses.replace(handbook, documents=tuple(docs))
    second = open_tree_index(content.path.parent, REPO, [changed], embedder, content)
    assert (second.built_now, second.written_now, second.embedded_now) == (True, 2, 2)
    assert first.written_now == 12
    (tmp_path / "fresh-clone").mkdir()
    elsewhere = ContentStore.for_repo(tmp_path / "fresh-clone")
    fresh = open_tree_index(elsewhere.path.parent, REPO, [changed], embedder, elsewhere)
    assert fresh.written_now == fresh.documents == 12
    assert _all_chunks(second.engine) == _all_chunks(fresh.engine)
    for question, _ in questions:
        a = retrieve(second.engine, TREE_TENANT, [REF], question, top_k=5)
        b = retrieve(fresh.engine, TREE_TENANT, [REF], question, top_k=5)
        assert a == b


def test_a_tree_of_another_repo_is_never_a_base(
    tmp_path: Path, content: ContentStore, handbook: SourceDocuments
) -> None:
    embedder = WordLlamaEmbedder()
    open_tree_index(content.path.parent, "other/repo", [handbook], embedder, content)
    docs = handbook.documents[1:]
    mine = dataclasses.replace(handbook, documents=docs)
    mine = open_tree_index(content.path.parent, REPO, [mine], embedder, content)
    assert mine.written_now == 11  # built from nothing: the other repo's sources stay out
    with mine.engine.connect() as conn:
        owners = conn.exec_driver_sql("SELECT DISTINCT repo_id FROM knowledge_sources").all()
    assert owners == [(REPO,)]
