"""The personas section of a plan: one ``PersonaPlan`` per persona file or pruned
persona, the owned personas whose file is gone, and the catalogue personas this
repo does not manage.  ``sync.differ`` builds it; ``sync.persona_apply`` applies it;
``sync.render.personas`` shows it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from personas_as_code.schemas.config import SafetySection
from personas_as_code.sync.changes import Orphan, PersonaPlan
from personas_as_code.sync.persona_apply import PersonasApplied, apply_personas
from personas_as_code.sync.reconcile import ItemSection
from personas_as_code.sync.render import personas as render
from personas_as_code.sync.render.literal import StyledLine
from personas_as_code.sync.section import ApplyRun


@dataclass
class PersonaSection(ItemSection[PersonaPlan, Orphan]):
    """What the plan does to the catalogue's personas."""

    noun: ClassVar[str] = "persona"
    deletions: ClassVar[str] = "deletions"
    display_rank: ClassVar[int] = 0

    items: list[PersonaPlan] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    managed_count: int = 0
    published_managed_count: int = 0

    @property
    def has_changes(self) -> bool:
        return bool(self.changed)

    @property
    def errors(self) -> list[Any]:
        return list(self.item_errors)

    @property
    def plan_warnings(self) -> list[str]:
        return self.warnings

    @property
    def progress_total(self) -> int:
        return len(self.changed)

    def plan_summary(self) -> dict[str, int]:
        """Counts per action and per change kind."""
        actions = self.action_counts()
        kinds = Counter(c.kind for p in self.changed for c in p.changes)
        return {
            "create": actions["create"],
            "update": actions["update"] + actions["rename"],
            "rename": actions["rename"],
            "delete": actions["delete"],
            "publish": kinds["publish"],
            "unpublish": kinds["unpublish"],
            "republish": kinds["republish"],
            "source_changes": kinds["add_source"] + kinds["update_source"] + kinds["remove_source"],
            "avatar_uploads": kinds["avatar"],
            "errors": len(self.item_errors),
            "orphans_kept": len(self.kept),
            "unmanaged": len(self.unmanaged),
        }

    def checksum_part(self) -> list[Any]:
        return self.item_checksum()

    def json_members(self) -> dict[str, Any]:
        return {
            "personas": [p.to_dict() for p in self.items if p.shown],
            "orphans": [
                {
                    "slug": o.slug,
                    "persona_id": o.persona_id,
                    "path": o.path,
                    "protected": o.protected,
                    "deleted_by_this_plan": self.deleting(o.persona_id),
                }
                for o in self.orphans
            ],
            "unmanaged": list(self.unmanaged),
            "warnings": list(self.warnings),
        }

    def unsafe_reasons(self, safety: SafetySection) -> list[str]:
        reasons = self.threshold_reasons(safety)
        unpublishes = sum(
            1
            for p in self.changed
            for c in p.changes
            if c.kind in ("unpublish", "delete")
            and (c.kind == "unpublish" or getattr(c, "published", False))
        )
        published = self.published_managed_count
        if published and unpublishes >= published:
            reasons.append(f"every published managed persona ({published}) would be unpublished")
        return reasons

    def text_lines(self) -> Iterator[StyledLine]:
        return render.item_blocks(self)

    def text_trailer(self) -> Iterator[StyledLine]:
        return render.leftovers(self)

    def summary_lines(self) -> Iterator[StyledLine]:
        return render.summary_lines(self)

    def markdown(self, summary: Mapping[str, int]) -> list[str]:
        return render.markdown(self, summary)

    def apply(self, run: ApplyRun) -> PersonasApplied:
        return apply_personas(self.changed, run)

    def skipped(self) -> PersonasApplied:
        return PersonasApplied()
