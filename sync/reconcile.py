"""The reconciler's shared pieces for catalogue objects a repo owns one file each of
(personas, simulated users): the plan of one item, one owned object whose file is
gone, and the section over both (what changes, what is kept, what is unsafe).

Each kind adds its own fields, JSON shape and apply steps; what is the same for
both lives here once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, ClassVar, Generic, TypeVar

from personas_as_code.schemas.config import SafetySection
from personas_as_code.sync.changes import ItemPlan, Leftover
from personas_as_code.sync.safety import threshold_reasons
from personas_as_code.sync.section import PersonaResult, run_item

P = TypeVar("P", bound=ItemPlan)
L = TypeVar("L", bound=Leftover)


class ItemSection(Generic[P, L]):
    """What a section of owned items derives from its items and leftovers.

    Subclasses are dataclasses with the fields ``items``, ``orphans``, ``unmanaged``
    and ``managed_count``.
    """

    noun: ClassVar[str]  # one item, in the safety reasons: "persona"
    deletions: ClassVar[str]  # the delete cap's subject: "deletions"

    items: list[P]
    orphans: list[L]
    unmanaged: list[str]
    managed_count: int

    @property
    def changed(self) -> list[P]:
        """Items that change something."""
        return [p for p in self.items if p.has_changes]

    @property
    def item_errors(self) -> list[P]:
        """Items that cannot be applied."""
        return [p for p in self.items if p.error]

    def deleting(self, persona_id: str) -> bool:
        """Whether this plan deletes the object ``persona_id``."""
        return any(p.persona_id == persona_id and p.action == "delete" for p in self.items)

    @property
    def kept(self) -> list[L]:
        """Leftovers this plan does not delete."""
        deleted = {p.persona_id for p in self.items if p.action == "delete"}
        return [o for o in self.orphans if o.persona_id not in deleted]

    def action_counts(self) -> Counter[str]:
        """How many changed items per action."""
        return Counter(p.action for p in self.changed)

    def item_checksum(self) -> list[Any]:
        """The checksum entries of the changed items."""
        return [p.checksum_entry() for p in self.changed]

    def threshold_reasons(self, safety: SafetySection) -> list[str]:
        """Why the updates and deletes of this section cross a ``[safety]`` threshold."""
        actions = self.action_counts()
        return threshold_reasons(
            safety,
            updates=actions["update"] + actions["rename"],
            deletes=actions["delete"],
            managed=self.managed_count,
            noun=self.noun,
            deletions=self.deletions,
        )


def apply_items(
    items: Sequence[P],
    step: Callable[[P, PersonaResult], None],
    *,
    concurrency: int = 1,
    on_done: Callable[[PersonaResult], None] | None = None,
) -> list[PersonaResult]:
    """Run ``step`` for each item, ``concurrency`` at once; one item's failure is its
    result's error and does not stop the others.  Results come in completion order."""

    def one(item: P) -> PersonaResult:
        result = run_item(PersonaResult(item.slug, item.action), lambda r: step(item, r))
        if on_done is not None:
            on_done(result)
        return result

    if concurrency <= 1:
        return [one(item) for item in items]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [f.result() for f in as_completed([pool.submit(one, item) for item in items])]
