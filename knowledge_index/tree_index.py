"""A searchable index of one tree's knowledge folders (working tree, draft, baseline ref).

The index has the catalogue's own tables (``store.create_knowledge_tables``), so
``retrieval.retrieve`` searches it exactly as it searches the catalogue.  It lives in
``.personas/knowledge/trees/<fingerprint>.db``; the fingerprint is a sha256 over every
source's type, id and chunk settings, every document's path and content hash, and the
embedder's identity, so two trees with the same knowledge share one file and a file is
never stale.  A missing file is built with ``indexer.index_sources`` over the shared
``ContentStore`` (only documents no tree met before are embedded) into a temporary file,
then renamed into place; an existing one is opened read-only and reused.  The
``MAX_TREES`` most recently used files are kept; each process keeps the ones it opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from personas_as_code.knowledge_index import store
from personas_as_code.knowledge_index.content_store import ContentStore
from personas_as_code.knowledge_index.embeddings import Embedder, identity_key
from personas_as_code.knowledge_index.indexer import SourceDocuments, index_sources
from personas_as_code.schemas.errors import WriteRefused
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

TREE_TENANT = "tree"  # the tenant column of a tree index (one tree per file)
TREES_FOLDER = "trees"
MAX_TREES = 8
FORMAT = 2  # bump when what a tree file holds changes (PRAGMA user_version)
BASE_CANDIDATES = 3  # tree files looked at for one to start a new build from
_STALE_TEMP_SECONDS = 3600

_LOCK = threading.Lock()
_OPEN: dict[str, TreeIndex] = {}


@dataclass(frozen=True)
class TreeIndex:
    """An open tree index and what it took to get it."""

    engine: Engine
    path: Path
    fingerprint: str
    sources: int
    documents: int
    chunks: int
    embedded_now: int  # documents chunked and embedded to build it (0 when reused)
    built_now: bool  # False when an existing file was reused
    written_now: int = 0  # documents written into it now (what differed from its base)


def tree_fingerprint(sources: Sequence[SourceDocuments], embedder_identity: dict) -> str:
    """The sha256 naming a tree's knowledge (what decides every chunk and vector)."""
    data = {
        "format": FORMAT,
        "tenant": TREE_TENANT,
        "embedder": json.loads(identity_key(embedder_identity)),
        "sources": sorted(
            [
                s.source_type,
                s.source_id,
                sorted(s.chunking.as_dict().items()),
                sorted([d.path, d.sha256] for d in s.documents),
            ]
            for s in sources
        ),
    }
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def open_tree_index(
    folder: Path,
    repo_id: str,
    sources: Sequence[SourceDocuments],
    embedder: Embedder,
    content_store: ContentStore,
) -> TreeIndex:
    """The index of ``sources`` in ``folder/trees`` (``folder`` is ``.personas/knowledge``):
    this process's open one, the file on disk, or a new one built now."""
    fingerprint = tree_fingerprint(sources, embedder.identity)
    trees = folder / TREES_FOLDER
    path = trees / f"{fingerprint}.db"
    with _LOCK:
        known = _OPEN.get(str(path))
        if known is not None and _plain_file(path):
            return _reused(known)
        with contextlib.suppress(FileExistsError):
            os.mkdir(trees, 0o755)
        if trees.is_symlink() or not trees.is_dir():
            raise WriteRefused(f"refusing to write tree indexes: '{trees}' is not a real folder")
        embedded = written = 0
        built = not _plain_file(path)
        if built:
            embedded, written = _build(path, repo_id, sources, embedder, content_store)
        else:
            os.utime(path)  # recently used: kept by the eviction below
        try:
            engine, chunks = _read_only(path)
        except SQLAlchemyError:
            if built:
                raise
            os.unlink(path)  # a damaged file (a crash, a full disk): build it again
            built = True
            embedded, written = _build(path, repo_id, sources, embedder, content_store)
            engine, chunks = _read_only(path)
        documents = len({d.path for s in sources for d in s.documents})
        index = TreeIndex(
            engine, path, fingerprint, len(sources), documents, chunks, embedded, built, written
        )
        _forget(str(path))
        _OPEN[str(path)] = index
        while len(_OPEN) > 2 * MAX_TREES:  # another process may have deleted some
            _forget(next(iter(_OPEN)))
        _evict(trees, keep=path)
    return index


def close_tree_indexes() -> None:
    """Dispose every tree index this process opened (the files stay for the next one)."""
    with _LOCK:
        for key in list(_OPEN):
            _forget(key)


def _reused(index: TreeIndex) -> TreeIndex:
    return replace(index, embedded_now=0, built_now=False, written_now=0)


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _build(
    path: Path,
    repo_id: str,
    sources: Sequence[SourceDocuments],
    embedder: Embedder,
    content_store: ContentStore,
) -> tuple[int, int]:
    """Build the index into a temporary file renamed to ``path``; the documents embedded
    and the documents written.

    It starts from a copy of the most recently used tree index of this repo when there
    is one (a baseline ref usually differs from the working tree in a few documents), so
    only the documents that differ are written; chunk ids depend only on a chunk's place
    (``stable_ids``), so the result is the same as a build from nothing."""
    temp = path.with_name(f"tmp-{secrets.token_hex(8)}.db")
    base = _nearest_base(path.parent, repo_id, exclude=path)
    if base is not None:
        try:
            shutil.copyfile(base, temp)
        except OSError:  # evicted by another process meanwhile: build from nothing
            with contextlib.suppress(OSError):
                os.unlink(temp)
    engine = create_engine(f"sqlite:///{temp}")
    event.listen(engine, "connect", _fast_writes)
    try:
        stats = index_sources(
            engine, TREE_TENANT, repo_id, sources, embedder, content_store, stable_ids=True
        )
        with engine.begin() as conn:
            conn.exec_driver_sql(f"PRAGMA user_version = {FORMAT}")
        engine.dispose()
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        engine.dispose()
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return stats.documents_embedded, stats.documents_embedded + stats.documents_from_store


def _nearest_base(trees: Path, repo_id: str, exclude: Path) -> Path | None:
    """The most recently used tree index of this format whose sources all belong to
    ``repo_id`` (so updating it drops every source the new tree lacks), or None."""
    candidates: list[tuple[float, str]] = []
    with contextlib.suppress(OSError), os.scandir(trees) as entries:
        for entry in entries:
            if (
                entry.name.endswith(".db")
                and not entry.name.startswith("tmp-")
                and entry.path != str(exclude)
                and entry.is_file(follow_symlinks=False)
            ):
                candidates.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
    for _, candidate in sorted(candidates, reverse=True)[:BASE_CANDIDATES]:
        uri = f"file:{urllib.parse.quote(candidate)}?mode=ro"
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
                (version,) = db.execute("PRAGMA user_version").fetchone()
                owners = {
                    r for (r,) in db.execute("SELECT DISTINCT repo_id FROM knowledge_sources")
                }
        except sqlite3.Error:
            continue
        if version == FORMAT and owners <= {repo_id}:
            return Path(candidate)
    return None


def _fast_writes(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # a temporary file renamed into place only once complete needs no journal
    dbapi_connection.execute("PRAGMA journal_mode=OFF")
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def _read_only(path: Path) -> tuple[Engine, int]:
    """An engine that reads ``path`` and never creates or writes it, and its chunk count."""
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    engine = create_engine(
        f"sqlite:///{path}",
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
    )
    try:
        with engine.connect() as conn:
            return engine, store.count_chunks(conn, TREE_TENANT)
    except SQLAlchemyError:
        engine.dispose()
        raise


def _evict(trees: Path, keep: Path) -> None:
    """Delete all but the ``MAX_TREES`` most recently used tree files (never ``keep``),
    and temporary files a crashed build left behind."""
    now = time.time()
    files: list[tuple[float, Path]] = []
    with contextlib.suppress(OSError), os.scandir(trees) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False) or not entry.name.endswith(".db"):
                continue
            mtime = entry.stat(follow_symlinks=False).st_mtime
            if entry.name.startswith("tmp-"):
                if now - mtime > _STALE_TEMP_SECONDS:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
            elif Path(entry.path) != keep:
                files.append((mtime, Path(entry.path)))
    files.sort(reverse=True)
    for _, stale in files[MAX_TREES - 1 :]:
        with contextlib.suppress(OSError):
            os.unlink(stale)
        _forget(str(stale))


def _forget(key: str) -> None:
    gone = _OPEN.pop(key, None)
    if gone is not None:
        gone.engine.dispose()
