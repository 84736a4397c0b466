"""The shape every part of a plan has: a ``Section`` plans, applies, renders and
summarises itself, so the ``Plan``, ``apply`` and the CLI treat all parts alike
(octoDNS's ``Plan`` of ``Change``s, one level up).

A section is built once, complete, by the code that compares its desired and
actual state (``sync.differ`` for the personas, ``sync.knowledge``,
``sync.backends``, ``sync.simulated_users``); nothing is added to it later.

Sections share the plan's top-level JSON members and counts: where two give the
same key, the plan holds one value, in the order the sections come (lists are
joined, counts added).  ``merge_into`` does that for the plan and the apply result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.repo import Repo
from personas_as_code.schemas.config import SafetySection
from personas_as_code.schemas.errors import PersonasError
from personas_as_code.sync.render.literal import StyledLine

if TYPE_CHECKING:
    from personas_as_code.sync.differ import DiffContext


@dataclass
class PersonaResult:
    """What apply did for one item of a section (a persona, a test persona)."""

    slug: str
    action: str
    done: list[str] = field(default_factory=list)
    error: str | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """The result as apply JSON."""
        return {
            "slug": self.slug,
            "action": self.action,
            "done": self.done,
            "error": self.error,
            "error_code": self.error_code,
        }


def run_item(result: PersonaResult, step: Callable[[PersonaResult], None]) -> PersonaResult:
    """Run ``step`` for one item, recording its failure in ``result`` instead of raising:
    one item's failure does not stop the others."""
    try:
        step(result)
    except PersonasError as exc:
        result.error, result.error_code = exc.message, exc.code
    except Exception as exc:
        result.error, result.error_code = f"{type(exc).__name__}: {exc}", "UNEXPECTED"
    return result


@dataclass
class ApplyRun:
    """What every section's ``apply`` may use: the repo, the catalogue and the run's options."""

    repo: Repo
    catalogue: Catalogue
    ctx: DiffContext
    commit: str | None
    concurrency: int = 4
    on_done: Callable[[PersonaResult], None] | None = None
    on_indexed: Callable[[str, int], None] | None = None
    """A knowledge source is indexed: its label (``type:id``) and the documents written."""
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)


class SectionOutcome(Protocol):
    """What apply did to one section."""

    @property
    def ok(self) -> bool: ...

    def json_members(self) -> dict[str, Any]:
        """Its members of the apply JSON (``format_version`` 1)."""
        ...

    def lines(self) -> Iterator[StyledLine]:
        """Its lines of the apply report."""
        ...

    def closing_lines(self) -> Iterator[StyledLine]:
        """Its lines at the end of the apply report, after every section's ``lines``."""
        ...


class Section(Protocol):
    """One kind of thing a plan covers: what it changes, and how it is applied and shown."""

    @property
    def display_rank(self) -> int:
        """Where it is shown in the text and markdown plan (the JSON, the checksum and
        apply follow the plan's order of sections)."""
        ...

    @property
    def has_changes(self) -> bool:
        """Whether applying it would change anything."""
        ...

    @property
    def errors(self) -> list[Any]:
        """Its items that cannot be applied."""
        ...

    @property
    def plan_warnings(self) -> list[str]:
        """Its warnings in the plan's shared list."""
        ...

    @property
    def progress_total(self) -> int:
        """How many times apply reports progress (``ApplyRun.on_done``) for it."""
        ...

    def plan_summary(self) -> dict[str, int]:
        """Its counts in the plan's summary."""
        ...

    def checksum_part(self) -> list[Any]:
        """Its entries of the list the plan checksum is taken over."""
        ...

    def json_members(self) -> dict[str, Any]:
        """Its top-level members of the plan JSON."""
        ...

    def unsafe_reasons(self, safety: SafetySection) -> list[str]:
        """Why applying it would cross a ``[safety]`` threshold (empty: safe)."""
        ...

    def text_lines(self) -> Iterator[StyledLine]:
        """Its block of the text plan."""
        ...

    def text_trailer(self) -> Iterator[StyledLine]:
        """Its lines after every section's block (before the plan's warnings)."""
        ...

    def summary_lines(self) -> Iterator[StyledLine]:
        """Its lines of the text plan's closing summary."""
        ...

    def markdown(self, summary: Mapping[str, int]) -> list[str]:
        """Its part of the PR comment; ``summary`` is the plan's."""
        ...

    def apply(self, run: ApplyRun) -> SectionOutcome:
        """Apply it; failures are recorded in the outcome, not raised."""
        ...

    def skipped(self) -> SectionOutcome:
        """The outcome of not applying it (a plan without changes)."""
        ...


class SectionDefaults:
    """What a section has when it has nothing of the kind: no items in error, no shared
    warnings, no progress steps, nothing the ``[safety]`` limits count, no trailer and
    no closing summary lines."""

    @property
    def errors(self) -> list[Any]:
        return []

    @property
    def plan_warnings(self) -> list[str]:
        return []

    @property
    def progress_total(self) -> int:
        return 0

    def unsafe_reasons(self, safety: SafetySection) -> list[str]:
        return []

    def text_trailer(self) -> Iterator[StyledLine]:
        return iter(())

    def summary_lines(self) -> Iterator[StyledLine]:
        return iter(())


class OutcomeDefaults:
    """What an outcome has when it has no closing lines."""

    def closing_lines(self) -> Iterator[StyledLine]:
        return iter(())


class SingleOutcome(Protocol):
    """The outcome of a section that applies as one step (the knowledge index, the
    backends): whether it worked, and its JSON."""

    @property
    def ok(self) -> bool: ...

    def to_dict(self) -> dict[str, Any]: ...


Outcome = TypeVar("Outcome", bound=SingleOutcome)


@dataclass
class OneStepApplied(OutcomeDefaults, Generic[Outcome]):
    """What apply did to a one-step section: ``outcome`` is None when it did nothing.
    ``key`` names its member of the apply JSON."""

    key: ClassVar[str]
    outcome: Outcome | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is None or self.outcome.ok

    def json_members(self) -> dict[str, Any]:
        return {self.key: self.outcome.to_dict() if self.outcome else None}


@dataclass
class ItemsApplied:
    """What apply did to a section of items (personas, test personas): one result each."""

    results: list[PersonaResult] = field(default_factory=list)

    @property
    def failed(self) -> list[PersonaResult]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed


def merge_into(target: dict[str, Any], members: Mapping[str, Any]) -> dict[str, Any]:
    """Add one section's members to ``target``: a key already there keeps its place and
    gets the sum (counts) or the concatenation (lists) of both values."""
    for key, value in members.items():
        if key not in target:
            target[key] = value
        elif isinstance(value, list):
            target[key] = [*target[key], *value]
        else:
            target[key] = target[key] + value
    return target
