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

Nothing here prints; ``sync.render.simulated_users`` renders the section.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.kinds import as_embedded
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.catalogue.simulated_user_api import (
    TestPersona,
    TestPersonaCreate,
    TestPersonaUpdate,
)
from personas_as_code.catalogue.simulated_user_store import (
    EmbeddedSimulatedUsers,
    HttpSimulatedUsers,
    SimulatedUserStore,
)
from personas_as_code.loader.repo import Repo
from personas_as_code.loader.simulated_users import LoadedSimulatedUser
from personas_as_code.schemas.config import SafetySection
from personas_as_code.schemas.errors import ConfigError, PersonasError
from personas_as_code.schemas.simulated_user_config import (
    TEST_PERSONAS_DIR,
    ImageSettings,
    SimulatedUsersSection,
)
from personas_as_code.sync.apply import PersonaResult
from personas_as_code.sync.changes import (
    Change,
    CreateWithFields,
    FieldDiff,
    SetMarker,
    UpdateWithDiffs,
)
from personas_as_code.sync.gitinfo import changed_since
from personas_as_code.sync.marker import MARKER_KEY, read_marker_as
from personas_as_code.sync.normalize import normalize_text
from personas_as_code.sync.safety import threshold_reasons
from pydantic import BaseModel, ConfigDict

FIELDS = ("name", "description", "system_prompt", "headers")


class TestPersonaMarker(BaseModel):
    """Ownership marker of a test persona (``metadata.personas_as_code``)."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="ignore")

    repo: str
    slug: str
    path: str
    commit: str | None = None
    spec_hash: str | None = None
    protect: bool = False

    def identity(self) -> tuple[str, str, str, bool]:
        """What the plan compares (commit and spec hash change with every edit)."""
        return (self.repo, self.slug, self.path, self.protect)


def read_marker(metadata: dict[str, Any] | None) -> TestPersonaMarker | None:
    """The marker in ``metadata``, or None when absent or unreadable."""
    return read_marker_as(metadata, TestPersonaMarker)


# --- changes -----------------------------------------------------------------------


@dataclass(frozen=True)
class TestPersonaChange(Change):
    """Base of the test-persona change kinds."""

    __test__: ClassVar[bool] = False  # not a pytest test class


@dataclass(frozen=True)
class CreateTestPersona(CreateWithFields, TestPersonaChange):
    kind: ClassVar[str] = "create"


@dataclass(frozen=True)
class UpdateTestPersona(UpdateWithDiffs, TestPersonaChange):
    kind: ClassVar[str] = "update"


@dataclass(frozen=True)
class OwnTestPersona(SetMarker, TestPersonaChange):
    """Only the ownership marker changes (file moved, protect toggled, first marker)."""

    kind: ClassVar[str] = "ownership"


@dataclass(frozen=True)
class DeleteTestPersona(TestPersonaChange):
    kind: ClassVar[str] = "delete"


@dataclass(frozen=True)
class SetImageSettings(TestPersonaChange):
    """The project's image endpoint (``[test_personas.images]``) changes."""

    kind: ClassVar[str] = "image_settings"
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "before": self.before, "after": self.after}


@dataclass
class TestPersonaPlan:
    """Everything the plan says about one test persona."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    slug: str
    path: str | None
    action: str  # create | update | delete | error
    name: str
    persona_id: str | None = None
    changes: list[TestPersonaChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    desired: LoadedSimulatedUser | None = field(default=None, repr=False, compare=False)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "path": self.path,
            "name": self.name,
            "action": self.action,
            "id": self.persona_id,
            "changes": [c.to_dict() for c in self.changes],
            "warnings": list(self.warnings),
            "error": self.error,
        }


@dataclass(frozen=True)
class TestPersonaOrphan:
    """An owned test persona whose file is gone."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    slug: str
    name: str
    persona_id: str
    path: str | None
    protected: bool


@dataclass
class TestPersonaSection:
    """The test-personas part of a plan: one project of one server."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    where: str
    project: str
    ownership: str
    items: list[TestPersonaPlan] = field(default_factory=list)
    settings: list[SetImageSettings] = field(default_factory=list)
    orphans: list[TestPersonaOrphan] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    managed_count: int = 0

    @property
    def changed(self) -> list[TestPersonaPlan]:
        return [p for p in self.items if p.has_changes]

    @property
    def errors(self) -> list[TestPersonaPlan]:
        return [p for p in self.items if p.error]

    @property
    def has_changes(self) -> bool:
        return bool(self.changed) or bool(self.settings)

    def deleting(self, persona_id: str) -> bool:
        return any(p.persona_id == persona_id and p.action == "delete" for p in self.items)

    def summary(self) -> dict[str, int]:
        """Counts per action."""
        actions = [p.action for p in self.changed]
        return {
            "create": actions.count("create"),
            "update": actions.count("update"),
            "delete": actions.count("delete"),
            "settings": len(self.settings),
            "errors": len(self.errors),
            "orphans_kept": sum(1 for o in self.orphans if not self.deleting(o.persona_id)),
            "unmanaged": len(self.unmanaged),
        }

    def checksum_data(self) -> list[Any]:
        """What the plan checksum covers of this section."""
        return [
            [p.slug, p.action, p.persona_id, [c.to_dict() for c in p.changes]] for p in self.changed
        ] + [s.to_dict() for s in self.settings]

    def to_dict(self) -> dict[str, Any]:
        """The section's stable JSON shape."""
        return {
            "where": self.where,
            "project": self.project,
            "ownership": self.ownership,
            "summary": self.summary(),
            "test_personas": [
                p.to_dict() for p in self.items if p.has_changes or p.error or p.warnings
            ],
            "settings": [s.to_dict() for s in self.settings],
            "orphans": [
                {
                    "slug": o.slug,
                    "name": o.name,
                    "id": o.persona_id,
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
        """Why applying this section would cross a safety threshold (empty: safe)."""
        updates = sum(1 for p in self.changed if p.action == "update")
        deletes = sum(1 for p in self.changed if p.action == "delete")
        return threshold_reasons(
            safety,
            updates=updates,
            deletes=deletes,
            managed=self.managed_count,
            noun="test persona",
            deletions="test persona deletions",
        )


# --- where the test personas go ----------------------------------------------------


def section_settings(repo: Repo) -> SimulatedUsersSection | None:
    """The repo's ``[test_personas]``, defaulted when the folder exists; None: skip them."""
    section = repo.config.test_personas
    if section is not None:
        return section if section.enabled else None
    folder_exists = repo.root is not None and (repo.root / TEST_PERSONAS_DIR).is_dir()
    if repo.test_personas.files or folder_exists:
        return SimulatedUsersSection()
    return None


@contextlib.contextmanager
def open_store(
    repo: Repo,
    catalogue: Catalogue,
    section: SimulatedUsersSection,
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
        store = HttpSimulatedUsers(section.url, key, section.project)
    elif (embedded := as_embedded(catalogue)) is not None:
        store = EmbeddedSimulatedUsers(embedded.engine, embedded.caller, section.project)
    elif isinstance(catalogue, HttpCatalogue):
        store = HttpSimulatedUsers.beside(catalogue, section.project)
    else:
        raise ConfigError("set [test_personas] url: this catalogue serves no test-personas API")
    try:
        yield store
    finally:
        store.close()


# --- diff --------------------------------------------------------------------------


def _fields(desired: LoadedSimulatedUser) -> dict[str, Any]:
    return {
        "name": desired.name,
        "description": desired.description or "",
        "system_prompt": desired.system_prompt,
        "headers": desired.headers,
    }


def _actual_fields(actual: TestPersona) -> dict[str, Any]:
    return {
        "name": actual.name,
        "description": actual.description or "",
        "system_prompt": actual.system_prompt or "",
        "headers": actual.headers,
    }


def _comparable(name: str, value: Any) -> Any:
    return normalize_text(value) if name == "system_prompt" else value


def marker_for(
    desired: LoadedSimulatedUser, repo_id: str, commit: str | None = None
) -> TestPersonaMarker:
    """The marker a test persona from ``desired`` carries."""
    return TestPersonaMarker(
        repo=repo_id,
        slug=desired.slug,
        path=desired.path,
        commit=commit,
        spec_hash=desired.spec_hash,
        protect=desired.protect,
    )


@dataclass
class _Actual:
    persona: TestPersona
    marker: TestPersonaMarker | None
    owned: bool


def _classify(
    actual: list[TestPersona], repo_id: str, ownership: str
) -> tuple[list[_Actual], list[str]]:
    warnings = []
    items = []
    for persona in actual:
        marker = read_marker(persona.metadata)
        mine = marker is not None and marker.repo == repo_id
        items.append(_Actual(persona, marker if mine else None, mine or ownership == "project"))
    if ownership == "marker" and any(a.persona.metadata is None for a in items):
        warnings.append(
            "the server returns no metadata, so this repo cannot recognise the test personas it "
            "owns; if this project is this repo's alone, set [test_personas] ownership = "
            '"project"'
        )
    if any(a.persona.headers is None for a in items):
        warnings.append(
            "the server does not return headers; header changes cannot be seen and are sent "
            "with the next update of each test persona"
        )
    return items, warnings


def _match(desired: list[LoadedSimulatedUser], actual: list[_Actual]) -> dict[str, _Actual]:
    """Each file's test persona: the owned one whose marker names its slug, else an owned
    one (not matched by slug) with its name."""
    by_slug = {a.marker.slug: a for a in actual if a.owned and a.marker is not None}
    matched = {d.slug: by_slug[d.slug] for d in desired if d.slug in by_slug}
    claimed = {a.persona.id for a in matched.values()}
    for d in desired:
        if d.slug in matched:
            continue
        found = next(
            (
                a
                for a in actual
                if a.owned and a.persona.id not in claimed and a.persona.name == d.name
            ),
            None,
        )
        if found is not None:
            matched[d.slug] = found
            claimed.add(found.persona.id)
    return matched


def _update_plan(desired: LoadedSimulatedUser, have: _Actual, repo_id: str) -> TestPersonaPlan:
    plan = TestPersonaPlan(
        desired.slug, desired.path, "update", desired.name, have.persona.id, desired=desired
    )
    want, got = _fields(desired), _actual_fields(have.persona)
    diffs = [
        FieldDiff(name, got[name], want[name])
        for name in FIELDS
        if got[name] is not None and _comparable(name, got[name]) != _comparable(name, want[name])
    ]
    if diffs:
        plan.changes.append(UpdateTestPersona(tuple(diffs)))
    marker = marker_for(desired, repo_id)
    keeps_metadata = have.persona.metadata is not None  # a foreign server may keep none
    if keeps_metadata and (have.marker is None or have.marker.identity() != marker.identity()):
        before = have.marker.model_dump(exclude={"commit"}) if have.marker else None
        plan.changes.append(OwnTestPersona(before, marker.model_dump(exclude={"commit"})))
    return plan


def _settings_change(
    section: SimulatedUsersSection, store: SimulatedUserStore
) -> tuple[list[SetImageSettings], list[str]]:
    wanted = section.images.model_dump(mode="json") if section.images else None
    if not store.keeps_settings:
        if wanted is None:
            return [], []
        return [], [
            f"[test_personas.images] is not applied to {store.where}: its image endpoint is "
            "configured on that server"
        ]
    current = store.image_settings()
    have = current.model_dump(mode="json") if current else None
    if have == wanted:
        return [], []
    return [SetImageSettings(have, wanted)], []


def _changed_filter(repo: Repo, ref: str | None) -> tuple[set[str] | None, set[str] | None]:
    if not ref or repo.root is None:
        return None, None
    files = changed_since(repo.root, ref)
    only = {
        slug
        for slug, p in repo.test_personas.personas.items()
        if files.changed.intersection(p.referenced_files)
    }
    return only, set(files.deleted)


def diff_test_personas(
    repo: Repo,
    section: SimulatedUsersSection,
    store: SimulatedUserStore,
    *,
    prune: bool,
    changed_ref: str | None = None,
) -> TestPersonaSection:
    """The section of the plan that reconciles ``store`` with ``test-personas/``."""
    repo_id = repo.config.repo.id
    out = TestPersonaSection(store.where, section.project, section.ownership)
    actual, out.warnings = _classify(store.list_all(), repo_id, section.ownership)
    out.managed_count = sum(1 for a in actual if a.owned)
    only, deleted_paths = _changed_filter(repo, changed_ref)
    files = list(repo.test_personas.personas.values())
    matched = _match(files, actual)
    claimed = {a.persona.id for a in matched.values()}
    pending: list[LoadedSimulatedUser] = []
    for desired in files:
        have = matched.get(desired.slug)
        if have is None:
            pending.append(desired)
        elif only is None or desired.slug in only:
            out.items.append(_update_plan(desired, have, repo_id))
    orphans = [a for a in actual if a.owned and a.persona.id not in claimed]
    for have in orphans:
        marker = have.marker
        orphan = TestPersonaOrphan(
            marker.slug if marker else have.persona.name,
            have.persona.name,
            have.persona.id,
            marker.path if marker else None,
            bool(marker and marker.protect),
        )
        out.orphans.append(orphan)
        allowed = deleted_paths is None or (orphan.path in deleted_paths)
        if prune and allowed and not orphan.protected:
            out.items.append(
                TestPersonaPlan(
                    orphan.slug,
                    orphan.path,
                    "delete",
                    orphan.name,
                    orphan.persona_id,
                    changes=[DeleteTestPersona()],
                )
            )
    deleted = {p.persona_id for p in out.items if p.action == "delete"}
    for desired in pending:
        if only is not None and desired.slug not in only:
            continue
        holder = next((a for a in actual if a.persona.name == desired.name), None)
        # a name held by one this apply deletes, or renames (its file has another name now),
        # is free by the time creates run
        moving_away = holder is not None and (
            holder.persona.id in deleted or holder.persona.id in claimed
        )
        if holder is not None and not moving_away:
            why = (
                "an owned test persona whose file is gone (apply --prune deletes it)"
                if holder.owned
                else "a test persona this repo does not manage"
            )
            out.items.append(
                TestPersonaPlan(
                    desired.slug,
                    desired.path,
                    "error",
                    desired.name,
                    error=f"name {desired.name!r} is already used by {why} "
                    f"(id {holder.persona.id}) in {store.where}",
                )
            )
            continue
        fields = {k: v for k, v in _fields(desired).items() if v not in ("", {})}
        out.items.append(
            TestPersonaPlan(
                desired.slug,
                desired.path,
                "create",
                desired.name,
                changes=[CreateTestPersona(fields)],
                desired=desired,
            )
        )
    out.unmanaged = sorted(a.persona.name for a in actual if not a.owned)
    out.settings, settings_warnings = _settings_change(section, store)
    out.warnings += settings_warnings
    order = {"delete": 0, "update": 1, "error": 2, "create": 3}
    out.items.sort(key=lambda p: (order.get(p.action, 9), p.slug))
    return out


def plan_test_personas(
    repo: Repo,
    catalogue: Catalogue,
    *,
    prune: bool,
    changed_ref: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> TestPersonaSection | None:
    """The test-personas section of the plan, or None when the repo has none to manage."""
    section = section_settings(repo)
    if section is None:
        return None
    with open_store(repo, catalogue, section, env) as store:
        return diff_test_personas(repo, section, store, prune=prune, changed_ref=changed_ref)


# --- apply -------------------------------------------------------------------------


def _metadata(plan: TestPersonaPlan, repo_id: str, commit: str | None) -> dict[str, Any]:
    assert plan.desired is not None
    return {MARKER_KEY: marker_for(plan.desired, repo_id, commit).model_dump()}


def _apply_one(
    plan: TestPersonaPlan, store: SimulatedUserStore, repo_id: str, commit: str | None
) -> list[str]:
    done: list[str] = []
    for change in plan.changes:
        if isinstance(change, DeleteTestPersona):
            assert plan.persona_id is not None
            store.delete(plan.persona_id)
        elif isinstance(change, CreateTestPersona):
            desired = plan.desired
            assert desired is not None
            created = store.create(
                TestPersonaCreate(
                    name=desired.name,
                    description=desired.description or None,
                    system_prompt=desired.system_prompt or None,
                    headers=desired.headers or None,
                    metadata=_metadata(plan, repo_id, commit),
                )
            )
            plan.persona_id = created.id
        elif isinstance(change, UpdateTestPersona | OwnTestPersona):
            if done and done[-1] == "update":
                continue  # the marker travelled with the field update
            assert plan.persona_id is not None and plan.desired is not None
            values = _fields(plan.desired)
            store.update(
                plan.persona_id,
                TestPersonaUpdate(
                    name=values["name"],
                    description=values["description"],
                    system_prompt=values["system_prompt"],
                    headers=values["headers"],
                    metadata=_metadata(plan, repo_id, commit),
                ),
            )
        done.append(change.kind)
    return done


def apply_test_personas(
    section: TestPersonaSection,
    repo: Repo,
    catalogue: Catalogue,
    *,
    commit: str | None,
    env: Mapping[str, str] = os.environ,
) -> list[PersonaResult]:
    """Apply the section: deletes, updates, creates, then the project's image settings.

    One test persona's failure does not stop the others; each gets a result.
    """
    settings = section_settings(repo)
    if settings is None or not section.has_changes:
        return []
    repo_id = repo.config.repo.id
    results: list[PersonaResult] = []
    with open_store(repo, catalogue, settings, env) as store:
        for plan in section.changed:
            result = PersonaResult(plan.slug, plan.action)
            try:
                result.done = _apply_one(plan, store, repo_id, commit)
            except PersonasError as exc:
                result.error, result.error_code = exc.message, exc.code
            except Exception as exc:
                result.error, result.error_code = f"{type(exc).__name__}: {exc}", "UNEXPECTED"
            results.append(result)
        for change in section.settings:
            result = PersonaResult("(project settings)", "image_settings")
            try:
                wanted = ImageSettings.model_validate(change.after) if change.after else None
                store.set_image_settings(wanted, managed_by=repo_id)
                result.done.append(change.kind)
            except PersonasError as exc:
                result.error, result.error_code = exc.message, exc.code
            results.append(result)
    return results
