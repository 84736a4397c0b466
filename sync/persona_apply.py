"""Apply the personas section: each persona's steps in order, personas concurrently.

Inside a persona the order is fixed (create or update -> sources -> avatar ->
publish state) and the first failure stops that persona; other personas go
on.  Every write carries the ownership marker, so a run killed at any point
leaves state the next plan recognises and converges from.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from personas_as_code.catalogue.api import (
    PersonaCreate,
    PersonaUpdate,
    SourceCreate,
    SourceUpdate,
    published_model_slug,
)
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.schemas.errors import (
    PersonaNotPublished,
    PersonasError,
    SourceDuplicate,
    TenantMismatch,
)
from personas_as_code.sync.changes import (
    AddSource,
    Change,
    CreatePersona,
    DeletePersona,
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
from personas_as_code.sync.marker import Marker, with_marker
from personas_as_code.sync.normalize import CLEARABLE_EQUIVALENTS
from personas_as_code.sync.reconcile import apply_items
from personas_as_code.sync.render import outcomes as outcome_lines
from personas_as_code.sync.render.literal import StyledLine
from personas_as_code.sync.section import ApplyRun, ItemsApplied, PersonaResult
from personas_as_code.sync.tenant import check_tenant

if TYPE_CHECKING:
    from personas_as_code.sync.differ import DiffContext
    from personas_as_code.sync.state import DesiredPersona


@dataclass
class PersonasApplied(ItemsApplied):
    """What apply did to the personas: one result per persona, and its warnings."""

    warnings: list[str] = field(default_factory=list)

    def json_members(self) -> dict[str, Any]:
        return {
            "applied": sum(1 for r in self.results if r.ok),
            "failed": len(self.failed),
            "warnings": list(self.warnings),
            "personas": [r.to_dict() for r in self.results],
        }

    def lines(self) -> Iterator[StyledLine]:
        return outcome_lines.persona_lines(self.results, self.warnings)

    def closing_lines(self) -> Iterator[StyledLine]:
        return outcome_lines.persona_closing(self.results)


def marker_for(desired: DesiredPersona, repo_id: str, commit: str | None) -> Marker:
    """The ownership marker a persona carries after this repo applies it."""
    return Marker(
        repo=repo_id,
        path=desired.path,
        commit=commit,
        spec_hash=desired.spec_hash,
        protect=desired.protect,
        avatar_sha256=desired.avatar.sha256 if desired.avatar else None,
    )


class _PersonaApplier:
    """Runs one persona's changes against the catalogue."""

    def __init__(self, catalogue: Catalogue, ctx: DiffContext, commit: str | None) -> None:
        self.catalogue = catalogue
        self.ctx = ctx
        self.commit = commit
        self.published: dict[str, tuple[PersonaPlan, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self._tenant_lock = threading.Lock()
        self.tenant_checked = False
        self.tenant_error: TenantMismatch | None = None

    def _marker(self, plan: PersonaPlan) -> Marker:
        """The marker to write; groups skipped at the last publish stay recorded."""
        marker = marker_for(plan.desired, self.ctx.repo_id, self.commit)
        previous = plan.actual.marker if plan.actual is not None else None
        if previous is not None:
            marker.skipped_groups = sorted(set(previous.skipped_groups) & set(plan.desired.groups))
        return marker

    def run(self, plan: PersonaPlan, result: PersonaResult) -> None:
        if self.tenant_error is not None:
            raise self.tenant_error
        persona_id = plan.persona_id
        for change in plan.changes:
            persona_id = self._step(plan, change, persona_id)
            result.done.append(change.kind)

    def _step(self, plan: PersonaPlan, change: Change, persona_id: str | None) -> str | None:
        cat = self.catalogue
        if isinstance(change, CreatePersona):
            metadata = with_marker(change.fields.get("metadata", {}), self._marker(plan))
            body = PersonaCreate.model_validate({**change.fields, "metadata": metadata})
            return cat.create_persona(body).id
        assert persona_id is not None
        if isinstance(change, UpdateFields):
            self._update(plan, change, persona_id)
        elif isinstance(change, UpdateOwnership):
            # the marker travels with a field update when there is one
            if not any(isinstance(c, UpdateFields) for c in plan.changes):
                self._update(plan, change, persona_id)
        elif isinstance(change, AddSource):
            s = change.source
            source = SourceCreate(
                source_type=s.source_type,
                source_id=s.source_id,
                source_name=s.source_name,
                weight=s.weight,
                search_config=s.search_config or None,
            )
            try:
                created = cat.add_source(persona_id, source)
            except SourceDuplicate:  # added by an earlier, interrupted run
                created = next(
                    x for x in cat.list_sources(persona_id) if (x.source_type, x.source_id) == s.key
                )
            if s.status != created.status:
                cat.update_source(persona_id, created.id, SourceUpdate(status=s.status))
        elif isinstance(change, UpdateSource):
            values = {d.field: d.after for d in change.diffs}
            cat.update_source(persona_id, change.catalogue_id, SourceUpdate.model_validate(values))
        elif isinstance(change, RemoveSource):
            cat.delete_source(persona_id, change.source.catalogue_id or "")
        elif isinstance(change, UploadAvatar):
            avatar = plan.desired.avatar
            cat.upload_avatar(persona_id, avatar.data, avatar.mime)
        elif isinstance(change, Publish):
            self._publish(plan, persona_id, change.groups)
        elif isinstance(change, Unpublish):
            cat.unpublish_persona(persona_id)
        elif isinstance(change, Republish):
            # an earlier, interrupted run may have unpublished it already
            with contextlib.suppress(PersonaNotPublished):
                cat.unpublish_persona(persona_id)
            self._publish(plan, persona_id, change.groups_after)
        elif isinstance(change, DeletePersona):
            cat.delete_persona(persona_id)
        return persona_id

    def _update(self, plan: PersonaPlan, change: Change, persona_id: str) -> None:
        values: dict = {}
        if isinstance(change, UpdateFields):
            for diff in change.diffs:
                after = diff.after
                if after is None:
                    after = CLEARABLE_EQUIVALENTS.get(diff.field)
                values[diff.field] = after
        user_metadata = plan.desired.fields["metadata"]
        values["metadata"] = with_marker(user_metadata, self._marker(plan))
        self.catalogue.update_persona(persona_id, PersonaUpdate.model_validate(values))

    def _publish(self, plan: PersonaPlan, persona_id: str, groups: tuple[str, ...]) -> None:
        published = self.catalogue.publish_persona(persona_id, list(groups))
        self._check_tenant(published.published_model_id)
        if groups:
            with self._lock:
                self.published[persona_id] = (plan, groups)

    def _check_tenant(self, model_id: str | None) -> None:
        """After the first publish of the run, the model's tenant is the catalogue's: a
        key of another tenant (which a catalogue with nothing published cannot show to
        the plan) fails this persona and every one published or applied after it.  One
        check per run; publishes finishing meanwhile wait for its answer."""
        if model_id is None:
            return
        with self._tenant_lock:
            if self.tenant_error is not None:
                raise self.tenant_error
            if self.tenant_checked:
                return
            models = self.catalogue.list_models(ids=[model_id])
            try:
                check_tenant(self.ctx.tenant, (m.slug for m in models))
            except TenantMismatch as exc:
                self.tenant_error = exc
                raise
            self.tenant_checked = True

    def record_skipped_groups(self) -> None:
        """Note in each marker the groups the catalogue silently skipped (out of scope).

        One read of the groups for the whole apply; a write only where that record changes.
        """
        if not self.published or self.tenant_error is not None:
            return
        members: dict[str, set[str]] = {}
        for group in self.catalogue.list_model_groups():
            for model in group.model_slugs:
                members.setdefault(model, set()).add(group.id)
        for persona_id, (plan, groups) in self.published.items():
            joined = members.get(published_model_slug(self.ctx.tenant, plan.desired.slug), set())
            skipped = sorted(set(groups) - joined)
            marker = self._marker(plan)
            if skipped != marker.skipped_groups:
                marker.skipped_groups = skipped
                metadata = with_marker(plan.desired.fields["metadata"], marker)
                self.catalogue.update_persona(persona_id, PersonaUpdate(metadata=metadata))


def apply_personas(changed: list[PersonaPlan], run: ApplyRun) -> PersonasApplied:
    """Apply every changed persona, ``run.concurrency`` at once; one persona's failure
    does not stop the others."""
    applier = _PersonaApplier(run.catalogue, run.ctx, run.commit)
    results = apply_items(
        changed,
        applier.run,
        concurrency=max(1, run.concurrency),
        on_done=run.on_done,
    )
    outcome = PersonasApplied(sorted(results, key=lambda r: r.slug))
    try:
        applier.record_skipped_groups()
    except PersonasError as exc:
        outcome.warnings.append(f"could not check which model groups were skipped: {exc.message}")
    return outcome
