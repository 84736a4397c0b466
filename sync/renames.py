"""Renames a plan can see but not perform: a new persona file whose content matches an
owned catalogue persona whose file is gone (``git mv`` without ``previous_slugs``).

Without ``previous_slugs`` the differ plans a create and an orphan, and apply would
leave two published models.  ``hint_renames`` says so on the create, naming the line
to add; it changes nothing the plan does.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from personas_as_code.sync.changes import PersonaPlan
from personas_as_code.sync.normalize import comparable, sha256_of
from personas_as_code.sync.state import FIELDS, ActualPersona, DesiredPersona

# Content compared for similarity is cut to this many characters, and the pairs compared
# are capped: beyond the cap only identical content is recognised (hashes, linear).
PROMPT_CHARS = 4000
MAX_PAIRS = 10_000
SIMILAR_PROMPT = 0.9  # a prompt this close is the same persona
SIMILAR_PROMPT_SAME_NAME = 0.6  # … or this close with the same display name


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


def _prompt(fields: dict) -> str:
    value = comparable("system_prompt", fields.get("system_prompt"))
    return value[:PROMPT_CHARS] if isinstance(value, str) else ""


def _similar(want: DesiredPersona, have: ActualPersona) -> bool:
    a, b = _prompt(want.fields), _prompt(have.fields)
    if not a or not b:
        return False
    same_name = want.fields.get("name") == have.fields.get("name")
    floor = SIMILAR_PROMPT_SAME_NAME if same_name else SIMILAR_PROMPT
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= floor
        and matcher.quick_ratio() >= floor
        and (matcher.ratio() >= floor)
    )


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
    for plan in creates:
        want: DesiredPersona = plan.desired
        same = [a for a in by_key.get(_content_key(want.fields), []) if a.id not in used]
        match, identical = (same[0], True) if same else (None, False)
        if match is None and compare_all:
            match = next((a for a in gone if a.id not in used and _similar(want, a)), None)
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
