"""The personas denormalised for search, rebuilt persona by persona.

Search semantics are those of ``search_personas``: every whitespace-separated
term must occur, case-insensitively, as a substring of a persona's name, slug,
description, sources or prompt (``postings`` answers it with bitsets).  User text
is never query syntax: a term is compared as plain text.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from personas_as_code.application.models import SearchFilters
from personas_as_code.loader.repo import LoadedPersona

TEXT_FIELDS = ("name", "slug", "description", "sources", "prompt")
MAX_TERMS = 20


@dataclass(frozen=True, eq=False)
class Entry:
    """One persona, denormalised for search and export."""

    persona: LoadedPersona
    texts: dict[str, str]
    lowered: dict[str, str]
    facets: dict[str, tuple[str, ...]]
    pairs: tuple[tuple[str, str], ...]
    head: str = ""  # lower-cased name and slug: the fields of the highest weight
    pair_ids: tuple[int, ...] = ()  # ``pairs`` as ``pair_id``s, cheap to count

    @classmethod
    def of(cls, persona: LoadedPersona) -> Entry:
        """The entry of ``persona``."""
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
        head = lowered["name"] + "\x00" + lowered["slug"]
        ids = tuple(pair_id(p) for p in pairs)
        return cls(persona, texts, lowered, facets, pairs, head, ids)


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


def known_pair_id(pair: tuple[str, str]) -> int | None:
    """The ``pair_id`` of ``pair`` if some entry has it (a filter value no entry has
    gets no id: filters do not grow the table)."""
    return _PAIR_IDS.get(pair)


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


class SearchIndex:
    """Entries of the current personas, kept across reloads.

    ``update`` rebuilds only the entries of personas that changed (a persona whose
    loaded value is unchanged keeps its entry); ``indexed_rows`` counts the entries
    built so far (for tests and benches).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_slug: dict[str, Entry] = {}
        self.indexed_rows = 0

    def update(self, personas: Iterable[LoadedPersona]) -> list[Entry]:
        """The entries of ``personas`` (in their order), rebuilding only changed ones."""
        with self._lock:
            old = self._by_slug
            new: dict[str, Entry] = {}
            for persona in personas:
                entry = old.get(persona.slug)
                if entry is None or not _same(entry.persona, persona):
                    entry = Entry.of(persona)
                    self.indexed_rows += 1
                new[persona.slug] = entry
            self._by_slug = new
            return list(new.values())


def _same(a: LoadedPersona, b: LoadedPersona) -> bool:
    return a is b or a == b
