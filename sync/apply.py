"""Apply a ``Plan``: every section in the plan's order, each applying itself.

The personas go first (concurrently inside their section), then the knowledge
index, the backends and the test personas.  A section's failures are recorded in
its outcome; the others still run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from personas_as_code.sync.backends import BackendOutcome, BackendsApplied
from personas_as_code.sync.knowledge import KnowledgeApplied, KnowledgeOutcome
from personas_as_code.sync.persona_apply import PersonasApplied
from personas_as_code.sync.render.literal import StyledLine
from personas_as_code.sync.section import ApplyRun, PersonaResult, SectionOutcome, merge_into
from personas_as_code.sync.simulated_users import SimulatedUsersApplied

if TYPE_CHECKING:
    from personas_as_code.sync.plan import Plan

# ``apply --format json`` shape; bumped only when a member changes meaning or goes.
APPLY_FORMAT_VERSION = 1

OutcomeT = TypeVar("OutcomeT")

__all__ = ["APPLY_FORMAT_VERSION", "ApplyResult", "PersonaResult", "apply_plan"]


@dataclass
class ApplyResult:
    """What apply did, one outcome per section of the plan, in its order."""

    outcomes: list[SectionOutcome]
    environment: str | None = None  # the personas.toml environment applied to, if any

    @classmethod
    def nothing(cls, plan: Plan) -> ApplyResult:
        """The result of applying nothing (a plan without changes)."""
        return cls([s.skipped() for s in plan.sections], plan.environment)

    def outcome(self, kind: type[OutcomeT]) -> OutcomeT:
        """The outcome of type ``kind``."""
        return next(o for o in self.outcomes if isinstance(o, kind))

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        """The result as the stable JSON shape (``format_version`` 1)."""
        body: dict[str, Any] = {"format_version": APPLY_FORMAT_VERSION, "ok": self.ok}
        if self.environment:
            body["environment"] = self.environment
        for o in self.outcomes:
            merge_into(body, o.json_members())
        return body

    def lines(self) -> Iterator[StyledLine]:
        """The apply report: each section's lines, then each one's closing lines."""
        if self.environment:
            yield StyledLine(f"Applied to environment {self.environment}:")
        for o in self.outcomes:
            yield from o.lines()
        for o in self.outcomes:
            yield from o.closing_lines()

    # Read-only views of one section's outcome, for callers that look at one kind.

    @property
    def results(self) -> list[PersonaResult]:
        """One result per persona."""
        return self.outcome(PersonasApplied).results

    @property
    def failed(self) -> list[PersonaResult]:
        """The personas that failed."""
        return self.outcome(PersonasApplied).failed

    @property
    def warnings(self) -> list[str]:
        """Apply's warnings about the personas."""
        return self.outcome(PersonasApplied).warnings

    @property
    def knowledge(self) -> KnowledgeOutcome | None:
        """What apply did to the knowledge index; None when it did nothing."""
        return self.outcome(KnowledgeApplied).outcome

    @property
    def backends(self) -> BackendOutcome | None:
        """What apply did to the backend models; None when it did nothing."""
        return self.outcome(BackendsApplied).outcome

    @property
    def test_personas(self) -> list[PersonaResult]:
        """One result per test persona (and the project's settings)."""
        return self.outcome(SimulatedUsersApplied).results

    @property
    def test_personas_failed(self) -> list[PersonaResult]:
        """The test personas that failed."""
        return self.outcome(SimulatedUsersApplied).failed


def apply_plan(plan: Plan, run: ApplyRun) -> ApplyResult:
    """Apply every section of ``plan`` in order; one section's failures do not stop the
    next."""
    return ApplyResult([s.apply(run) for s in plan.sections], plan.environment)
