"""The content store: chunks and vectors by (content hash, settings), shared by every
tree and by the catalogue's indexer; counted at a real embeddings server on loopback, on
real SQLite files (and the catalogue on SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from personas_as_code.knowledge_index import store
from personas_as_code.knowledge_index.chunking import ChunkSettings
from personas_as_code.knowledge_index.content_store import ContentStore, knowledge_folder
from personas_as_code.knowledge_index.embeddings import OpenAIEmbedder, WordLlamaEmbedder
from personas_as_code.knowledge_index.indexer import Document, SourceDocuments, index_sources
from personas_as_code.schemas.errors import WriteRefused
from sqlalchemy import Engine

from tests.knowledge_index.conftest import TENANT, EmbeddingServer

REPO = "acme/personas"


def _doc(path: str, text: str) -> Document:
    return Document(path, text, hashlib.sha256(text.encode()).hexdigest())


@pytest.fixture
def embedder(embedding_server: EmbeddingServer) -> OpenAIEmbedder:
    return OpenAIEmbedder(embedding_server.url, "hashed-bow")


@pytest.fixture
def content(tmp_path: Path) -> ContentStore:
    return ContentStore.for_repo(tmp_path)


def test_a_changed_document_is_the_only_one_embedded_again(
    content: ContentStore,
    handbook: SourceDocuments,
    embedder: OpenAIEmbedder,
    embedding_server: EmbeddingServer,
) -> None:
    first = content.chunks_for(handbook.documents, handbook.chunking, embedder)
    assert all(c.embedded for c in first) and (content.hits, content.misses) == (0, 12)
    assert embedding_server.requests == 1  # every miss in one batch
    assert embedding_server.inputs == sum(len(c.chunks) for c in first)

    edited = [
        _doc(d.path, "# Canteen\n\nClosed on Fridays.") if d.path.endswith("lunch.md") else d
        for d in handbook.documents
    ]
    inputs = embedding_server.inputs
    again = content.chunks_for(edited, handbook.chunking, embedder)
    assert [c.embedded for c in again] == [d.path.endswith("lunch.md") for d in edited]
    assert (content.hits, content.misses) == (11, 13)
    assert embedding_server.inputs - inputs == 1  # the one chunk of the edited document
    for before, after, document in zip(first, again, edited, strict=True):
        if not document.path.endswith("lunch.md"):  # the same chunks and the same vectors
            assert after.chunks == before.chunks
            assert np.array_equal(after.vectors, before.vectors)

    # another process (another store object on the same file) finds them all
    other = ContentStore(content.path)
    requests = embedding_server.requests
    assert not any(c.embedded for c in other.chunks_for(edited, handbook.chunking, embedder))
    assert embedding_server.requests == requests and other.count() == 13


def test_other_settings_are_other_entries(
    content: ContentStore, handbook: SourceDocuments, embedder: OpenAIEmbedder
) -> None:
    content.chunks_for(handbook.documents, handbook.chunking, embedder)
    smaller = dataclasses.replace(handbook.chunking, max_chars=100, overlap_chars=20)
    made = content.chunks_for(handbook.documents, smaller, embedder)
    assert all(c.embedded for c in made) and content.count() == 24


def test_duplicate_content_is_embedded_once(
    content: ContentStore, embedder: OpenAIEmbedder, embedding_server: EmbeddingServer
) -> None:
    text = "# Parking\n\nThe garage opens at seven."
    made = content.chunks_for(
        [_doc("a/one.md", text), _doc("b/two.md", text)], ChunkSettings(), embedder
    )
    assert [c.embedded for c in made] == [True, False] and embedding_server.inputs == 1
    assert made[0].chunks == made[1].chunks


def test_a_damaged_row_is_a_miss_and_is_replaced(
    content: ContentStore, handbook: SourceDocuments, embedder: OpenAIEmbedder
) -> None:
    first = content.chunks_for(handbook.documents[:1], handbook.chunking, embedder)
    with sqlite3.connect(content.path) as conn:
        conn.execute("UPDATE chunked SET vectors = x'00'")
    again = content.chunks_for(handbook.documents[:1], handbook.chunking, embedder)
    assert again[0].embedded and np.array_equal(again[0].vectors, first[0].vectors)
    third = content.chunks_for(handbook.documents[:1], handbook.chunking, embedder)
    assert not third[0].embedded


def test_apply_after_a_test_run_embeds_nothing(
    engine: Engine,
    content: ContentStore,
    handbook: SourceDocuments,
    embedder: OpenAIEmbedder,
    embedding_server: EmbeddingServer,
) -> None:
    """The catalogue's indexer (SQLite and PostgreSQL) takes its chunks from the store a
    test run filled, and the chunks it indexes are the store's."""
    made = content.chunks_for(handbook.documents, handbook.chunking, embedder)  # a test run
    requests = embedding_server.requests
    stats = index_sources(engine, TENANT, REPO, [handbook], embedder, content)
    assert (stats.documents_embedded, stats.documents_from_store) == (0, 12)
    assert embedding_server.requests == requests
    with engine.connect() as conn:
        assert store.count_chunks(conn, TENANT) == sum(len(c.chunks) for c in made)


def test_a_test_run_after_apply_embeds_nothing(
    engine: Engine, tmp_path: Path, handbook: SourceDocuments
) -> None:
    """Apply fills the store with what it embeds (the offline embedder, counted)."""
    content = ContentStore.for_repo(tmp_path)
    embedder = WordLlamaEmbedder()
    stats = index_sources(engine, TENANT, REPO, [handbook], embedder, content)
    assert stats.documents_embedded == 12 and content.count() == 12
    before = embedder.requests
    made = content.chunks_for(handbook.documents, handbook.chunking, embedder)
    assert not any(c.embedded for c in made) and embedder.requests == before


def test_a_symlinked_personas_folder_is_refused(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    os.symlink(outside, repo / ".personas")
    with pytest.raises(WriteRefused, match=re.escape("'.personas' is a symlink")):
        ContentStore.for_repo(repo)
    assert list(outside.iterdir()) == []  # nothing was written through the link

    os.unlink(repo / ".personas")
    (repo / ".personas").mkdir()
    os.symlink(outside, repo / ".personas" / "knowledge")
    with pytest.raises(WriteRefused, match=re.escape("'.personas/knowledge' is a symlink")):
        knowledge_folder(repo)
    os.unlink(repo / ".personas" / "knowledge")
    (repo / ".personas" / "knowledge").mkdir()
    os.symlink(outside / "chunks.db", repo / ".personas" / "knowledge" / "chunks.db")
    with pytest.raises(WriteRefused, match=re.escape("chunks.db' is a symlink")):
        ContentStore.for_repo(repo)
    assert list(outside.iterdir()) == []
