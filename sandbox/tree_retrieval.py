"""Retrieval over the knowledge folders of the tree under test.

``run``, ``preview`` and ``test`` -- on the working tree, a draft or a baseline ref --
retrieve from *that* tree's ``knowledge/`` folders, never from whatever the catalogue
last indexed.  ``TreeRetrieval`` is the enricher's ``Retriever`` for one loaded tree: on
its first call it opens the tree's index (``knowledge_index.tree_index``: built from the
repo's shared content store under ``.personas/knowledge``, or reused), then searches it
with the catalogue's own ``retrieve``, so scores are the same as the catalogue's.  A
tree that no persona retrieves from costs nothing.  ``account`` says what it took
("knowledge: 21 documents from the working tree, 0 embedded now (...)"), or that the
tree has no knowledge folders and nothing was indexed.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from personas_as_code.knowledge_index.content_store import ContentStore, KnowledgeStoreError
from personas_as_code.knowledge_index.embeddings import embedder_for_settings
from personas_as_code.loader.repo import Repo
from personas_as_code.sync.knowledge import desired_sources

if TYPE_CHECKING:  # the index and its search (SQLAlchemy, numpy) load on the first call
    from personas_as_code.knowledge_index.retrieval import Retrieval, SourceRef
    from personas_as_code.knowledge_index.tree_index import TreeIndex

STORE_SHOWN = ".personas/knowledge"
_SCRATCH_LOCK = threading.Lock()
_SCRATCH: list[Path] = []


class TreeRetrieval:
    """The retriever of one tree's knowledge (``label`` names the tree in notes:
    "the working tree", "draft 1a2b", "baseline main"); ``workspace`` is the repo
    folder whose ``.personas/knowledge`` holds the store (None: a temporary folder)."""

    def __init__(self, repo: Repo, *, label: str, workspace: str | Path | None) -> None:
        self.repo = repo
        self.label = label
        self.workspace = Path(workspace) if workspace is not None else None
        self.account: str | None = None  # None until the index was opened
        self._index: TreeIndex | None = None
        self._opened = False
        self._lock = threading.Lock()

    def __call__(self, sources: Sequence[SourceRef], query: str, **options: Any) -> Retrieval:
        """``knowledge_index.retrieval.retrieve`` over this tree's index."""
        # the catalogue's chat module (and its ORM tables) loads when a persona retrieves
        from personas_as_code.catalogue.chat import index_retriever
        from personas_as_code.knowledge_index.retrieval import Retrieval
        from personas_as_code.knowledge_index.tree_index import TREE_TENANT

        index = self.prepare()
        if index is None:
            return Retrieval([], [], f"no knowledge folders in {self.label}: nothing was indexed")
        found = index_retriever(index.engine, TREE_TENANT)(sources, query, **options)
        if found.note and found.note.startswith("no index for "):
            missing = found.note.removeprefix("no index for ")
            folder = self.repo.config.knowledge.folder.strip("/")
            note = f"no knowledge folder in {self.label} for {missing} ({folder}/<source id>/)"
            found = Retrieval(found.chunks, found.queries, note)
        return found

    def prepare(self) -> TreeIndex | None:
        """Open (or build) the tree's index now; None when the tree has no knowledge."""
        with self._lock:
            if not self._opened:
                self._index = self._open()
                self._opened = True
                self.account = self._account(self._index)
            return self._index

    def _open(self) -> TreeIndex | None:
        from personas_as_code.knowledge_index.tree_index import open_tree_index
        from sqlalchemy.exc import SQLAlchemyError

        sources = desired_sources(self.repo)
        if not sources:
            return None
        root = self.workspace or _scratch()
        try:
            store = ContentStore.for_repo(root)
            embedder = embedder_for_settings(self.repo.config.knowledge.embeddings)
            return open_tree_index(
                store.path.parent, self.repo.config.repo.id, sources, embedder, store
            )
        except (OSError, SQLAlchemyError) as exc:
            raise KnowledgeStoreError(
                f"the knowledge index of {self.label} could not be built in "
                f"{root / STORE_SHOWN}: {exc}"
            ) from None

    def _account(self, index: TreeIndex | None) -> str:
        if index is None:
            return f"knowledge: no knowledge folders in {self.label}; nothing was indexed"
        where = STORE_SHOWN if self.workspace is not None else "a temporary folder"
        if not index.built_now:
            how = f"its index was already built in {where}"
        elif index.embedded_now == 0:
            how = f"all from {where}"
        elif index.embedded_now < index.documents:
            how = f"the rest from {where}"
        else:
            how = f"none were in {where} yet"
        return (
            f"knowledge: {_count(index.documents, 'document')} from {self.label} "
            f"({_count(index.chunks, 'chunk')}), {index.embedded_now} embedded now ({how})"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _scratch() -> Path:
    """A private temporary folder for a tree that has no repo folder (removed at exit)."""
    with _SCRATCH_LOCK:
        if not _SCRATCH:
            _SCRATCH.append(Path(tempfile.mkdtemp(prefix="personas-knowledge-")))
            atexit.register(shutil.rmtree, _SCRATCH[0], True)
        return _SCRATCH[0]
