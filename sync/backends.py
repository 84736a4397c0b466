"""Backend changes in the plan, and storing them on apply.

``[backends]`` in ``personas.toml`` is the desired state: which provider each of
the catalogue's backend models calls (``schemas.config.BackendSettings``).  The
embedded catalogue's backend models are the actual state (``catalogue.backends``).
Planning only reads.  A backend this repo configured (``managed_by`` its repo id)
whose entry is gone goes back to ``mirror``; backends nobody configured here are
left alone.  A remote ScaiGrid configures its providers itself: the plan says the
section is not applied there.  API keys are never part of this: only the name of
the variable that holds one.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.repo import Repo
from personas_as_code.schemas.errors import PersonasError
from personas_as_code.sync.render import backends as render
from personas_as_code.sync.render import outcomes as outcome_lines
from personas_as_code.sync.render.literal import StyledLine
from personas_as_code.sync.section import ApplyRun, OneStepApplied, SectionDefaults

MIRROR = {"provider": "mirror"}
GONE = "no longer in personas.toml"
REMOTE_NOTE = (
    "[backends] in personas.toml is not applied to a remote ScaiGrid ({count} backend(s)); "
    "configure its providers in ScaiGrid"
)


@dataclass(frozen=True)
class BackendChange:
    """One backend model's provider change, as the plan shows it."""

    backend_model: str
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str | None = None

    def describe(self) -> str:
        """``mirror → openai http://127.0.0.1:11434/v1 (model llama3.1)``."""
        from personas_as_code.catalogue.backends import describe

        text = f"{describe(self.before)} → {describe(self.after)}"
        return f"{text} ({self.reason})" if self.reason else text

    def to_dict(self) -> dict[str, Any]:
        """The change as plan JSON."""
        return {
            "backend_model": self.backend_model,
            "before": dict(self.before),
            "after": dict(self.after),
            "reason": self.reason,
        }


@dataclass
class BackendSection(SectionDefaults):
    """The backend part of a plan: changes, warnings, or a note saying why there are none."""

    display_rank: ClassVar[int] = 3  # shown after the test personas

    changes: list[BackendChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def plan_warnings(self) -> list[str]:
        return self.warnings

    def plan_summary(self) -> dict[str, int]:
        return {"backend_changes": len(self.changes)}

    def checksum_part(self) -> list[Any]:
        return [["backends", [b.to_dict() for b in self.changes]]] if self.changes else []

    def json_members(self) -> dict[str, Any]:
        return {
            "warnings": list(self.warnings),
            "backends": [b.to_dict() for b in self.changes],
            "backends_note": self.note,
        }

    def text_lines(self) -> Iterator[StyledLine]:
        return render.lines(self)

    def summary_lines(self) -> Iterator[StyledLine]:
        return render.summary_lines(self)

    def markdown(self, summary: Mapping[str, int]) -> list[str]:
        return render.markdown(self)

    def apply(self, run: ApplyRun) -> BackendsApplied:
        if not self.changes:
            return BackendsApplied()
        return BackendsApplied(apply_backends(run.repo, run.catalogue, self.changes))

    def skipped(self) -> BackendsApplied:
        return BackendsApplied()


def local_model_warnings(slug: str, settings: dict[str, Any]) -> list[str]:
    """What a ``local`` backend will miss when called: the ``[local]`` extra or its model
    file (looked up without importing llama.cpp, so planning stays fast)."""
    from personas_as_code.inference.local_llama import INSTALL_HINT, default_model_path

    warnings = []
    if importlib.util.find_spec("llama_cpp") is None:
        warnings.append(
            f"[backends] {slug!r} is local, but llama-cpp-python is not installed "
            f"({INSTALL_HINT}); its calls will fail"
        )
    if settings.get("model_path"):
        if not Path(settings["model_path"]).is_file():
            warnings.append(
                f"[backends] {slug!r}: the model file {settings['model_path']} does not exist"
            )
    else:
        try:
            default_model_path()
        except PersonasError as exc:
            warnings.append(f"[backends] {slug!r}: {exc.message}")
    return warnings


def plan_backends(repo: Repo, catalogue: Catalogue) -> BackendSection:
    """What apply would change in the backend models; reads and writes nothing."""
    wanted = repo.config.backends
    stored = catalogue.backend_models()
    if stored is None:
        return BackendSection(note=REMOTE_NOTE.format(count=len(wanted)) if wanted else None)
    # the backend models live in the embedded catalogue's tables (SQLAlchemy): imported
    # only here, so a plan over HTTP never loads them
    from personas_as_code.catalogue.backends import wanted_settings

    states = {s.slug: s for s in stored.states()}
    plan = BackendSection()
    for slug, settings in sorted(wanted.items()):
        state = states.get(slug)
        if state is None:
            known = ", ".join(sorted(states)) or "none"
            plan.warnings.append(
                f"[backends] names {slug!r}, which is not a backend model of the catalogue "
                f"(it has: {known}); that entry is not applied"
            )
            continue
        after = wanted_settings(settings, root=repo.root, backend_model=slug)
        if after["provider"] == "local":
            plan.warnings += local_model_warnings(slug, after)
        if state.settings != after:
            plan.changes.append(BackendChange(slug, state.settings, after))
    repo_id = repo.config.repo.id
    for slug, state in sorted(states.items()):
        if slug not in wanted and state.managed_by == repo_id and state.settings != MIRROR:
            plan.changes.append(BackendChange(slug, state.settings, dict(MIRROR), GONE))
    return plan


@dataclass
class BackendOutcome:
    """What apply did to the backend models (or why it failed)."""

    lines: list[str] = field(default_factory=list)
    error: str | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "backends": list(self.lines),
            "error": self.error,
            "error_code": self.error_code,
        }


@dataclass
class BackendsApplied(OneStepApplied[BackendOutcome]):
    """What apply did to the backends section: ``outcome`` is None when it did nothing."""

    key: ClassVar[str] = "backends"

    def lines(self) -> Iterator[StyledLine]:
        return outcome_lines.backend_lines(self.outcome)


def apply_backends(
    repo: Repo, catalogue: Catalogue, changes: list[BackendChange]
) -> BackendOutcome:
    """Store each change's provider settings in its backend model's ``connection_config``."""
    outcome = BackendOutcome()
    stored = catalogue.backend_models()
    if stored is None:
        return outcome
    from personas_as_code.catalogue.backends import describe

    for change in changes:
        managed_by = None if change.reason == GONE else repo.config.repo.id
        try:
            stored.configure(change.backend_model, change.after, managed_by=managed_by)
        except KeyError:
            outcome.error = f"backend model {change.backend_model!r} is gone from the catalogue"
            outcome.error_code = "NOT_FOUND"
            return outcome
        except PersonasError as exc:
            outcome.error, outcome.error_code = exc.message, exc.code
            return outcome
        outcome.lines.append(f"{change.backend_model}: {describe(change.after)}")
    return outcome
