"""A cached, searchable index of the working tree's personas.

``RepoIndex.snapshot()`` returns the loaded repo, reloading only when a cheap
stat fingerprint (path, size, mtime of every file under the personas folder,
the config and referenced files elsewhere) changes; unchanged files come from
the ``LoadCache``.  The fingerprint is checked at most every ``max_staleness``
seconds (0.5 s by default; about 10 ms for 2,000 files), so a change on disk is
seen within that delay.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path

from personas_as_code.mcp_server.models import (
    FacetCount,
    SearchFilters,
    SearchHit,
    SearchResult,
    Snippet,
)
from personas_as_code.mcp_server.repoload import HashedDirectoryFiles, LoadCache, load_repo_cached
from personas_as_code.mcp_server.search_index import (
    Entry,
    SearchIndex,
    checked_in_python,
    query_terms,
    required_pairs,
)
from personas_as_code.schemas.config import CONFIG_FILE
from personas_as_code.schemas.loader import Repo

FACETS = ("status", "model", "rag", "source_type", "source_id", "group", "published")
# field -> weight of a match there; the best field per term counts
_FIELD_WEIGHTS = {"name": 5.0, "slug": 5.0, "description": 3.0, "sources": 2.0, "prompt": 1.0}
_FIELD_ORDER = tuple(sorted(_FIELD_WEIGHTS, key=lambda n: -_FIELD_WEIGHTS[n]))
_SNIPPET_RADIUS = 40
_MAX_SNIPPETS = 3


@dataclass
class Snapshot:
    """The loaded repo at one fingerprint, with search entries (in slug order)."""

    repo: Repo
    entries: list[Entry] = field(default_factory=list)
    by_slug: dict[str, Entry] = field(default_factory=dict)
    all_facets: dict[str, list[FacetCount]] | None = None
    text_index: SearchIndex | None = None

    @classmethod
    def of(cls, repo: Repo, text_index: SearchIndex | None = None) -> Snapshot:
        """The snapshot of ``repo``; its entries come from (and update) ``text_index``."""
        text_index = text_index or SearchIndex()
        entries = text_index.update(repo.personas.values())
        return cls(repo, entries, {e.persona.slug: e for e in entries}, text_index=text_index)

    def matching(self, query: str) -> list[tuple[Entry, float, list[str]]]:
        """Entries containing every query term, with a score (best field weight per term)."""
        terms = query_terms(query)
        if not terms:
            return [(e, 0.0, terms) for e in self.entries]
        assert self.text_index is not None
        rows = self.text_index.rows_matching(terms)
        pool = self.entries if rows is None else [e for e in self.entries if e.rowid in rows]
        unindexed = [t for t in terms if checked_in_python(t)]
        found = []
        for entry in pool:
            blob = entry.blob
            for term in unindexed:
                if term not in blob:
                    break
            else:
                score = 0.0
                lowered = entry.lowered
                for term in terms:
                    for name in _FIELD_ORDER:  # ordered by weight: the first hit is the best
                        if term in lowered[name]:
                            score += _FIELD_WEIGHTS[name]
                            break
                found.append((entry, score, terms))
        return found


def _snippet(text: str, at: int) -> str:
    start = max(0, at - _SNIPPET_RADIUS)
    end = min(len(text), at + 2 * _SNIPPET_RADIUS)
    piece = " ".join(text[start:end].split())
    return ("…" if start else "") + piece + ("…" if end < len(text) else "")


def facet_counts(entries: list[Entry]) -> dict[str, list[FacetCount]]:
    """Counts of every filter value over ``entries`` (most frequent first, top 50)."""
    counter: Counter[tuple[str, str]] = Counter(chain.from_iterable(e.pairs for e in entries))
    grouped: dict[str, list[tuple[int, str]]] = {name: [] for name in FACETS}
    for (name, value), count in counter.items():
        grouped[name].append((-count, value))
    return {
        name: [FacetCount(value=v, count=-c) for c, v in sorted(items)[:50]]
        for name, items in grouped.items()
    }


def search(
    snapshot: Snapshot,
    query: str = "",
    filters: SearchFilters | None = None,
    page_size: int = 20,
    page_offset: int = 0,
) -> SearchResult:
    """Free-text search with filters, facets and pagination."""
    filters = filters or SearchFilters()
    matched = snapshot.matching(query)
    if query.strip():
        facets = facet_counts([m[0] for m in matched])
    else:  # the whole set: computed once per snapshot
        if snapshot.all_facets is None:
            snapshot.all_facets = facet_counts(snapshot.entries)
        facets = snapshot.all_facets
    required = required_pairs(filters)
    hits = [m for m in matched if required <= m[0].pair_set]
    if query.strip():  # matched is in slug order and the sort is stable: ties stay by slug
        hits.sort(key=itemgetter(1), reverse=True)
    page = hits[page_offset : page_offset + page_size]
    return SearchResult(
        query=query,
        total_count=len(hits),
        page_size=page_size,
        page_offset=page_offset,
        results=[_hit(entry, score, terms) for entry, score, terms in page],
        facets=facets,
        invalid_files=len(snapshot.repo.persona_files) - len(snapshot.repo.personas),
    )


def filtered(snapshot: Snapshot, query: str, filters: SearchFilters) -> list[Entry]:
    """Every entry matching ``query`` and ``filters`` (sorted by slug), for export."""
    required = required_pairs(filters)
    return [m[0] for m in snapshot.matching(query) if required <= m[0].pair_set]


def _hit(entry: Entry, score: float, terms: list[str]) -> SearchHit:
    spec = entry.persona.spec
    snippets: list[Snippet] = []
    for term in terms:
        for name in _FIELD_ORDER:
            at = entry.lowered[name].find(term)
            if at >= 0 and len(snippets) < _MAX_SNIPPETS and all(s.field != name for s in snippets):
                snippets.append(Snippet(field=name, text=_snippet(entry.texts[name], at)))
    return SearchHit(
        slug=entry.persona.slug,
        name=spec.name,
        description=spec.description,
        model=spec.model,
        status=spec.status,
        path=entry.persona.path,
        rag_enabled=spec.rag.enabled,
        published=spec.publish.enabled,
        groups=list(spec.publish.groups),
        sources=[f"{s.type}:{s.id}" for s in spec.sources],
        score=score,
        snippets=snippets,
    )


class RepoIndex:
    """The working tree of ``root``, loaded lazily and refreshed when files change."""

    def __init__(
        self, root: str | Path, cache: LoadCache | None = None, max_staleness: float = 0.5
    ) -> None:
        self.root = Path(root).resolve()
        self.max_staleness = max_staleness
        self._checked = 0.0
        self.cache = cache or LoadCache()
        self._lock = threading.Lock()
        self._fingerprint: object = None
        self._extra: tuple[str, ...] = ()
        self._snapshot: Snapshot | None = None
        self.text_index = SearchIndex()
        self.reloads = 0

    def _stat_tree(self, directory: Path, out: list[tuple[str, int, int]]) -> None:
        try:
            with os.scandir(directory) as it:
                for item in it:
                    if item.name.startswith("."):
                        continue
                    if item.is_dir(follow_symlinks=False):
                        self._stat_tree(Path(item.path), out)
                    else:
                        st = item.stat()
                        out.append((item.path, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(directory), -1, -1))

    def fingerprint(self, personas_dir: str, extra: tuple[str, ...]) -> object:
        """Sizes and mtimes of the files the index depends on."""
        stats: list[tuple[str, int, int]] = []
        for rel in (CONFIG_FILE, *extra):
            try:
                st = os.stat(self.root / rel)
                stats.append((rel, st.st_size, st.st_mtime_ns))
            except OSError:
                stats.append((rel, -1, -1))
        self._stat_tree(self.root / personas_dir, stats)
        return hash(tuple(stats))

    def snapshot(self) -> Snapshot:
        """The current snapshot, reloading changed files first."""
        with self._lock:
            snap = self._snapshot
            now = time.monotonic()
            if snap is not None and now - self._checked < self.max_staleness:
                return snap
            self._checked = now
            if snap is not None:
                current = self.fingerprint(snap.repo.config.repo.personas_dir, self._extra)
                if current == self._fingerprint:
                    return snap
            return self._reload()

    def _reload(self) -> Snapshot:
        # fingerprint first: a file changed during the load triggers another reload
        personas_dir = self._snapshot.repo.config.repo.personas_dir if self._snapshot else ""
        before = self.fingerprint(personas_dir, self._extra) if personas_dir else None
        files = HashedDirectoryFiles(self.root)
        repo = load_repo_cached(files, self.cache, root=self.root, default_id=self.root.name)
        snap = Snapshot.of(repo, self.text_index)
        prefix = repo.config.repo.personas_dir.rstrip("/") + "/"
        extra = tuple(
            sorted(
                {
                    ref
                    for p in repo.personas.values()
                    for ref in p.referenced_files
                    if not ref.startswith(prefix)
                }
            )
        )
        if extra != self._extra or repo.config.repo.personas_dir != personas_dir:
            before = None  # unknown inputs: check again next time
        self._extra = extra
        self._fingerprint = before
        self._snapshot = snap
        self.reloads += 1
        return snap
