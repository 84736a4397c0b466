"""Search over one snapshot's entries with bitsets: entry ``i`` (slug order) is bit ``i``.

A term's postings are four bitsets (the entries holding it in name or slug,
description, sources, prompt), computed once per snapshot by a scan of the lowered
texts done in C and kept for the next queries (at most ``MAX_CACHED_TERMS`` terms).
Each (facet, value) pair has one bitset, built with the postings.  A query is then a
few big-integer operations: the pool is the AND of its terms' postings (the least
costly first; once the pool is small, an uncached term is checked on the pool's
entries only), relevance is kept as one bitset per score (at most 5 per term, so at
most 100 scores), facets are popcounts, and a page is read from the highest score
down without sorting the matches.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence

from personas_as_code.application.search_index import Entry, known_pair_id

MAX_CACHED_TERMS = 512
MAX_CACHED_TERM_CHARS = 64  # a longer term is looked up each time, not kept
# field groups in the order of their weight: the best group holding a term counts
WEIGHTS = (5, 3, 2, 1)  # name or slug, description, sources, prompt
TermBits = tuple[int, int, int, int]


class Postings:
    """Bitsets of one snapshot's entries: per term (cached), per facet pair, and all."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.everyone = (1 << len(entries)) - 1
        # texts with the last entry first: "".join of "1"/"0" then reads as a bitset
        backwards = entries[::-1]
        self._groups = (
            [e.head for e in backwards],
            [e.lowered["description"] for e in backwards],
            [e.lowered["sources"] for e in backwards],
            [e.lowered["prompt"] for e in backwards],
        )
        members: dict[int, list[int]] = {}
        for at, entry in enumerate(entries):
            for pair in entry.pair_ids:
                members.setdefault(pair, []).append(at)
        self.pairs = {pair: _bitset_of(at, len(entries)) for pair, at in members.items()}
        self._terms: dict[str, TermBits] = {}
        self._lock = threading.Lock()

    @property
    def cached_terms(self) -> int:
        """How many terms' postings are kept (at most ``MAX_CACHED_TERMS``)."""
        return len(self._terms)

    def term(self, term: str) -> TermBits:
        """The entries holding ``term`` in each field group (cached unless long)."""
        found = self._terms.get(term)
        if found is None:
            found = (
                _scan(term, self._groups[0]),
                _scan(term, self._groups[1]),
                _scan(term, self._groups[2]),
                _scan(term, self._groups[3]),
            )
            if len(term) > MAX_CACHED_TERM_CHARS:
                return found
            with self._lock:
                if len(self._terms) >= MAX_CACHED_TERMS:
                    self._terms.pop(next(iter(self._terms)))
                self._terms[term] = found
        return found

    def _term_within(self, term: str, pool: int) -> TermBits:
        """``term``'s postings restricted to ``pool`` (not cached): checks only its entries."""
        out = [0, 0, 0, 0]
        last = len(self.entries) - 1
        for at in members(pool):
            for group, texts in enumerate(self._groups):
                if term in texts[last - at]:
                    out[group] |= 1 << at
        return out[0], out[1], out[2], out[3]

    def match(self, terms: Sequence[str]) -> tuple[int, dict[int, int]]:
        """The entries holding every term, and those entries by score (the sum over
        terms of the weight of the best field group holding it)."""
        pool = self.everyone
        postings: dict[str, TermBits] = {}
        # cached terms first: they cost nothing and may make the pool small
        for term in sorted(set(terms), key=lambda t: t not in self._terms):
            if not pool:
                return 0, {}
            if term in self._terms or 16 * pool.bit_count() > len(self.entries):
                bits = self.term(term)
            else:
                bits = self._term_within(term, pool)
            postings[term] = bits
            pool &= bits[0] | bits[1] | bits[2] | bits[3]
        by_score = {0: pool} if pool else {}
        for term in terms:
            by_score = _add_term(by_score, postings[term])
        return pool, by_score

    def required(self, pairs: frozenset[tuple[str, str]]) -> int:
        """The entries having every (facet, value) pair of ``pairs``."""
        bits = self.everyone
        for pair in pairs:
            known = known_pair_id(pair)
            bits &= 0 if known is None else self.pairs.get(known, 0)
        return bits

    def pair_counts(self, pool: int) -> Counter[int]:
        """How many entries of ``pool`` have each (facet, value) pair, by pair id."""
        return Counter({pair: (pool & bits).bit_count() for pair, bits in self.pairs.items()})

    def page(
        self, by_score: dict[int, int], within: int, offset: int, size: int
    ) -> list[tuple[int, int]]:
        """(position, score) of the entries of ``within`` from ``offset`` (at most
        ``size``), the highest score first and by position within a score."""
        out: list[tuple[int, int]] = []
        for score in sorted(by_score, reverse=True):
            bits = by_score[score] & within
            count = bits.bit_count()
            if offset >= count:
                offset -= count
                continue
            for at in members(bits, offset):
                out.append((at, score))
                if len(out) == size:
                    return out
            offset = 0
        return out


def _add_term(by_score: dict[int, int], bits: TermBits) -> dict[int, int]:
    head, description, sources, prompt = bits
    best = (
        (WEIGHTS[0], head),
        (WEIGHTS[1], description & ~head),
        (WEIGHTS[2], sources & ~(head | description)),
        (WEIGHTS[3], prompt & ~(head | description | sources)),
    )
    out: dict[int, int] = {}
    for score, pool in by_score.items():
        for weight, group in best:
            both = pool & group
            if both:
                out[score + weight] = out.get(score + weight, 0) | both
    return out


def members(bits: int, skip: int = 0) -> Iterator[int]:
    """The set bits' positions of ``bits`` in ascending order, after the first ``skip``."""
    digits = bin(bits)[:1:-1]  # lowest bit first
    at = -1
    for _ in range(skip + 1):
        at = digits.find("1", at + 1)
        if at < 0:
            return
    while at >= 0:
        yield at
        at = digits.find("1", at + 1)


def _scan(term: str, texts: list[str]) -> int:
    """The bitset of the texts holding ``term`` (``texts`` last entry first)."""
    if not texts:
        return 0
    return int("".join(["1" if term in text else "0" for text in texts]), 2)


def _bitset_of(positions: list[int], size: int) -> int:
    digits = bytearray(b"0") * size
    for at in positions:
        digits[size - 1 - at] = 49  # "1"
    return int(digits, 2)
