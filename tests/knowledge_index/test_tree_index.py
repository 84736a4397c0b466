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
    embedder = WordLlamaEmbedder()
    catalogue = create_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
    index_sources(catalogue, "acme", REPO, [handbook], embedder, content)
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
