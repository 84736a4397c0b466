"""Compute the personas section of a plan from desired state (files) and actual state
(catalogue).

Pure: no I/O.  ``sync.reader`` gathers the actual state; ``sync.engine``
wires reading, diffing and safety.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from personas_as_code.catalogue.api import published_model_slug
from personas_as_code.sync.changes import (
    AddSource,
    AdoptPersona,
    CreatePersona,
    DeletePersona,
    FieldDiff,
    Orphan,
    PersonaPlan,
    Publish,
    RemoveSource,
    Republish,
    Unpublish,
    UpdateFields,
    UpdateOwnership,
    UpdateSource,
    UploadAvatar,
)
from personas_as_code.sync.normalize import UNCLEARABLE_FIELDS, comparable
from personas_as_code.sync.persona_section import PersonaSection
from personas_as_code.sync.renames import hint_renames
from personas_as_code.sync.state import FIELDS, ActualPersona, DesiredPersona, SourceState


@dataclass
class DiffContext:
    """What the differ needs besides the two states."""

    repo_id: str
    tenant: str
    models: set[str]
    groups: set[str]
    prune: bool = False
    only_slugs: set[str] | None = None  # --changed-since: desired personas to consider
    deleted_paths: set[str] | None = None  # --changed-since: files deleted since REF
    changed_since: str | None = None
    orphan_slugs: set[str] | None = None  # a targeted plan: the orphans it may consider
    adopt: set[str] = field(default_factory=set)  # --adopt: slugs taken over from other repos
    warnings: list[str] = field(default_factory=list)


def _owned(actual: ActualPersona, repo_id: str) -> bool:
    return actual.marker is not None and actual.marker.repo == repo_id


def _match(
    desired: DesiredPersona,
    by_slug: dict[str, ActualPersona],
    claimed: set[str],
    owned_by_path: dict[str, ActualPersona],
) -> ActualPersona | None:
    """The catalogue persona this file manages: same slug, or an owned one under a previous
    slug or from the same file (a rename)."""
    if desired.slug in by_slug:
        return by_slug[desired.slug]
    owned = {a.slug: a for a in owned_by_path.values()}
    for old in desired.previous_slugs:
        actual = owned.get(old)
        if actual is not None and old not in claimed:
            return actual
    actual = owned_by_path.get(desired.path)
    if actual is not None and actual.slug not in claimed:
        return actual
    return None


def _field_diffs(
    desired: DesiredPersona, actual: ActualPersona
) -> tuple[list[FieldDiff], list[str]]:
    diffs, warnings = [], []
    for name in FIELDS:
        want, have = desired.fields[name], actual.fields.get(name)
        if comparable(name, want) == comparable(name, have):
            continue
        if name in UNCLEARABLE_FIELDS and want is None:
            warnings.append(
                f"{name.removeprefix('rag_')} was removed from the file, but the API cannot clear "
                f"it (PUT ignores nulls): the catalogue keeps {have!r}. Set it explicitly to the "
                "value you want."
            )
            continue
        diffs.append(FieldDiff(name, have, want))
    return diffs, warnings


def _source_changes(desired: DesiredPersona, actual: dict[Any, SourceState]) -> list[Any]:
    removes, adds, updates = [], [], []
    have: SourceState | None
    for key, have in actual.items():
        want = desired.sources.get(key)
        if want is None or (want.source_name or None) != (have.source_name or None):
            removes.append(RemoveSource(have))  # the API cannot rename a source: remove + add
    for key, want in desired.sources.items():
        have = actual.get(key)
        if have is None or (want.source_name or None) != (have.source_name or None):
            adds.append(AddSource(want))
            continue
        diffs = tuple(
            FieldDiff(name, getattr(have, name), getattr(want, name))
            for name in ("weight", "search_config", "status")
            if getattr(have, name) != getattr(want, name)
        )
        if diffs:
            updates.append(UpdateSource(want, have.catalogue_id or "", diffs))
    return removes + adds + updates


def _published_drift(actual: ActualPersona, tenant: str) -> tuple[list[str], list[str]]:
    """How a published persona's model is out of step with the persona (reasons to
    republish), and what cannot be checked (warnings).

    An apply killed between a field update and the republish it planned leaves the
    persona saved but its model still carrying the old slug or base model; a catalogue
    that syncs only some fields on save leaves the rest stale.  Comparing the model
    with the persona it was published from finds both.
    """
    model = actual.published_model
    if model is None:
        return [], [
            f"the published model of {actual.slug} is not in the catalogue's model list, so "
            "it cannot be checked against the persona"
        ]
    reasons = []
    want_slug = published_model_slug(tenant, actual.slug)
    if model.slug != want_slug:
        reasons.append(f"the published model is still {model.slug}, not {want_slug}")
    base = actual.fields["model_slug"]
    if model.base_model_slug is not None and model.base_model_slug != base:
        reasons.append(f"the published model still wraps {model.base_model_slug}, not {base}")
    stale = [
        name
        for name, have, want in (
            ("display name", model.display_name, actual.fields["name"]),
            ("system prompt", model.system_prompt_template, actual.fields["system_prompt"]),
            ("default params", model.default_params, actual.fields["default_params"] or {}),
        )
        if have is not None and have != want
    ]
    if stale:
        reasons.append("stale on the published model: " + ", ".join(stale))
    return reasons, []


def _publish_changes(
    desired: DesiredPersona,
    actual: ActualPersona,
    renamed: bool,
    model_changed: bool,
    tenant: str,
) -> tuple[list[Any], list[str]]:
    warnings: list[str] = []
    if desired.publish and not actual.published:
        return [Publish(desired.groups)], warnings
    if not desired.publish and actual.published:
        return [Unpublish()], warnings
    if not desired.publish:
        return [], warnings
    skipped = set(actual.marker.skipped_groups) if actual.marker else set()
    wanted = tuple(sorted(set(desired.groups) - skipped))
    if skipped & set(desired.groups):
        warnings.append(
            "the catalogue skipped group(s) "
            + ", ".join(sorted(skipped & set(desired.groups)))
            + " at the last publish (outside the API key's scope)"
        )
    reasons = []
    if wanted != tuple(sorted(actual.groups)):
        reasons.append("model groups changed")
    if renamed:
        reasons.append("the slug changed, so the published model slug changes")
    if model_changed:
        reasons.append("the wrapped model changed (publish copies its backend links)")
    drift, cannot_check = _published_drift(actual, tenant)
    reasons += drift
    warnings += cannot_check
    if reasons:
        return [
            Republish(tuple(sorted(actual.groups)), desired.groups, "; ".join(reasons))
        ], warnings
    return [], warnings


def _check_references(desired: DesiredPersona, ctx: DiffContext) -> str | None:
    model = desired.fields["model_slug"]
    if model not in ctx.models:
        return (
            f"{desired.path}:{desired.line_of('model')}: model '{model}' does not exist in the "
            "catalogue"
        )
    unknown = [g for g in desired.groups if g not in ctx.groups]
    if unknown:
        return (
            f"{desired.path}:{desired.line_of('publish')}: model group(s) "
            + ", ".join(unknown)
            + " do not exist in the catalogue"
        )
    return None


def _plan_update(desired: DesiredPersona, actual: ActualPersona, ctx: DiffContext) -> PersonaPlan:
    plan = PersonaPlan(desired.slug, desired.path, "update", persona_id=actual.id)
    plan.desired, plan.actual = desired, actual
    diffs, plan.warnings = _field_diffs(desired, actual)
    renamed = actual.slug != desired.slug
    if renamed:
        plan.action, plan.previous_slug = "rename", actual.slug
    if diffs:
        plan.changes.append(UpdateFields(tuple(diffs)))
    marker = actual.marker
    before = marker.model_dump(include={"repo", "path", "protect"}) if marker else None
    after = {"repo": ctx.repo_id, "path": desired.path, "protect": desired.protect}
    if not _owned(actual, ctx.repo_id):  # planned only when --adopt names it
        plan.changes.append(AdoptPersona(before, after, marker.repo if marker else None))
    elif marker is None or (marker.path, marker.protect) != (desired.path, desired.protect):
        plan.changes.append(UpdateOwnership(before, after))
    plan.changes += _source_changes(desired, actual.sources or {})
    if desired.avatar and desired.avatar.sha256 != actual.avatar_sha256:
        plan.changes.append(
            UploadAvatar(desired.avatar.path, actual.avatar_sha256, desired.avatar.sha256)
        )
    elif desired.avatar is None and actual.has_avatar:
        plan.warnings.append(
            "the file has no avatar but the catalogue persona has one; the API cannot remove "
            "an avatar, so it stays"
        )
    model_changed = any(d.field == "model_slug" for d in diffs)
    publish, warnings = _publish_changes(desired, actual, renamed, model_changed, ctx.tenant)
    plan.changes += publish
    plan.warnings += warnings
    return plan


def _not_ours(want: DesiredPersona, have: ActualPersona) -> str:
    """Why a file cannot manage a catalogue persona another repo (or none) manages, and
    the explicit way to take it over."""
    owner = have.marker.repo if have.marker else None
    if owner:
        return (
            f"{want.path}: a catalogue persona with slug '{have.slug}' is managed by repo "
            f"'{owner}'; to take it over, pass `--adopt {want.slug}` to plan and apply (the "
            "plan shows the takeover)"
        )
    return (
        f"{want.path}: a catalogue persona with slug '{have.slug}' already exists and "
        f"is not managed by this repo; run `personas import {have.slug}` to adopt it"
    )


def _plan_create(desired: DesiredPersona) -> PersonaPlan:
    plan = PersonaPlan(desired.slug, desired.path, "create")
    plan.desired = desired
    fields = {k: v for k, v in desired.fields.items() if v is not None}
    plan.changes.append(CreatePersona(fields))
    plan.changes += [AddSource(s) for s in desired.sources.values()]
    if desired.avatar:
        plan.changes.append(UploadAvatar(desired.avatar.path, None, desired.avatar.sha256))
    if desired.publish:
        plan.changes.append(Publish(desired.groups))
    return plan


def diff(
    desired: list[DesiredPersona], actual: list[ActualPersona], ctx: DiffContext
) -> PersonaSection:
    """The personas section of the plan that turns ``actual`` into ``desired``."""
    by_slug = {a.slug: a for a in actual}
    owned = [a for a in actual if _owned(a, ctx.repo_id)]
    owned_by_path = {a.marker.path: a for a in owned if a.marker}
    wanted_slugs = {d.slug for d in desired}
    matched: set[str] = set()
    personas: list[PersonaPlan] = []
    warnings = list(ctx.warnings)

    for want in desired:
        have = by_slug.get(want.slug)
        if have is None:  # the union is built only here: per persona it would be quadratic
            have = _match(want, by_slug, wanted_slugs | matched, owned_by_path)
        if have is not None:
            matched.add(have.slug)
        if ctx.only_slugs is not None and want.slug not in ctx.only_slugs:
            continue
        error = _check_references(want, ctx)
        if have is not None and not _owned(have, ctx.repo_id) and want.slug not in ctx.adopt:
            error = _not_ours(want, have)
        if error:
            personas.append(PersonaPlan(want.slug, want.path, "error", error=error))
            continue
        personas.append(_plan_create(want) if have is None else _plan_update(want, have, ctx))

    orphans, gone = [], []
    for have in owned:
        assert have.marker is not None  # _owned read it
        if have.slug in matched:
            continue
        if ctx.deleted_paths is not None and have.marker.path not in ctx.deleted_paths:
            continue
        if ctx.orphan_slugs is not None and have.slug not in ctx.orphan_slugs:
            continue
        gone.append(have)
        protected = have.marker.protect if have.marker else False
        orphans.append(Orphan(have.slug, have.id, have.marker.path, protected, have.published))
        if ctx.prune and not protected:
            plan = PersonaPlan(have.slug, have.marker.path, "delete", persona_id=have.id)
            plan.actual = have
            plan.changes.append(DeletePersona(published=have.published))
            personas.append(plan)
        elif ctx.prune and protected:
            warnings.append(
                f"{have.slug}: protected (protect: true when last applied); not deleted. Apply "
                "the file with protect: false first to allow deletion."
            )

    hint_renames([p for p in personas if p.action == "create"], gone)
    unmanaged = sorted(
        a.slug
        for a in actual
        if not _owned(a, ctx.repo_id)
        and a.slug not in matched
        and (ctx.orphan_slugs is None or a.slug in ctx.orphan_slugs)
    )
    return PersonaSection(
        items=sorted(personas, key=lambda p: p.slug),
        orphans=sorted(orphans, key=lambda o: o.slug),
        unmanaged=unmanaged,
        warnings=warnings,
        managed_count=len(owned),
        published_managed_count=sum(1 for a in owned if a.published),
    )
