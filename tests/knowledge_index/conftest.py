"""Fixtures for the knowledge tests: real databases, the labelled set, and a real
OpenAI-compatible embeddings server on loopback."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from personas_as_code.knowledge_index.indexer import Document, SourceDocuments
from ruamel.yaml import YAML
from sqlalchemy import Engine, create_engine

LABELLED = Path(__file__).parents[1] / "data" / "knowledge" / "labelled"
TENANT = "ten_test"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh SQLite file or PostgreSQL schema."""
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


def folder_documents(folder: Path, prefix: str) -> list[Document]:
    """The documents of a folder as the indexer takes them (paths under ``prefix``)."""
    docs = []
    for path in sorted(folder.glob("*.md")):
        data = path.read_bytes()
        docs.append(
            Document(f"{prefix}/{path.name}", data.decode(), hashlib.sha256(data).hexdigest())
        )
    return docs


@pytest.fixture(scope="session")
def handbook() -> SourceDocuments:
    """The labelled handbook collection (12 short documents)."""
    docs = folder_documents(LABELLED / "col_handbook", "knowledge/col_handbook")
    return SourceDocuments("collection", "col_handbook", docs, name="Handbook")


@pytest.fixture(scope="session")
def questions() -> list[tuple[str, str]]:
    """(question, repo path of the document that answers it)."""
    rows = YAML(typ="safe").load((LABELLED / "questions.yaml").read_text())
    return [(row["q"], f"knowledge/col_handbook/{row['doc']}") for row in rows]


# --- an OpenAI-compatible /v1/embeddings server ------------------------------

DIM = 64
_WORD = re.compile(r"[a-z0-9]+")


def hashed_vector(text: str) -> list[float]:
    """A deterministic bag-of-words vector: each word (cut to 5 letters) hashed to a slot."""
    vector = [0.0] * DIM
    for word in _WORD.findall(text.lower()):
        slot = int(hashlib.md5(word[:5].encode()).hexdigest(), 16) % DIM
        vector[slot] += 1.0
    return vector


@dataclass
class EmbeddingServer:
    """What the server saw, and how it should misbehave next."""

    url: str
    requests: int = 0
    inputs: int = 0
    auth_headers: list[str | None] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def embedding_server() -> Iterator[EmbeddingServer]:
    """A real HTTP server on a free loopback port answering ``POST /v1/embeddings``."""
    state = EmbeddingServer(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            with lock:
                state.requests += 1
                state.auth_headers.append(self.headers.get("Authorization"))
                failure = state.fail_next.pop(0) if state.fail_next else None
            if failure is not None:
                status, headers, payload = failure
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if self.path != "/v1/embeddings":
                self.send_error(404)
                return
            texts = body["input"]
            with lock:
                state.inputs += len(texts)
            data = [
                {"object": "embedding", "index": i, "embedding": hashed_vector(t)}
                for i, t in enumerate(texts)
            ]
            payload = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
