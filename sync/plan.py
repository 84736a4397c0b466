"""``Plan``: the sections of a whole repo's changes, its checksum and its safety checks.

A plan is a list of sections (``sync.section.Section``): the personas, the
knowledge index, the backends and the test personas, in that order.  Everything
the plan says of itself — has it changes, its errors, its summary, its JSON, its
checksum, is it safe — is gathered from the sections the same way for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from personas_as_code.schemas.config import SafetySection
from personas_as_code.schemas.errors import StalePlan, UnsafePlan
from personas_as_code.sync.backends import BackendChange, BackendSection
from personas_as_code.sync.changes import Orphan, PersonaPlan
from personas_as_code.sync.knowledge import KnowledgeChange, KnowledgeSection
from personas_as_code.sync.normalize import sha256_of
from personas_as_code.sync.persona_section import PersonaSection
from personas_as_code.sync.section import Section, merge_into
from personas_as_code.sync.simulated_users import SimulatedUsersSection

PLAN_FORMAT_VERSION = 1
FORCE_FLAG = "--force"  # the ``apply`` option that passes the ``[safety]`` thresholds

S = TypeVar("S")

__all__ = ["FORCE_FLAG", "PLAN_FORMAT_VERSION", "Orphan", "Plan"]


@dataclass(frozen=True)
class Plan:
    """What ``apply`` would do, section by section, plus what it leaves alone."""

    sections: tuple[Section, ...]
    repo_id: str = ""
    tenant: str = ""
    prune: bool = False
    changed_since: str | None = None
    # ``personas plan SLUG…``: the personas the plan is limited to (None: the whole repo)
    targets: tuple[str, ...] | None = None
    # why ``apply`` would refuse this plan under the repo's ``[safety]`` (empty: it would not)
    refusals: tuple[str, ...] = ()
    environment: str | None = None  # the personas.toml environment planned for, if any

    def section(self, kind: type[S]) -> S:
        """The section of type ``kind``."""
        return next(s for s in self.sections if isinstance(s, kind))

    @property
    def shown_sections(self) -> list[Section]:
        """The sections in the order the text and markdown plans show them."""
        return sorted(self.sections, key=lambda s: s.display_rank)

    @property
    def has_changes(self) -> bool:
        """Whether apply would change anything."""
        return any(s.has_changes for s in self.sections)

    @property
    def errors(self) -> list[Any]:
        """The items (personas, test personas) that cannot be applied."""
        return [e for s in self.sections for e in s.errors]

    @property
    def warnings(self) -> list[str]:
        """The plan's shared warnings, section by section."""
        return [w for s in self.sections for w in s.plan_warnings]

    @property
    def progress_total(self) -> int:
        """How many progress steps apply reports."""
        return sum(s.progress_total for s in self.sections)

    def summary(self) -> dict[str, int]:
        """Counts per action and per change kind, gathered from the sections."""
        counts: dict[str, int] = {}
        for s in self.sections:
            merge_into(counts, s.plan_summary())
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The plan as the stable JSON shape (``format_version`` 1)."""
        body: dict[str, Any] = {
            "format_version": PLAN_FORMAT_VERSION,
            "repo": self.repo_id,
            "tenant": self.tenant,
            **({"environment": self.environment} if self.environment else {}),
            "changed_since": self.changed_since,
            "prune": self.prune,
            "summary": self.summary(),
        }
        # members a plan has only when they say something, so a full, safe plan keeps
        # its former shape
        if self.targets is not None:
            body["targets"] = list(self.targets)
        if self.refusals:
            body["safety"] = {
                "apply_refuses": True,
                "reasons": list(self.refusals),
                "override_flag": FORCE_FLAG,
                "command": self.override_command,
            }
        for s in self.sections:
            merge_into(body, s.json_members())
        return {"checksum": self.checksum, **body}

    @property
    def checksum(self) -> str:
        """sha256 of the changes, so ``apply --checksum`` runs only what was reviewed,
        where it was reviewed: the environment planned for (when there is one) is part
        of it.  A partial plan's checksum covers its targets too: a full apply never
        matches the checksum of a reviewed partial plan, even when both change the same."""
        entries = [entry for s in self.sections for entry in s.checksum_part()]
        if self.environment:
            entries.insert(0, {"environment": self.environment})
        if self.targets is not None:
            entries.append(["targets", sorted(self.targets)])
        return sha256_of(entries)

    @property
    def override_command(self) -> str:
        """The ``personas apply`` command that applies this plan despite its refusals."""
        words = ["personas", "apply", *(self.targets or ())]
        if self.environment:
            words += ["--env", self.environment]
        if self.prune:
            words.append("--prune")
        return " ".join([*words, FORCE_FLAG])

    def verify_checksum(self, expected: str) -> None:
        """Raise ``StalePlan`` when this plan is not the reviewed one."""
        if expected != self.checksum:
            raise StalePlan(
                f"the plan changed since it was reviewed (reviewed {expected[:12]}, now "
                f"{self.checksum[:12]}); run plan again and review the new changes"
            )

    def unsafe_reasons(self, safety: SafetySection) -> list[str]:
        """Why this plan crosses a ``[safety]`` threshold (empty: it does not)."""
        return [r for s in self.sections for r in s.unsafe_reasons(safety)]

    def raise_if_unsafe(self, safety: SafetySection, *, force: bool = False) -> None:
        """Refuse plans that update or delete too much (octoDNS-style), unless forced."""
        if force:
            return
        reasons = self.unsafe_reasons(safety)
        if reasons:
            raise UnsafePlan(
                "refusing to apply: "
                + "; ".join(reasons)
                + f" (use {FORCE_FLAG} if this is intended)",
                details={"reasons": reasons},
            )

    # Read-only views of one section, for callers that look at one kind.

    @property
    def personas(self) -> list[PersonaPlan]:
        """The persona plans (every persona file, and the pruned personas)."""
        return self.section(PersonaSection).items

    @property
    def changed(self) -> list[PersonaPlan]:
        """Persona plans that change something."""
        return self.section(PersonaSection).changed

    @property
    def orphans(self) -> list[Orphan]:
        """Owned personas whose file is gone."""
        return self.section(PersonaSection).orphans

    @property
    def unmanaged(self) -> list[str]:
        """Catalogue personas this repo does not manage."""
        return self.section(PersonaSection).unmanaged

    @property
    def knowledge(self) -> list[KnowledgeChange]:
        """The knowledge index changes."""
        return self.section(KnowledgeSection).changes

    @property
    def knowledge_note(self) -> str | None:
        """Why there are no knowledge changes (a remote catalogue), if so."""
        return self.section(KnowledgeSection).note

    @property
    def backends(self) -> list[BackendChange]:
        """The backend model changes."""
        return self.section(BackendSection).changes

    @property
    def test_personas(self) -> SimulatedUsersSection | None:
        """The test-personas section; None when the repo manages no test personas."""
        users = self.section(SimulatedUsersSection)
        return users if users.config is not None else None
