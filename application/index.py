"""A cached, searchable index of the working tree's personas.

``RepoIndex.snapshot()`` returns the loaded repo, reloading only when a cheap
stat fingerprint (path, size, mtime of every file under the personas and knowledge
folders, the config and referenced files elsewhere; ``tree_stat``) changes; unchanged
files come from the parse cache (persisted in ``.personas/`` when that folder exists,
so a restarted server does not parse again).  The fingerprint is checked at most
every ``max_staleness`` seconds (0.5 s by default; about 5 ms for 2,000 files,
25 ms for 10,000), so a change on disk is seen within that delay.  While
requests keep coming, the walk runs in a low-priority helper process (a thread waits
for it) and the request is answered from the current snapshot (a change is then seen
one walk later); after a pause the request walks first, as with ``max_staleness=0``.
The first load walks before it loads, as every later one does, so a file changed
during a load is loaded again by the next request.  Search runs on the snapshot's
bitsets (``postings``), built by its first search; entries are rebuilt for changed
personas only (``search_index``).
"""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from personas_as_code.application.models import (
    FacetCount,
    SearchFilters,
    SearchHit,
    SearchResult,
    Snippet,
)
from personas_as_code.application.postings import Postings, members
from personas_as_code.application.search_index import (
    PAIRS,
    Entry,
    SearchIndex,
    query_terms,
    required_pairs,
)
from personas_as_code.application.tree_stat import HelperWalk, fingerprint
from personas_as_code.loader.cache_file import reached_directly
from personas_as_code.loader.config import load_config
from personas_as_code.loader.files import DirectoryFiles
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.loader.repo import Repo, load_repo
from personas_as_code.schemas.config import CONFIG_FILE
from personas_as_code.schemas.errors import PersonasError
from personas_as_code.sync.engine import collector_paused

# While requests keep coming (the last walk is younger than this many max_staleness),
# the fingerprint walk runs in a thread instead of in the request.
_BUSY_CHECKS = 4
FACETS = ("status", "model", "rag", "source_type", "source_id", "group", "published")
# field -> weight of a match there; the best field per term counts
_FIELD_WEIGHTS = {"name": 5.0, "slug": 5.0, "description": 3.0, "sources": 2.0, "prompt": 1.0}
_FIELD_ORDER = tuple(sorted(_FIELD_WEIGHTS, key=lambda n: -_FIELD_WEIGHTS[n]))
_SNIPPET_RADIUS = 40
_MAX_SNIPPETS = 3
_CACHED_FACETS = 64  # facet lists kept per snapshot, by matched set (0.25 ms each at 10,000)


@dataclass
class Snapshot:
    """The loaded repo at one fingerprint, with search entries (in slug order)."""

    repo: Repo
    entries: list[Entry] = field(default_factory=list)
    by_slug: dict[str, Entry] = field(default_factory=dict)
    all_facets: dict[str, list[FacetCount]] | None = None
    _facets: dict[int, dict[str, list[FacetCount]]] = field(default_factory=dict)
    text_index: SearchIndex | None = None
    _postings: Postings | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, repo: Repo, text_index: SearchIndex | None = None) -> Snapshot:
        """The snapshot of ``repo``; its entries come from (and update) ``text_index``."""
        text_index = text_index or SearchIndex()
        entries = text_index.update(repo.personas.values())
        return cls(repo, entries, {e.persona.slug: e for e in entries}, text_index=text_index)

    def postings(self) -> Postings:
        """The entries' bitsets for search (built by the first search of the snapshot)."""
        if self._postings is None:
            with self._lock:
                if self._postings is None:
                    self._postings = Postings(self.entries)
        return self._postings

    def matching(self, query: str) -> tuple[int, dict[int, int]]:
        """The entries containing every query term (a bitset of positions in
        ``entries``), and those entries by score (all of them at 0 without terms)."""
        postings = self.postings()
        terms = query_terms(query)
        if not terms:
            return postings.everyone, {0: postings.everyone}
        return postings.match(terms)

    def facets(self, matched: int) -> dict[str, list[FacetCount]]:
        """Facet counts over the ``matched`` entries (a bitset): kept for the last
        ``_CACHED_FACETS`` sets (the pages of one query share them), for all at once."""
        postings = self.postings()
        if matched == postings.everyone:
            if self.all_facets is None:
                self.all_facets = facet_lists(postings.pair_counts(matched))
            return self.all_facets
        found = self._facets.get(matched)
        if found is None:
            found = facet_lists(postings.pair_counts(matched))
            with self._lock:
                if len(self._facets) >= _CACHED_FACETS:
                    self._facets.pop(next(iter(self._facets)))
                self._facets[matched] = found
        return found


def _snippet(text: str, at: int) -> str:
    start = max(0, at - _SNIPPET_RADIUS)
    end = min(len(text), at + 2 * _SNIPPET_RADIUS)
    piece = " ".join(text[start:end].split())
    return ("…" if start else "") + piece + ("…" if end < len(text) else "")


def facet_lists(counter: Counter[int]) -> dict[str, list[FacetCount]]:
    """Counts of every filter value by ``pair_id`` as lists per filter (most frequent
    first, top 50 each)."""
    grouped: dict[str, list[tuple[int, str]]] = {name: [] for name in FACETS}
    for pair, count in counter.items():
        if count > 0:
            name, value = PAIRS[pair]
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
    """Free-text search with filters, facets and pagination: by score, then by slug."""
    matched, by_score = snapshot.matching(query)
    facets = snapshot.facets(matched)
    postings = snapshot.postings()
    hits = matched & postings.required(required_pairs(filters or SearchFilters()))
    terms = query_terms(query)
    page = postings.page(by_score, hits, page_offset, page_size)
    return SearchResult(
        query=query,
        total_count=hits.bit_count(),
        page_size=page_size,
        page_offset=page_offset,
        results=[_hit(snapshot.entries[at], float(score), terms) for at, score in page],
        facets=facets,
        invalid_files=len(snapshot.repo.persona_files) - len(snapshot.repo.personas),
    )


def filtered(snapshot: Snapshot, query: str, filters: SearchFilters) -> list[Entry]:
    """Every entry matching ``query`` and ``filters`` (sorted by slug), for export."""
    matched, _ = snapshot.matching(query)
    hits = matched & snapshot.postings().required(required_pairs(filters))
    return [snapshot.entries[at] for at in members(hits)]


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


class Inputs(NamedTuple):
    """What a fingerprint covers: the personas folder, the files outside it that
    personas refer to, and the knowledge folder ("" for none)."""

    personas_dir: str
    extra: tuple[str, ...]
    knowledge_dir: str

    @classmethod
    def of(cls, repo: Repo) -> Inputs:
        """The inputs of loaded ``repo``."""
        prefix = repo.config.repo.personas_dir.rstrip("/") + "/"
        refs = {r for p in repo.personas.values() for r in p.referenced_files}
        extra = tuple(sorted(r for r in refs if not r.startswith(prefix)))
        return cls(repo.config.repo.personas_dir, extra, repo.config.knowledge.folder.strip("/"))


class RepoIndex:
    """The working tree of ``root``, loaded lazily and refreshed when files change."""

    def __init__(
        self,
        root: str | Path,
        cache: ParseCache | None = None,
        max_staleness: float = 0.5,
        environment: str | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.environment = environment  # the personas.toml environment loaded (None: default)
        self.max_staleness = max_staleness
        self._checked = 0.0
        self.cache = cache or ParseCache()
        self._lock = threading.Lock()
        self._fingerprint: object = None
        self._inputs: Inputs | None = None  # what the fingerprint covers (None: not loaded)
        self._snapshot: Snapshot | None = None
        self.text_index = SearchIndex()
        self.reloads = 0
        self._saved_misses = 0
        self._checking = False  # a background fingerprint walk is running
        self._changed = False  # a background walk saw a change: the next request reloads
        self.walker = HelperWalk()  # walks for background checks, at low priority

    @property
    def _knowledge_dir(self) -> str:
        """The knowledge folder run, preview and test retrieve from ("" before a load)."""
        return self._inputs.knowledge_dir if self._inputs else ""

    def fingerprint(self, personas_dir: str, extra: tuple[str, ...]) -> object:
        """Sizes and mtimes of the files the index depends on (walked here)."""
        return self._walk(Inputs(personas_dir, extra, self._knowledge_dir))

    def _walk(self, inputs: Inputs, walker: HelperWalk | None = None) -> object:
        """The fingerprint of ``inputs``, walked by ``walker`` (None: in this thread)."""
        files = (CONFIG_FILE, *inputs.extra)
        folders = tuple(f for f in (inputs.personas_dir, inputs.knowledge_dir) if f)
        walk = walker.fingerprint if walker is not None else fingerprint
        return walk(str(self.root), files, folders)

    def snapshot(self) -> Snapshot:
        """The current snapshot, reloading changed files first."""
        with self._lock:
            snap = self._snapshot
            now = time.monotonic()
            if snap is not None and not self._changed:
                age = now - self._checked
                if age < self.max_staleness:
                    return snap
                if age < _BUSY_CHECKS * self.max_staleness:
                    self._check_in_background(snap)
                    return snap
            self._checked = now
            inputs = self._inputs
            if snap is not None and not self._changed and inputs is not None:
                current = self._walk(inputs)
                if current == self._fingerprint:
                    return snap
            return self._reload()

    def _check_in_background(self, snap: Snapshot) -> None:
        """Start one fingerprint walk in a thread (unless one runs); a change it finds
        makes the next request reload."""
        if self._checking or self._inputs is None:
            return
        self._checking = True
        args = (snap, self._inputs, self._fingerprint)
        threading.Thread(
            target=self._background_check, args=args, name="repo-index-check", daemon=True
        ).start()

    def _background_check(self, snap: Snapshot, inputs: Inputs, expected: object) -> None:
        started = time.monotonic()
        current: object = None
        try:  # in the helper process: requests keep the GIL and the CPU
            current = self._walk(inputs, self.walker)
        finally:
            with self._lock:
                self._checking = False
                if self._snapshot is snap:
                    self._checked = started
                    self._changed = self._changed or current != expected

    def _reload(self) -> Snapshot:
        files = DirectoryFiles(self.root)
        # fingerprint first: a file changed during the load triggers another reload
        inputs = self._inputs or self._first_inputs(files)
        before = self._walk(inputs) if inputs is not None else None
        with collector_paused():
            repo = load_repo(
                self.root,
                files=files,
                default_id=self.root.name,
                persona_loader=self.cache.load,
                prepare=self.cache.prefetch,  # a cold start parses in worker processes
                environment=self.environment,
            )
            snap = Snapshot.of(repo, self.text_index)
            _freeze_survivors()
        loaded = Inputs.of(repo)
        self._fingerprint = before if loaded == inputs else None  # else: check next time
        self._inputs = loaded
        self._snapshot = snap
        self._changed = False
        self.reloads += 1
        self._save_cache_soon()
        return snap

    def _first_inputs(self, files: DirectoryFiles) -> Inputs | None:
        """The inputs of the first load as far as the config tells (no persona's
        referenced files yet); None when the config cannot be read."""
        try:
            config, _ = load_config(files, self.root.name, self.environment)
        except PersonasError:
            return None
        return Inputs(config.repo.personas_dir, (), config.knowledge.folder.strip("/"))

    def _save_cache_soon(self) -> None:
        """Persist the parse cache after a load that parsed files, in a thread so the
        request does not wait (the interpreter waits for it at exit).  Only into an
        existing ``.personas/`` folder: a read-only server creates no files."""
        misses = self.cache.misses + self.cache.prefetched  # files parsed
        path = self.cache.path
        if path is None or misses == self._saved_misses or not _own_folder(self.root, path):
            return
        self._saved_misses = misses
        threading.Thread(target=self.cache.save, name="parse-cache-save").start()


def _freeze_survivors() -> None:
    """Collect, then freeze what survives (``gc.freeze``), at the end of a load.

    A snapshot lives until the next load: frozen, later collections do not walk it (at
    10,000 personas the first collections after a load took 110, 130 and 200 ms, inside
    later requests; this one is part of the load, where the collector is paused).
    Unfrozen first, so what the last load froze and is garbage now is collected too:
    nothing is kept longer than one load, and the load's own cycles (parsers of SVG
    avatars) go at once.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _own_folder(root: Path, path: Path) -> bool:
    """True when ``path``'s folder is a real directory inside ``root`` (the server never
    creates ``.personas/``, and never writes through a symlink)."""
    return path.parent.is_dir() and reached_directly(root, path)
