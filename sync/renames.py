"""Renames a plan can see but not perform: a new persona file whose content matches an
owned catalogue persona whose file is gone (``git mv`` without ``previous_slugs``).

Without ``previous_slugs`` the differ plans a create and an orphan, and apply would
leave two published models.  ``hint_renames`` says so on the create, naming the line
to add; it changes nothing the plan does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from personas_as_code.sync.changes import PersonaPlan
from personas_as_code.sync.normalize import comparable, sha256_of
from personas_as_code.sync.state import FIELDS, ActualPersona, DesiredPersona

# A prompt is compared as its set of word pairs (Jaccard similarity: linear in its size,
# each set made once), cut to this many characters; the pairs of personas compared are
# capped: beyond the cap only identical content is recognised (hashes, linear).
PROMPT_CHARS = 20_000
MAX_PAIRS = 10_000
SIMILAR_PROMPT = 0.8  # prompts this alike are the same persona
SIMILAR_PROMPT_SAME_NAME = 0.5  # … or this alike with the same display name


@dataclass(frozen=True)
class RenameHint:
    """A created persona that looks like a renamed orphan."""

    old_slug: str
    new_slug: str
    path: str | None
    identical: bool  # same content apart from the slug (else: similar)

    def warning(self) -> str:
        """The plan's sentence for it, naming the line to add."""
        how = "has the same content apart from the slug" if self.identical else "is very similar"
        where = self.path or "the new file"
        return (
            f"looks like a rename of {self.old_slug}, whose file is gone ({how}); add "
            f"`previous_slugs: [{self.old_slug}]` to {where} so apply renames {self.old_slug} "
            f"instead of creating {self.new_slug} beside it"
        )


def _content_key(fields: dict) -> str:
    return sha256_of({n: comparable(n, fields.get(n)) for n in FIELDS if n != "slug"})


def _word_pairs(fields: dict) -> frozenset[tuple[str, str]]:
    value = comparable("system_prompt", fields.get("system_prompt"))
    words = value[:PROMPT_CHARS].lower().split() if isinstance(value, str) else []
    return frozenset(itertools.pairwise(words))


def _similar(
    want: DesiredPersona,
    want_pairs: frozenset[tuple[str, str]],
    have: ActualPersona,
    have_pairs: frozenset[tuple[str, str]],
) -> bool:
    if not want_pairs or not have_pairs:
        return False
    same_name = want.fields.get("name") == have.fields.get("name")
    floor = SIMILAR_PROMPT_SAME_NAME if same_name else SIMILAR_PROMPT
    shared = len(want_pairs & have_pairs)
    return shared >= floor * len(want_pairs | have_pairs)


def find_renames(creates: list[PersonaPlan], gone: list[ActualPersona]) -> list[RenameHint]:
    """For each created persona, the orphan it most likely was (each orphan used once)."""
    if not creates or not gone:
        return []
    by_key: dict[str, list[ActualPersona]] = {}
    for have in gone:
        by_key.setdefault(_content_key(have.fields), []).append(have)
    hints: list[RenameHint] = []
    used: set[str] = set()
    compare_all = len(creates) * len(gone) <= MAX_PAIRS
    gone_pairs = {a.id: _word_pairs(a.fields) for a in gone} if compare_all else {}
    for plan in creates:
        want: DesiredPersona = plan.desired
        same = [a for a in by_key.get(_content_key(want.fields), []) if a.id not in used]
        match, identical = (same[0], True) if same else (None, False)
        if match is None and compare_all:
            pairs = _word_pairs(want.fields)
            match = next(
                (
                    a
                    for a in gone
                    if a.id not in used and _similar(want, pairs, a, gone_pairs[a.id])
                ),
                None,
            )
        if match is not None:
            used.add(match.id)
            hints.append(RenameHint(match.slug, plan.slug, plan.path, identical))
    return hints


def hint_renames(creates: list[PersonaPlan], gone: list[ActualPersona]) -> list[RenameHint]:
    """Add each rename hint to its created persona's warnings; return the hints."""
    hints = find_renames(creates, gone)
    by_slug = {p.slug: p for p in creates}
    for hint in hints:
        plan = by_slug[hint.new_slug]
        plan.warnings.append(hint.warning())
        plan.rename_of = hint.old_slug
    return hints
