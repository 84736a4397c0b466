"""The personas' text in an SQLite FTS5 index, updated persona by persona.

Search semantics are those of ``search_personas``: every whitespace-separated
term must occur, case-insensitively, as a substring of a persona's name, slug,
description, sources or prompt.  The ``trigram`` tokenizer answers exactly that
for terms of three characters or more; shorter terms (which no index of
substrings can narrow) and the tail of very long terms are checked in Python on
the index's candidates only.  User text never reaches FTS5 as query syntax:
each term is one quoted string.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain, filterfalse

from personas_as_code.application.models import SearchFilters
from personas_as_code.loader.repo import LoadedPersona

TEXT_FIELDS = ("name", "slug", "description", "sources", "prompt")
# the longest prefix of a term the index looks up; the rest is checked in Python
MAX_INDEXED_TERM = 64
MAX_TERMS = 20
_MIN_INDEXED_TERM = 3  # a trigram index cannot narrow shorter terms


@dataclass(frozen=True, eq=False)
class Entry:
    """One persona, denormalised for search and export."""

    persona: LoadedPersona
    texts: dict[str, str]
    lowered: dict[str, str]
    facets: dict[str, tuple[str, ...]]
    pairs: tuple[tuple[str, str], ...]
    blob: str = ""
    rowid: int = 0
    pair_set: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    head: str = ""  # lower-cased name and slug: the fields of the highest weight
    pair_ids: tuple[int, ...] = ()  # ``pairs`` as ``pair_id``s, cheap to count

    @classmethod
    def of(cls, persona: LoadedPersona, rowid: int = 0) -> Entry:
        """The entry of ``persona``, stored under ``rowid`` in the text index."""
        spec = persona.spec
        sources = "\n".join(f"{s.type}:{s.id} {s.name or ''}".strip() for s in spec.sources)
        texts = {
            "name": spec.name,
            "slug": persona.slug,
            "description": spec.description or "",
            "sources": sources,
            "prompt": persona.system_prompt,
        }
        facets = {
            "status": (spec.status,),
            "model": (spec.model,),
            "rag": ("on" if spec.rag.enabled else "off",),
            "source_type": tuple(sorted({s.type for s in spec.sources})),
            "source_id": tuple(sorted({s.id for s in spec.sources})),
            "group": tuple(spec.publish.groups),
            "published": ("true" if spec.publish.enabled else "false",),
        }
        pairs = tuple((name, value) for name, values in facets.items() for value in values)
        lowered = {k: v.lower() for k, v in texts.items()}
        blob = "\x00".join(lowered.values())
        head = lowered["name"] + "\x00" + lowered["slug"]
        ids = tuple(pair_id(p) for p in pairs)
        return cls(persona, texts, lowered, facets, pairs, blob, rowid, frozenset(pairs), head, ids)

    def passes(self, filters: SearchFilters) -> bool:
        """True when the entry matches every given filter."""
        return required_pairs(filters) <= self.pair_set


_PAIR_IDS: dict[tuple[str, str], int] = {}
PAIRS: list[tuple[str, str]] = []  # pair_id -> (facet, value)
_PAIRS_LOCK = threading.Lock()


def pair_id(pair: tuple[str, str]) -> int:
    """A small integer naming the (facet, value) ``pair`` in this process (``PAIRS[id]``)."""
    found = _PAIR_IDS.get(pair)
    if found is None:
        with _PAIRS_LOCK:
            found = _PAIR_IDS.get(pair)
            if found is None:
                found = _PAIR_IDS[pair] = len(PAIRS)
                PAIRS.append(pair)
    return found


def required_pairs(filters: SearchFilters) -> frozenset[tuple[str, str]]:
    """The (facet, value) pairs an entry must have to pass ``filters``."""
    wanted = {
        "status": filters.status,
        "model": filters.model,
        "rag": None if filters.rag is None else ("on" if filters.rag else "off"),
        "source_type": filters.source_type,
        "source_id": filters.source_id,
        "group": filters.group,
        "published": None if filters.published is None else str(filters.published).lower(),
    }
    return frozenset((name, str(value)) for name, value in wanted.items() if value is not None)


def query_terms(query: str) -> list[str]:
    """The lower-cased terms of ``query`` (at most ``MAX_TERMS``)."""
    return query.replace("\x00", " ").lower().split()[:MAX_TERMS]


def fts_phrase(term: str) -> str:
    """``term`` (its indexed prefix) as one FTS5 string: never query syntax."""
    return '"' + term[:MAX_INDEXED_TERM].replace('"', '""') + '"'


def indexed(term: str) -> bool:
    """True when the index can look ``term`` up (fully or by its prefix): three
    characters or more, all of them encodable (a lone surrogate is not)."""
    return len(term) >= _MIN_INDEXED_TERM and _encodable(term[:MAX_INDEXED_TERM])


def checked_in_python(term: str) -> bool:
    """True when a candidate must still be checked for ``term`` after the index lookup."""
    return not (indexed(term) and len(term) <= MAX_INDEXED_TERM)


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def relevance(pool: list[Entry], terms: list[str]) -> tuple[int, Counter[Entry]]:
    """Each entry's relevance as a floor shared by the whole pool plus a count per entry:
    per term, the weight of the best field holding it (name or slug 5, description 3,
    sources 2, prompt 1), summed.  Every entry of ``pool`` holds every term somewhere;
    the work is set operations and comprehensions, not a call per entry."""
    floor = len(terms)  # at least the prompt's weight, 1, per term
    extra: Counter[Entry] = Counter(dict.fromkeys(pool, 0))
    for term in terms:
        in_head = {e for e in pool if term in e.head}
        if len(in_head) == len(pool):  # a term every name or slug holds: +4 for all
            floor += 4
            continue
        rest = list(filterfalse(in_head.__contains__, pool))
        in_description = {e for e in rest if term in e.lowered["description"]}
        rest = list(filterfalse(in_description.__contains__, rest))
        in_sources = [e for e in rest if term in e.lowered["sources"]]
        # +4, +2 and +1 over the prompt's 1, counted in C by Counter.update
        extra.update(chain(in_head, in_head, in_head, in_head, in_description, in_description))
        extra.update(in_sources)
    return floor, extra


class SearchIndex:
    """Entries of the current personas and an in-memory FTS5 index of their text.

    ``update`` re-indexes only personas that changed (a persona whose loaded value is
    unchanged keeps its entry and row).  Row ids are never reused, so a row id always
    names the same entry; index writes are applied lazily by the first text lookup,
    so reads that never search text do not pay for indexing.  When that first lookup
    finds ``background_build`` rows or more to write (a cold start), they are written
    in a thread and lookups answer None (scan the entries) until it is done.
    """

    background_build = 2_000

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        columns = ", ".join(TEXT_FIELDS)
        self._db.execute(f"CREATE VIRTUAL TABLE text USING fts5({columns}, tokenize='trigram')")
        self._db.execute("CREATE VIRTUAL TABLE vocab USING fts5vocab(text, 'row')")
        self._lock = threading.Lock()
        self._by_slug: dict[str, Entry] = {}
        self._next_rowid = 1
        self._pending_add: dict[int, Entry] = {}
        self._pending_delete: set[int] = set()
        self.indexed_rows = 0  # rows written to FTS5 so far (for tests and benches)
        self._building = False

    def update(self, personas: Iterable[LoadedPersona]) -> list[Entry]:
        """The entries of ``personas`` (in their order), re-indexing only changed ones."""
        with self._lock:
            old = self._by_slug
            new: dict[str, Entry] = {}
            for persona in personas:
                entry = old.get(persona.slug)
                if entry is None or not _same(entry.persona, persona):
                    if entry is not None:
                        self._forget(entry.rowid)
                    entry = Entry.of(persona, self._next_rowid)
                    self._next_rowid += 1
                    self._pending_add[entry.rowid] = entry
                new[persona.slug] = entry
            for slug, entry in old.items():
                if slug not in new:
                    self._forget(entry.rowid)
            self._by_slug = new
            return list(new.values())

    def _build(self) -> None:
        with self._lock:
            try:
                self._flush()
            finally:
                self._building = False

    def _forget(self, rowid: int) -> None:
        if self._pending_add.pop(rowid, None) is None:
            self._pending_delete.add(rowid)

    def _flush(self) -> None:
        if not (self._pending_add or self._pending_delete):
            return
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany("DELETE FROM text WHERE rowid = ?", ((r,) for r in self._pending_delete))
            db.executemany(
                f"INSERT INTO text(rowid, {', '.join(TEXT_FIELDS)}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (rowid, *(_storable(entry.texts[name]) for name in TEXT_FIELDS))
                    for rowid, entry in self._pending_add.items()
                ),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self.indexed_rows += len(self._pending_add)
        self._pending_add.clear()
        self._pending_delete.clear()

    def lookup(self, terms: list[str]) -> tuple[set[int] | None, list[str]]:
        """Candidate row ids for ``terms`` (None: every row is a candidate) and the terms
        each candidate must still be checked for in Python.  The index narrows by the
        indexable terms that most rows do not hold; for a term most rows hold (or
        while the first build runs) a scan of the entries is the cheaper plan."""
        if self._building:
            return None, terms
        with self._lock:
            if len(self._pending_add) >= self.background_build:
                self._building = True
                threading.Thread(target=self._build, name="search-index-build", daemon=True).start()
                return None, terms
            self._flush()
            narrowing = [t for t in terms if indexed(t) and not self._common(t)]
            if not narrowing:
                return None, terms
            match = " ".join(fts_phrase(t) for t in narrowing)
            cursor = self._db.execute("SELECT rowid FROM text WHERE text MATCH ?", (match,))
            rows = set(chain.from_iterable(cursor))
        return rows, [t for t in terms if t not in narrowing or checked_in_python(t)]

    def _common(self, term: str) -> bool:
        """True when more than half the rows may hold ``term``: the fewest rows holding
        one of three of its trigrams (an upper bound) is above half."""
        probe = term[:MAX_INDEXED_TERM]
        grams = {probe[at : at + 3] for at in (0, (len(probe) - 3) // 2, len(probe) - 3)}
        least = min(
            (self._db.execute("SELECT doc FROM vocab WHERE term = ?", (g,)).fetchone() or (0,))[0]
            for g in grams
        )
        return 2 * least > len(self._by_slug)


def _storable(text: str) -> str:
    """``text`` as SQLite can take it: a lone surrogate (no UTF-8 form) becomes U+FFFD,
    so such a text is only found by terms that avoid it."""
    if _encodable(text):
        return text
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


def _same(a: LoadedPersona, b: LoadedPersona) -> bool:
    return a is b or a == b
