"""One content-addressed store of chunks and embeddings, shared by every tree.

A document's chunks and their vectors depend only on its bytes, the chunk settings and
the embedder, so they are stored under (the document's content sha256, ``settings_hash``)
in one SQLite file, ``<repo>/.personas/knowledge/chunks.db`` (WAL: several processes
may read and write it at once).  The working tree, a draft, a baseline ref and the
embedded catalogue's indexer all take their chunks from here, so a document is chunked
and embedded once, whichever of them meets it first; the second side of a comparison
costs only the documents that differ.

``chunks_for`` looks every document up in one query, chunks and embeds only the misses
(in one ``embedder.embed`` batch, outside any transaction), stores them and returns
all.  A row that does not read back whole (wrong sizes, bad JSON) counts as a miss and
is replaced.  The file is kept under ``MAX_STORE_BYTES``: past it the oldest rows go.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from personas_as_code.knowledge_index.chunking import ChunkSettings, chunk_text
from personas_as_code.knowledge_index.embeddings import Embedder, identity_key
from personas_as_code.schemas.errors import PersonasError, WriteRefused

if TYPE_CHECKING:
    import numpy as np  # imported where vectors are made or read: a plan only diffs hashes
    from personas_as_code.knowledge_index.indexer import Document

STORE_FOLDER = (".personas", "knowledge")
STORE_FILE = "chunks.db"
MAX_STORE_BYTES = 2 * 1024**3
LOOKUP_BATCH = 500  # keys per query (SQLite's bound-parameter limit is 999 on old builds)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS chunked ("
    "content_sha256 TEXT NOT NULL, settings_sha256 TEXT NOT NULL, "
    "chunk_count INTEGER NOT NULL, dimension INTEGER NOT NULL, "
    "texts TEXT NOT NULL, vectors BLOB NOT NULL, stored_at REAL NOT NULL, "
    "PRIMARY KEY (content_sha256, settings_sha256)) WITHOUT ROWID"
)


class KnowledgeStoreError(PersonasError):
    """The knowledge store under ``.personas/knowledge`` cannot be read or written."""

    code = "KNOWLEDGE_STORE_ERROR"


def settings_hash(chunking: ChunkSettings, embedder_identity: dict) -> str:
    """The hash of what, besides its content, decides a document's chunks and vectors."""
    blob = identity_key({"chunking": chunking.as_dict(), "embedder": embedder_identity})
    return hashlib.sha256(blob.encode()).hexdigest()


def knowledge_folder(root: str | Path) -> Path:
    """``<root>/.personas/knowledge``, created when missing; ``WriteRefused`` when
    ``.personas`` (or a folder below it) is a symlink or a file: the store is never
    written through a link that may lead out of the repo."""
    root = Path(root).resolve()
    here = root
    for name in STORE_FOLDER:
        here = here / name
        with contextlib.suppress(FileExistsError):
            os.mkdir(here, 0o755)
        if here.is_symlink() or not here.is_dir():
            shown = here.relative_to(root).as_posix()
            what = "a symlink" if here.is_symlink() else "not a folder"
            raise WriteRefused(
                f"refusing to write the knowledge store: '{shown}' is {what}; make it a "
                "real folder inside the repo (it is git-ignored build output)"
            )
    return here


@dataclass(frozen=True)
class Chunked:
    """One document's chunks and their vectors (an ``(n, dim)`` float32 array);
    ``embedded`` is true when they were computed now rather than taken from the store."""

    chunks: list[str]
    vectors: np.ndarray
    embedded: bool


def chunk_and_embed(
    texts: Sequence[str], chunking: ChunkSettings, embedder: Embedder
) -> list[Chunked]:
    """Chunk every text and embed all their chunks in one batch (no store)."""
    import numpy as np

    pieces = [chunk_text(text, chunking) for text in texts]
    flat = [chunk for chunks in pieces for chunk in chunks]
    vectors = embedder.embed(flat) if flat else np.zeros((0, 0), dtype=np.float32)
    out, offset = [], 0
    for chunks in pieces:
        part = np.asarray(vectors[offset : offset + len(chunks)], dtype=np.float32)
        out.append(Chunked(chunks, part, True))
        offset += len(chunks)
    return out


class ContentStore:
    """Chunks and vectors by (content sha256, settings hash), in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.hits = 0  # documents found in the store
        self.misses = 0  # documents chunked and embedded here

    @classmethod
    def for_repo(cls, root: str | Path) -> ContentStore:
        """The store of the repo at ``root`` (``.personas/knowledge/chunks.db``)."""
        path = knowledge_folder(root) / STORE_FILE
        if path.is_symlink():
            raise WriteRefused(
                f"refusing to open the knowledge store: '.personas/knowledge/{STORE_FILE}' is "
                "a symlink; delete it (it is git-ignored build output)"
            )
        return cls(path)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            yield conn
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        finally:
            conn.close()

    def _error(self, exc: sqlite3.Error) -> KnowledgeStoreError:
        return KnowledgeStoreError(
            f"the knowledge store {self.path} cannot be used ({exc}); it is a cache: delete "
            "it and run again"
        )

    def chunks_for(
        self, documents: Sequence[Document], chunking: ChunkSettings, embedder: Embedder
    ) -> list[Chunked]:
        """Each document's chunks and vectors, in order: from the store, or chunked and
        embedded now (all misses in one batch) and stored."""
        settings = settings_hash(chunking, embedder.identity)
        wanted = list(dict.fromkeys(d.sha256 for d in documents))
        with self._connect() as conn:
            found = self._lookup(conn, wanted, settings)
        missing = [d for d in {d.sha256: d for d in documents}.values() if d.sha256 not in found]
        made = chunk_and_embed([d.text for d in missing], chunking, embedder)
        fresh = {d.sha256: m for d, m in zip(missing, made, strict=True)}
        if fresh:
            with self._connect() as conn:
                self._store(conn, fresh, settings)
        self.misses += len(fresh)
        self.hits += len(documents) - len(fresh)
        entries, seen, out = {**found, **fresh}, set(), []
        for document in documents:
            entry = entries[document.sha256]
            now = document.sha256 in fresh and document.sha256 not in seen  # the first copy
            seen.add(document.sha256)
            out.append(Chunked(entry.chunks, entry.vectors, now))
        return out

    def _lookup(
        self, conn: sqlite3.Connection, shas: list[str], settings: str
    ) -> dict[str, Chunked]:
        found: dict[str, Chunked] = {}
        for start in range(0, len(shas), LOOKUP_BATCH):
            batch = shas[start : start + LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            rows = conn.execute(
                "SELECT content_sha256, chunk_count, dimension, texts, vectors FROM chunked "
                f"WHERE settings_sha256 = ? AND content_sha256 IN ({marks})",
                [settings, *batch],
            )
            for sha, count, dimension, texts, vectors in rows:
                entry = _decode(count, dimension, texts, vectors)
                if entry is not None:
                    found[sha] = entry
        return found

    def _store(self, conn: sqlite3.Connection, fresh: dict[str, Chunked], settings: str) -> None:
        import numpy as np

        now = time.time()
        rows = [
            (
                sha,
                settings,
                len(entry.chunks),
                int(entry.vectors.shape[1]) if entry.chunks else 0,
                json.dumps(entry.chunks, ensure_ascii=False),
                np.ascontiguousarray(entry.vectors, dtype=np.float32).tobytes(),
                now,
            )
            for sha, entry in fresh.items()
        ]
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO chunked VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            _evict(conn, now)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def count(self) -> int:
        """How many documents the store holds (for tests and benches)."""
        with self._connect() as conn:
            return int(conn.execute("SELECT count(*) FROM chunked").fetchone()[0])


def _decode(count: int, dimension: int, texts: str, vectors: bytes) -> Chunked | None:
    """A stored row, or None when it does not read back whole."""
    import numpy as np

    try:
        chunks = json.loads(texts)
    except ValueError:
        return None
    if (
        not isinstance(chunks, list)
        or len(chunks) != count
        or not all(isinstance(c, str) for c in chunks)
        or count < 0
        or dimension < 0
        or len(vectors) != count * dimension * 4
    ):
        return None
    matrix = np.frombuffer(vectors, dtype=np.float32).reshape(count, dimension)
    return Chunked(chunks, matrix, False)


def _evict(conn: sqlite3.Connection, now: float) -> None:
    """Delete the oldest rows (not those stored at ``now``) while the file's used pages
    exceed ``MAX_STORE_BYTES``; freed pages are reused by later writes."""
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    while True:
        used = conn.execute("PRAGMA page_count").fetchone()[0]
        used -= conn.execute("PRAGMA freelist_count").fetchone()[0]
        if used * page <= MAX_STORE_BYTES:
            return
        gone = conn.execute(
            "DELETE FROM chunked WHERE (content_sha256, settings_sha256) IN (SELECT "
            "content_sha256, settings_sha256 FROM chunked WHERE stored_at < ? "
            "ORDER BY stored_at LIMIT 100)",
            (now,),
        ).rowcount
        if not gone:
            return
