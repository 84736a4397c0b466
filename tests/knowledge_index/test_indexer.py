"""Incremental indexing: content hashes decide what is embedded; counted at a real
OpenAI-compatible server on loopback, on real SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from personas_as_code.knowledge_index import store
from personas_as_code.knowledge_index.embeddings import (
    EmbeddingError,
    OpenAIEmbedder,
    WordLlamaEmbedder,
)
from personas_as_code.knowledge_index.indexer import (
    Document,
    SourceDocuments,
    diff_sources,
    index_sources,
)
from personas_as_code.knowledge_index.retrieval import SourceRef, retrieve
from sqlalchemy import Engine, func, inspect, select

from tests.knowledge_index.conftest import TENANT, EmbeddingServer

REPO = "acme/personas"
KEY_ENV = "TEST_EMBEDDINGS_KEY"


def _doc(path: str, text: str) -> Document:
    return Document(path, text, hashlib.sha256(text.encode()).hexdigest())


def _edit(source: SourceDocuments, path: str, text: str) -> SourceDocuments:
    docs = [(_doc(d.path, text) if d.path == path else d) for d in source.documents]
    return dataclasses.replace(source, documents=docs)


@pytest.fixture(autouse=True)
def _key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retrieval in this process rebuilds the embedder from the index: it reads the key."""
    monkeypatch.setenv(KEY_ENV, "sk-test-secret-value")


@pytest.fixture
def embedder(embedding_server: EmbeddingServer) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        embedding_server.url,
        "hashed-bow",
        api_key_env=KEY_ENV,
        env={KEY_ENV: "sk-test-secret-value"},
    )


def test_unchanged_documents_are_never_re_embedded(
    engine: Engine,
    handbook: SourceDocuments,
    embedder: OpenAIEmbedder,
    embedding_server: EmbeddingServer,
) -> None:
    first = index_sources(engine, TENANT, REPO, [handbook], embedder)
    assert first.documents_embedded == 12 and embedding_server.inputs == first.chunks_embedded
    assert embedding_server.requests == first.embedding_requests == 1

    again = index_sources(engine, TENANT, REPO, [handbook], embedder)
    assert (again.documents_embedded, again.embedding_requests) == (0, 0)
    assert embedding_server.requests == 1  # nothing new reached the server

    edited = _edit(handbook, "knowledge/col_handbook/lunch.md", "# Canteen\n\nClosed on Fridays.")
    edited = dataclasses.replace(
        edited,
        documents=[
            *[d for d in edited.documents if not d.path.endswith("parking.md")],
            _doc("knowledge/col_handbook/new.md", "# New\n\nA brand new page about kayaks."),
        ],
    )
    inputs_before = embedding_server.inputs
    stats = index_sources(engine, TENANT, REPO, [edited], embedder)
    assert stats.documents_embedded == 2  # the edited one and the new one, nothing else
    assert embedding_server.inputs - inputs_before == stats.chunks_embedded == 2
    assert stats.documents_deleted == 2  # the old lunch.md and parking.md
    with engine.connect() as conn:
        paths = set(store.document_hashes(conn, TENANT, "collection", "col_handbook"))
    assert "knowledge/col_handbook/parking.md" not in paths
    assert "knowledge/col_handbook/new.md" in paths and len(paths) == 12
    found = retrieve(engine, TENANT, [SourceRef("collection", "col_handbook")], "kayaks")
    assert found.chunks[0].document == "knowledge/col_handbook/new.md"
    gone = retrieve(
        engine, TENANT, [SourceRef("collection", "col_handbook", search_type="keyword")], "garage"
    )
    assert gone.chunks == []  # the removed document's chunks left the full-text index too


def test_the_plan_side_reads_and_writes_nothing(engine: Engine, handbook: SourceDocuments) -> None:
    identity = WordLlamaEmbedder().identity
    deltas = diff_sources(engine, TENANT, REPO, [handbook], identity)
    assert [(d.source_id, len(d.added), d.new_index) for d in deltas] == [
        ("col_handbook", 12, True)
    ]
    assert not inspect(engine).get_table_names()  # not even the tables were created


def test_settings_changes_reindex_everything_and_say_why(
    engine: Engine, handbook: SourceDocuments, embedder: OpenAIEmbedder
) -> None:
    index_sources(engine, TENANT, REPO, [handbook], embedder)
    other = OpenAIEmbedder(embedder.base_url, "another-model")
    (delta,) = diff_sources(engine, TENANT, REPO, [handbook], other.identity)
    assert len(delta.changed) == 12 and delta.reason == "the embedder changed"
    from personas_as_code.knowledge_index.chunking import ChunkSettings

    rechunked = dataclasses.replace(handbook, chunking=ChunkSettings(300, 50))
    (delta,) = diff_sources(engine, TENANT, REPO, [rechunked], embedder.identity)
    assert len(delta.changed) == 12 and delta.reason == "the chunk settings changed"


def test_a_source_that_left_the_repo_is_dropped_only_by_its_repo(
    engine: Engine, handbook: SourceDocuments, embedder: OpenAIEmbedder
) -> None:
    index_sources(engine, TENANT, REPO, [handbook], embedder)
    assert diff_sources(engine, TENANT, "someone/else", [], embedder.identity) == []
    (delta,) = diff_sources(engine, TENANT, REPO, [], embedder.identity)
    assert delta.drop and len(delta.removed) == 12
    stats = index_sources(engine, TENANT, REPO, [], embedder)
    assert (stats.sources_dropped, stats.documents_deleted) == (1, 12)
    with engine.connect() as conn:
        assert store.count_chunks(conn, TENANT) == 0
        assert conn.execute(select(func.count()).select_from(store.sources_table)).scalar() == 0


def test_the_index_records_the_embedder_but_never_the_key(
    engine: Engine,
    handbook: SourceDocuments,
    embedder: OpenAIEmbedder,
    embedding_server: EmbeddingServer,
) -> None:
    index_sources(engine, TENANT, REPO, [handbook], embedder)
    assert set(embedding_server.auth_headers) == {"Bearer sk-test-secret-value"}
    with engine.connect() as conn:
        (source,) = store.list_sources(conn, TENANT)
        dump = json.dumps(
            [dict(r) for r in conn.execute(select(store.sources_table)).mappings()], default=str
        )
    assert source.embedder == {
        "provider": "openai",
        "base_url": embedding_server.url,
        "model": "hashed-bow",
        "api_key_env": KEY_ENV,
    }
    assert "sk-test-secret-value" not in dump


@pytest.mark.slow  # a python process
def test_another_process_retrieves_with_only_the_database(
    engine: Engine,
    handbook: SourceDocuments,
    embedder: OpenAIEmbedder,
    embedding_server: EmbeddingServer,
    tmp_path: Path,
) -> None:
    """What ``personas catalogue serve`` does: no repo, no config; the index says which
    embedder to rebuild, and the key comes from that process's environment."""
    index_sources(engine, TENANT, REPO, [handbook], embedder)
    script = (
        "import sys, json\n"
        "from sqlalchemy import create_engine\n"
        "from personas_as_code.knowledge_index.retrieval import retrieve, SourceRef\n"
        "r = retrieve(create_engine(sys.argv[1]), sys.argv[2],\n"
        "             [SourceRef('collection', 'col_handbook', search_type='semantic')],\n"
        "             'parking permit licence plate', top_k=1)\n"
        "print(json.dumps([c.document for c in r.chunks]))\n"
    )
    url = engine.url.render_as_string(hide_password=False)
    requests_before = embedding_server.requests
    out = subprocess.run(
        [sys.executable, "-c", script, url, TENANT],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", KEY_ENV: "sk-test-secret-value"},
        check=True,
        timeout=120,
    )
    assert json.loads(out.stdout) == ["knowledge/col_handbook/parking.md"]
    assert embedding_server.requests == requests_before + 1  # the query was embedded there


def test_retries_honour_retry_after_then_errors_are_typed(
    engine: Engine,
    handbook: SourceDocuments,
    embedder: OpenAIEmbedder,
    embedding_server: EmbeddingServer,
) -> None:
    embedding_server.fail_next = [
        (429, {"Retry-After": "0"}, b"slow down"),
        (503, {"Retry-After": "0"}, b""),
    ]
    stats = index_sources(engine, TENANT, REPO, [handbook], embedder)
    assert stats.documents_embedded == 12 and stats.embedding_requests == 3

    embedding_server.fail_next = [(500, {"Retry-After": "0"}, b"boom")] * 3
    changed = _edit(handbook, "knowledge/col_handbook/lunch.md", "changed")
    with pytest.raises(EmbeddingError, match="HTTP 500"):
        index_sources(engine, TENANT, REPO, [changed], embedder)
    (delta,) = diff_sources(engine, TENANT, REPO, [changed], embedder.identity)
    assert delta.changed == ("knowledge/col_handbook/lunch.md",)  # nothing half-written

    embedding_server.fail_next = [(200, {}, b'{"data": [{"embedding": "nope"}]}')]
    with pytest.raises(EmbeddingError, match="malformed"):
        index_sources(engine, TENANT, REPO, [changed], embedder)
    embedding_server.fail_next = [(200, {}, b"not json")]
    with pytest.raises(EmbeddingError, match="malformed"):
        index_sources(engine, TENANT, REPO, [changed], embedder)


def test_a_missing_key_variable_is_a_clear_error(
    engine: Engine, handbook: SourceDocuments, embedding_server: EmbeddingServer
) -> None:
    keyless = OpenAIEmbedder(embedding_server.url, "m", api_key_env="NOT_SET_ANYWHERE", env={})
    with pytest.raises(EmbeddingError, match="NOT_SET_ANYWHERE is not set"):
        index_sources(engine, TENANT, REPO, [handbook], keyless)
    assert embedding_server.requests == 0


def test_an_unreachable_endpoint_is_a_clear_error(
    engine: Engine, handbook: SourceDocuments
) -> None:
    nowhere = OpenAIEmbedder("http://127.0.0.1:9/v1", "m", retries=0, timeout=2)
    with pytest.raises(EmbeddingError, match="unreachable"):
        index_sources(engine, TENANT, REPO, [handbook], nowhere)
