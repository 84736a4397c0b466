"""Words of a query or a chunk: the one tokeniser both full-text engines are fed with."""

from __future__ import annotations

import re
from collections import Counter

MAX_QUERY_TERMS = 64
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

# Small English stop list: these words match nearly every chunk, so they only slow the
# full-text engines down and blur the ranking (PostgreSQL drops them by itself).
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing don down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other
    our ours ourselves out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours
    yourself yourselves""".split()  # noqa: SIM905 (a readable block of words)
)


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` (letters and digits; apostrophes dropped)."""
    return [w.replace("'", "").replace("’", "") for w in _WORD.findall(text.lower())]


def query_terms(text: str) -> list[str]:
    """The distinct content words of a query, in order, at most ``MAX_QUERY_TERMS``."""
    seen: dict[str, None] = {}
    for word in words(text):
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
        if len(seen) >= MAX_QUERY_TERMS:
            break
    return list(seen)


def salient_terms(text: str, exclude: set[str], limit: int) -> list[str]:
    """The most frequent content words of ``text`` not in ``exclude`` (for query expansion)."""
    counts = Counter(w for w in words(text) if w not in STOPWORDS and len(w) > 2)
    return [w for w, _ in counts.most_common() if w not in exclude][:limit]
