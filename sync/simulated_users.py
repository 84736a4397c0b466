"""Reconcile ``test-personas/`` into a test-personas server: plan and apply.

The same rules as personas:

* **Ownership.** Every test persona apply creates or updates carries a marker in
  ``metadata`` (``personas_as_code``: repo, slug, path, commit, spec hash,
  protect); only those carrying this repo's marker are updated or pruned, the
  others are listed as unmanaged and never touched.  A server that keeps no
  metadata (the seed's API has no such field) cannot tell what is whose: with
  ``[test_personas] ownership = "project"`` every test persona of the project
  belongs to this repo (a project the repo alone uses), matched by name.
* **Identity.** A file is matched to the test persona whose marker names its
  slug; failing that, to an owned one with its name.  A renamed ``name`` is an
  update, not delete + create (with markers).
* **Safety.** A removed file is listed, not deleted, until ``--prune``;
  ``protect: true`` blocks deletion (it is stored in the marker too); the
  ``[safety]`` thresholds count test personas on their own.
* **Order.** Deletes, then updates, then creates, so a name freed by one can be
  taken by another in the same apply.  PUT ignores nulls, so a description or
  prompt removed from a file is sent as ``""`` and headers as ``{}``.

``sync.simulated_user_differ`` builds the section; it applies itself (below);
``sync.render.simulated_users`` shows it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from personas_as_code.catalogue.factory import open_simulated_user_server
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.catalogue.simulated_user_api import TestPersonaCreate, TestPersonaUpdate
from personas_as_code.catalogue.simulated_user_store import SimulatedUserStore
from personas_as_code.loader.repo import Repo
from personas_as_code.loader.simulated_users import LoadedSimulatedUser
from personas_as_code.schemas.config import SafetySection
from personas_as_code.schemas.errors import ConfigError, PersonasError
from personas_as_code.schemas.simulated_user_config import (
    TEST_PERSONAS_DIR,
    ImageSettings,
    SimulatedUsersConfig,
)
from personas_as_code.sync.marker import MARKER_KEY
from personas_as_code.sync.reconcile import ItemSection, apply_items
from personas_as_code.sync.render import outcomes as outcome_lines
from personas_as_code.sync.render import simulated_users as render
from personas_as_code.sync.render.literal import StyledLine
from personas_as_code.sync.section import (
    ApplyRun,
    ItemsApplied,
    OutcomeDefaults,
    PersonaResult,
    SectionDefaults,
)
from personas_as_code.sync.simulated_user_changes import (
    CreateSimulatedUser,
    DeleteSimulatedUser,
    OwnSimulatedUser,
    SetImageSettings,
    SimulatedUserMarker,
    SimulatedUserOrphan,
    SimulatedUserPlan,
    UpdateSimulatedUser,
)


def desired_fields(desired: LoadedSimulatedUser) -> dict[str, Any]:
    """The fields a test persona's file asks for, as the server stores them."""
    return {
        "name": desired.name,
        "description": desired.description or "",
        "system_prompt": desired.system_prompt,
        "headers": desired.headers,
    }


def marker_for(
    desired: LoadedSimulatedUser, repo_id: str, commit: str | None = None
) -> SimulatedUserMarker:
    """The marker a test persona from ``desired`` carries."""
    return SimulatedUserMarker(
        repo=repo_id,
        slug=desired.slug,
        path=desired.path,
        commit=commit,
        spec_hash=desired.spec_hash,
        protect=desired.protect,
    )


@dataclass
class SimulatedUsersApplied(ItemsApplied, OutcomeDefaults):
    """What apply did to the test personas: one result per test persona (and one for
    the project's settings)."""

    def json_members(self) -> dict[str, Any]:
        return {"test_personas": [r.to_dict() for r in self.results]}

    def lines(self) -> Iterator[StyledLine]:
        return outcome_lines.simulated_user_lines(self.results)


@dataclass
class SimulatedUsersSection(ItemSection[SimulatedUserPlan, SimulatedUserOrphan], SectionDefaults):
    """The test-personas part of a plan: one project of one server.  ``config`` None: the
    repo manages no test personas, and the section says and does nothing.  Its warnings
    and its summary line are shown in its own block, not in the plan's."""

    noun: ClassVar[str] = "test persona"
    deletions: ClassVar[str] = "test persona deletions"
    display_rank: ClassVar[int] = 2

    config: SimulatedUsersConfig | None = None
    where: str = ""
    project: str = ""
    ownership: str = ""
    items: list[SimulatedUserPlan] = field(default_factory=list)
    settings: list[SetImageSettings] = field(default_factory=list)
    orphans: list[SimulatedUserOrphan] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    managed_count: int = 0

    @property
    def has_changes(self) -> bool:
        return bool(self.changed) or bool(self.settings)

    @property
    def errors(self) -> list[Any]:
        return list(self.item_errors)

    def summary(self) -> dict[str, int]:
        """The section's own counts per action (its JSON ``summary``)."""
        actions = self.action_counts()
        return {
            "create": actions["create"],
            "update": actions["update"],
            "delete": actions["delete"],
            "settings": len(self.settings),
            "errors": len(self.item_errors),
            "orphans_kept": len(self.kept),
            "unmanaged": len(self.unmanaged),
        }

    def plan_summary(self) -> dict[str, int]:
        return {"errors": len(self.item_errors)}

    def checksum_part(self) -> list[Any]:
        if not self.has_changes:
            return []
        data = self.item_checksum() + [s.to_dict() for s in self.settings]
        return [["test_personas", data]]

    def to_dict(self) -> dict[str, Any]:
        """The section's stable JSON shape."""
        return {
            "where": self.where,
            "project": self.project,
            "ownership": self.ownership,
            "summary": self.summary(),
            "test_personas": [p.to_dict() for p in self.items if p.shown],
            "settings": [s.to_dict() for s in self.settings],
            "orphans": [o.to_dict(self.deleting(o.persona_id)) for o in self.orphans],
            "unmanaged": list(self.unmanaged),
            "warnings": list(self.warnings),
        }

    def json_members(self) -> dict[str, Any]:
        return {} if self.config is None else {"test_personas": self.to_dict()}

    def unsafe_reasons(self, safety: SafetySection) -> list[str]:
        return [] if self.config is None else self.threshold_reasons(safety)

    def text_lines(self) -> Iterator[StyledLine]:
        return render.section_lines(self)

    def markdown(self, summary: Mapping[str, int]) -> list[str]:
        return render.section_markdown(self)

    def apply(self, run: ApplyRun) -> SimulatedUsersApplied:
        """Deletes, updates, creates, then the project's image settings; one test
        persona's failure does not stop the others."""
        if self.config is None or not self.has_changes:
            return SimulatedUsersApplied()
        repo_id = run.repo.config.repo.id
        with open_store(run.repo, run.catalogue, self.config, run.env) as store:
            results = apply_items(
                self.changed, lambda plan, result: _apply_one(plan, result, store, repo_id, run)
            )
            results += [_apply_settings(change, store, repo_id) for change in self.settings]
        return SimulatedUsersApplied(results)

    def skipped(self) -> SimulatedUsersApplied:
        return SimulatedUsersApplied()


# --- where the test personas go ----------------------------------------------------


def section_settings(repo: Repo) -> SimulatedUsersConfig | None:
    """The repo's ``[test_personas]``, defaulted when the folder exists; None: skip them."""
    section = repo.config.test_personas
    if section is not None:
        return section if section.enabled else None
    folder_exists = repo.root is not None and (repo.root / TEST_PERSONAS_DIR).is_dir()
    if repo.test_personas.files or folder_exists:
        return SimulatedUsersConfig()
    return None


@contextlib.contextmanager
def open_store(
    repo: Repo,
    catalogue: Catalogue,
    section: SimulatedUsersConfig,
    env: Mapping[str, str] = os.environ,
) -> Iterator[SimulatedUserStore]:
    """The server ``section`` names: its ``url``, else the catalogue's own (embedded in
    process, or the remote catalogue's host with its key)."""
    store: SimulatedUserStore
    if section.url:
        key = None
        if section.api_key_env:
            key = env.get(section.api_key_env)
            if not key:
                raise ConfigError(
                    f"[test_personas] api_key_env names {section.api_key_env}, which is not set"
                )
        store = open_simulated_user_server(section.url, key, section.project)
    else:
        store = catalogue.simulated_user_store(section.project)
    try:
        yield store
    finally:
        store.close()


# --- apply -------------------------------------------------------------------------


def _metadata(desired: LoadedSimulatedUser, repo_id: str, commit: str | None) -> dict[str, Any]:
    return {MARKER_KEY: marker_for(desired, repo_id, commit).model_dump()}


def _apply_one(
    plan: SimulatedUserPlan,
    result: PersonaResult,
    store: SimulatedUserStore,
    repo_id: str,
    run: ApplyRun,
) -> None:
    done: list[str] = []  # recorded only once every step has run
    persona_id = plan.persona_id
    for change in plan.changes:
        if isinstance(change, DeleteSimulatedUser):
            assert persona_id is not None
            store.delete(persona_id)
        elif isinstance(change, CreateSimulatedUser):
            desired = plan.desired
            assert desired is not None
            created = store.create(
                TestPersonaCreate(
                    name=desired.name,
                    description=desired.description or None,
                    system_prompt=desired.system_prompt or None,
                    headers=desired.headers or None,
                    metadata=_metadata(desired, repo_id, run.commit),
                )
            )
            persona_id = created.id
        elif isinstance(change, UpdateSimulatedUser | OwnSimulatedUser):
            if done and done[-1] == "update":
                continue  # the marker travelled with the field update
            assert persona_id is not None and plan.desired is not None
            values = desired_fields(plan.desired)
            store.update(
                persona_id,
                TestPersonaUpdate(
                    name=values["name"],
                    description=values["description"],
                    system_prompt=values["system_prompt"],
                    headers=values["headers"],
                    metadata=_metadata(plan.desired, repo_id, run.commit),
                ),
            )
        done.append(change.kind)
    result.done = done


def _apply_settings(
    change: SetImageSettings, store: SimulatedUserStore, repo_id: str
) -> PersonaResult:
    result = PersonaResult("(project settings)", "image_settings")
    try:
        wanted = ImageSettings.model_validate(change.after) if change.after else None
        store.set_image_settings(wanted, managed_by=repo_id)
        result.done.append(change.kind)
    except PersonasError as exc:  # anything else is a bug, and stops the apply
        result.error, result.error_code = exc.message, exc.code
    return result
