"""``Plan``: the typed changes for a whole repo, its checksum and its safety checks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from personas_as_code.schemas.config import SafetySection
from personas_as_code.schemas.errors import StalePlan, UnsafePlan
from personas_as_code.sync.backends import BackendChange
from personas_as_code.sync.changes import PersonaPlan
from personas_as_code.sync.knowledge import KnowledgeChange, changed_count
from personas_as_code.sync.normalize import sha256_of
from personas_as_code.sync.safety import threshold_reasons

if TYPE_CHECKING:
    from personas_as_code.sync.simulated_users import TestPersonaSection

PLAN_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Orphan:
    """An owned catalogue persona whose file is gone."""

    slug: str
    persona_id: str
    path: str | None
    protected: bool
    published: bool


@dataclass
class Plan:
    """What ``apply`` would do, persona by persona, plus what it leaves alone."""

    personas: list[PersonaPlan]
    orphans: list[Orphan] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    managed_count: int = 0
    published_managed_count: int = 0
    prune: bool = False
    changed_since: str | None = None
    repo_id: str = ""
    tenant: str = ""
    warnings: list[str] = field(default_factory=list)
    knowledge: list[KnowledgeChange] = field(default_factory=list)
    knowledge_note: str | None = None
    backends: list[BackendChange] = field(default_factory=list)
    backends_note: str | None = None
    test_personas: TestPersonaSection | None = None  # None: the repo manages none

    @property
    def changed(self) -> list[PersonaPlan]:
        """Persona plans that change something."""
        return [p for p in self.personas if p.has_changes]

    @property
    def errors(self) -> list[Any]:
        """Persona plans (and test persona plans) that cannot be applied."""
        tests = self.test_personas.errors if self.test_personas else []
        return [p for p in self.personas if p.error] + tests

    @property
    def has_changes(self) -> bool:
        """Whether apply would change anything (personas, the knowledge index, test personas)."""
        tests = self.test_personas is not None and self.test_personas.has_changes
        return bool(self.changed) or bool(self.knowledge) or tests or bool(self.backends)

    def summary(self) -> dict[str, int]:
        """Counts per action and per change kind."""
        actions = Counter(p.action for p in self.changed)
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
            "errors": len(self.errors),
            "orphans_kept": len([o for o in self.orphans if not self._deleting(o.slug)]),
            "unmanaged": len(self.unmanaged),
            "knowledge_changes": len(self.knowledge),
            "backend_changes": len(self.backends),
        }

    def knowledge_summary(self) -> dict[str, int]:
        """Sources and documents the knowledge changes touch."""
        return changed_count(self.knowledge)

    def _deleting(self, slug: str) -> bool:
        return any(p.slug == slug and p.action == "delete" for p in self.personas)

    def to_dict(self) -> dict[str, Any]:
        """The plan as the stable JSON shape (``format_version`` 1)."""
        body = {
            "format_version": PLAN_FORMAT_VERSION,
            "repo": self.repo_id,
            "tenant": self.tenant,
            "changed_since": self.changed_since,
            "prune": self.prune,
            "summary": self.summary(),
            "personas": [
                p.to_dict() for p in self.personas if p.has_changes or p.error or p.warnings
            ],
            "orphans": [
                {
                    "slug": o.slug,
                    "persona_id": o.persona_id,
                    "path": o.path,
                    "protected": o.protected,
                    "deleted_by_this_plan": self._deleting(o.slug),
                }
                for o in self.orphans
            ],
            "unmanaged": list(self.unmanaged),
            "warnings": list(self.warnings),
            "knowledge": [k.to_dict() for k in self.knowledge],
            "knowledge_note": self.knowledge_note,
            "backends": [b.to_dict() for b in self.backends],
            "backends_note": self.backends_note,
        }
        if self.test_personas is not None:
            body["test_personas"] = self.test_personas.to_dict()
        return {"checksum": self.checksum, **body}

    @property
    def checksum(self) -> str:
        """sha256 of the changes, so ``apply --checksum`` runs only what was reviewed."""
        changes: list[Any] = [
            [p.slug, p.action, p.persona_id, [c.to_dict() for c in p.changes]]
            for p in self.personas
            if p.has_changes
        ]
        if self.knowledge:  # plans without knowledge changes keep their former checksum
            changes.append(["knowledge", [k.to_dict() for k in self.knowledge]])
        if self.backends:
            changes.append(["backends", [b.to_dict() for b in self.backends]])
        if self.test_personas is not None and self.test_personas.has_changes:
            changes.append(["test_personas", self.test_personas.checksum_data()])
        return sha256_of(changes)

    def verify_checksum(self, expected: str) -> None:
        """Raise ``StalePlan`` when this plan is not the reviewed one."""
        if expected != self.checksum:
            raise StalePlan(
                f"the plan changed since it was reviewed (reviewed {expected[:12]}, now "
                f"{self.checksum[:12]}); run plan again and review the new changes"
            )

    def raise_if_unsafe(self, safety: SafetySection, *, force: bool = False) -> None:
        """Refuse plans that update or delete too much (octoDNS-style), unless forced."""
        if force:
            return
        updates = sum(1 for p in self.changed if p.action in ("update", "rename"))
        deletes = sum(1 for p in self.changed if p.action == "delete")
        unpublishes = sum(
            1
            for p in self.changed
            for c in p.changes
            if c.kind in ("unpublish", "delete")
            and (c.kind == "unpublish" or getattr(c, "published", False))
        )
        reasons = threshold_reasons(
            safety,
            updates=updates,
            deletes=deletes,
            managed=self.managed_count,
            noun="persona",
            deletions="deletions",
        )
        published = self.published_managed_count
        if published and unpublishes >= published:
            reasons.append(f"every published managed persona ({published}) would be unpublished")
        if self.test_personas is not None:
            reasons += self.test_personas.unsafe_reasons(safety)
        if reasons:
            raise UnsafePlan(
                "refusing to apply: " + "; ".join(reasons) + " (use --force if this is intended)",
                details={"reasons": reasons},
            )
