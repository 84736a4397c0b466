"""Plan the test-personas section: ``test-personas/`` (desired) against one project of
a test-personas server (actual).  The rules are in ``sync.simulated_users``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.catalogue.simulated_user_api import TestPersona
from personas_as_code.catalogue.simulated_user_store import SimulatedUserStore
from personas_as_code.loader.repo import Repo
from personas_as_code.loader.simulated_users import LoadedSimulatedUser
from personas_as_code.schemas.simulated_user_config import SimulatedUsersConfig
from personas_as_code.sync.changes import FieldDiff
from personas_as_code.sync.gitinfo import changed_since
from personas_as_code.sync.normalize import normalize_text
from personas_as_code.sync.simulated_user_changes import (
    CreateSimulatedUser,
    DeleteSimulatedUser,
    OwnSimulatedUser,
    SetImageSettings,
    SimulatedUserMarker,
    SimulatedUserOrphan,
    SimulatedUserPlan,
    UpdateSimulatedUser,
    read_marker,
)
from personas_as_code.sync.simulated_users import (
    SimulatedUsersSection,
    desired_fields,
    marker_for,
    open_store,
    section_settings,
)

FIELDS = ("name", "description", "system_prompt", "headers")


def _actual_fields(actual: TestPersona) -> dict[str, Any]:
    return {
        "name": actual.name,
        "description": actual.description or "",
        "system_prompt": actual.system_prompt or "",
        "headers": actual.headers,
    }


def _comparable(name: str, value: Any) -> Any:
    return normalize_text(value) if name == "system_prompt" else value


@dataclass
class _Actual:
    persona: TestPersona
    marker: SimulatedUserMarker | None
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


def _update_plan(desired: LoadedSimulatedUser, have: _Actual, repo_id: str) -> SimulatedUserPlan:
    plan = SimulatedUserPlan(
        desired.slug,
        desired.path,
        "update",
        have.persona.id,
        name=desired.name,
        desired=desired,
    )
    want, got = desired_fields(desired), _actual_fields(have.persona)
    diffs = [
        FieldDiff(name, got[name], want[name])
        for name in FIELDS
        if got[name] is not None and _comparable(name, got[name]) != _comparable(name, want[name])
    ]
    if diffs:
        plan.changes.append(UpdateSimulatedUser(tuple(diffs)))
    marker = marker_for(desired, repo_id)
    keeps_metadata = have.persona.metadata is not None  # a foreign server may keep none
    if keeps_metadata and (have.marker is None or have.marker.identity() != marker.identity()):
        before = have.marker.model_dump(exclude={"commit"}) if have.marker else None
        plan.changes.append(OwnSimulatedUser(before, marker.model_dump(exclude={"commit"})))
    return plan


def _settings_change(
    section: SimulatedUsersConfig, store: SimulatedUserStore
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


def _orphans(
    actual: list[_Actual], claimed: set[str], *, prune: bool, deleted_paths: set[str] | None
) -> tuple[list[SimulatedUserOrphan], list[SimulatedUserPlan]]:
    """The owned test personas no file claims, and the deletes of those a pruning plan
    may delete."""
    orphans, deletes = [], []
    for have in actual:
        if not have.owned or have.persona.id in claimed:
            continue
        marker = have.marker
        orphan = SimulatedUserOrphan(
            slug=marker.slug if marker else have.persona.name,
            persona_id=have.persona.id,
            path=marker.path if marker else None,
            protected=bool(marker and marker.protect),
            name=have.persona.name,
        )
        orphans.append(orphan)
        allowed = deleted_paths is None or (orphan.path in deleted_paths)
        if prune and allowed and not orphan.protected:
            deletes.append(
                SimulatedUserPlan(
                    orphan.slug,
                    orphan.path,
                    "delete",
                    orphan.persona_id,
                    changes=[DeleteSimulatedUser()],
                    name=orphan.name,
                )
            )
    return orphans, deletes


def _create_plan(
    desired: LoadedSimulatedUser, actual: list[_Actual], freed: set[str], where: str
) -> SimulatedUserPlan:
    """A create, or an error when another test persona holds the name; ``freed``: the ids
    this apply deletes or renames, whose names are free by the time creates run."""
    holder = next((a for a in actual if a.persona.name == desired.name), None)
    if holder is not None and holder.persona.id not in freed:
        why = (
            "an owned test persona whose file is gone (apply --prune deletes it)"
            if holder.owned
            else "a test persona this repo does not manage"
        )
        return SimulatedUserPlan(
            desired.slug,
            desired.path,
            "error",
            name=desired.name,
            error=f"name {desired.name!r} is already used by {why} "
            f"(id {holder.persona.id}) in {where}",
        )
    fields = {k: v for k, v in desired_fields(desired).items() if v not in ("", {})}
    return SimulatedUserPlan(
        desired.slug,
        desired.path,
        "create",
        changes=[CreateSimulatedUser(fields)],
        name=desired.name,
        desired=desired,
    )


_ORDER = {"delete": 0, "update": 1, "error": 2, "create": 3}


def diff_test_personas(
    repo: Repo,
    section: SimulatedUsersConfig,
    store: SimulatedUserStore,
    *,
    prune: bool,
    changed_ref: str | None = None,
) -> SimulatedUsersSection:
    """The section of the plan that reconciles ``store`` with ``test-personas/``."""
    repo_id = repo.config.repo.id
    actual, warnings = _classify(store.list_all(), repo_id, section.ownership)
    only, deleted_paths = _changed_filter(repo, changed_ref)
    files = list(repo.test_personas.personas.values())
    matched = _match(files, actual)
    claimed = {a.persona.id for a in matched.values()}
    items = [
        _update_plan(desired, matched[desired.slug], repo_id)
        for desired in files
        if desired.slug in matched and (only is None or desired.slug in only)
    ]
    orphans, deletes = _orphans(actual, claimed, prune=prune, deleted_paths=deleted_paths)
    items += deletes
    freed = claimed | {p.persona_id for p in deletes if p.persona_id}
    items += [
        _create_plan(desired, actual, freed, store.where)
        for desired in files
        if desired.slug not in matched and (only is None or desired.slug in only)
    ]
    settings, settings_warnings = _settings_change(section, store)
    return SimulatedUsersSection(
        config=section,
        where=store.where,
        project=section.project,
        ownership=section.ownership,
        items=sorted(items, key=lambda p: (_ORDER.get(p.action, 9), p.slug)),
        settings=settings,
        orphans=orphans,
        unmanaged=sorted(a.persona.name for a in actual if not a.owned),
        warnings=warnings + settings_warnings,
        managed_count=sum(1 for a in actual if a.owned),
    )


def plan_test_personas(
    repo: Repo,
    catalogue: Catalogue,
    *,
    prune: bool,
    changed_ref: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> SimulatedUsersSection:
    """The test-personas section of the plan (without ``config`` when the repo has none
    to manage)."""
    section = section_settings(repo)
    if section is None:
        return SimulatedUsersSection()
    with open_store(repo, catalogue, section, env) as store:
        return diff_test_personas(repo, section, store, prune=prune, changed_ref=changed_ref)
