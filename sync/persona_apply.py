"""Apply a ``Plan``: each persona's steps in order, personas concurrently.

Inside a persona the order is fixed (create or update -> sources -> avatar ->
publish state) and the first failure stops that persona; other personas go
on.  Every write carries the ownership marker, so a run killed at any point
leaves state the next plan recognises and converges from.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from personas_as_code.catalogue.api import (
    PersonaCreate,
    PersonaUpdate,
    SourceCreate,
    SourceUpdate,
    published_model_slug,
)
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.schemas.errors import PersonaNotPublished, PersonasError, SourceDuplicate
from personas_as_code.sync.backends import BackendOutcome
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
from personas_as_code.sync.differ import DiffContext, marker_for
from personas_as_code.sync.knowledge import KnowledgeOutcome
from personas_as_code.sync.marker import Marker, with_marker
from personas_as_code.sync.normalize import CLEARABLE_EQUIVALENTS
from personas_as_code.sync.plan import Plan

# ``apply --format json`` shape; bumped only when a member changes meaning or goes.
APPLY_FORMAT_VERSION = 1


@dataclass
class PersonaResult:
    """What apply did for one persona."""

    slug: str
    action: str
    done: list[str] = field(default_factory=list)
    error: str | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ApplyResult:
    """What apply did overall."""

    results: list[PersonaResult]
    warnings: list[str] = field(default_factory=list)
    knowledge: KnowledgeOutcome | None = None
    backends: BackendOutcome | None = None
    test_personas: list[PersonaResult] = field(default_factory=list)

    @property
    def failed(self) -> list[PersonaResult]:
        return [r for r in self.results if not r.ok]

    @property
    def test_personas_failed(self) -> list[PersonaResult]:
        return [r for r in self.test_personas if not r.ok]

    @property
    def ok(self) -> bool:
        return (
            not self.failed
            and not self.test_personas_failed
            and (self.knowledge is None or self.knowledge.ok)
            and (self.backends is None or self.backends.ok)
        )

    def to_dict(self) -> dict:
        """The result as the stable JSON shape (``format_version`` 1)."""
        return {
            "format_version": APPLY_FORMAT_VERSION,
            "ok": self.ok,
            "applied": sum(1 for r in self.results if r.ok),
            "failed": len(self.failed),
            "warnings": list(self.warnings),
            "personas": [
                {
                    "slug": r.slug,
                    "action": r.action,
                    "done": r.done,
                    "error": r.error,
                    "error_code": r.error_code,
                }
                for r in self.results
            ],
            "knowledge": self.knowledge.to_dict() if self.knowledge else None,
            "backends": self.backends.to_dict() if self.backends else None,
            "test_personas": [
                {
                    "slug": r.slug,
                    "action": r.action,
                    "done": r.done,
                    "error": r.error,
                    "error_code": r.error_code,
                }
                for r in self.test_personas
            ],
        }


class _PersonaApplier:
    """Runs one persona's changes against the catalogue."""

    def __init__(self, catalogue: Catalogue, ctx: DiffContext, commit: str | None) -> None:
        self.catalogue = catalogue
        self.ctx = ctx
        self.commit = commit
        self.published: dict[str, tuple[PersonaPlan, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def _marker(self, plan: PersonaPlan) -> Marker:
        """The marker to write; groups skipped at the last publish stay recorded."""
        marker = marker_for(plan.desired, self.ctx, self.commit)
        previous = plan.actual.marker if plan.actual is not None else None
        if previous is not None:
            marker.skipped_groups = sorted(set(previous.skipped_groups) & set(plan.desired.groups))
        return marker

    def run(self, plan: PersonaPlan, result: PersonaResult) -> None:
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
            body = SourceCreate(
                source_type=s.source_type,  # type: ignore[arg-type]
                source_id=s.source_id,
                source_name=s.source_name,
                weight=s.weight,
                search_config=s.search_config or None,
            )
            try:
                created = cat.add_source(persona_id, body)
            except SourceDuplicate:  # added by an earlier, interrupted run
                created = next(
                    x for x in cat.list_sources(persona_id) if (x.source_type, x.source_id) == s.key
                )
            if s.status != created.status:
                cat.update_source(persona_id, created.id, SourceUpdate(status=s.status))  # type: ignore[arg-type]
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
        self.catalogue.publish_persona(persona_id, list(groups))
        if groups:
            with self._lock:
                self.published[persona_id] = (plan, groups)

    def record_skipped_groups(self) -> None:
        """Note in each marker the groups the catalogue silently skipped (out of scope).

        One read of the groups for the whole apply; a write only where that record changes.
        """
        if not self.published:
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


def apply_plan(
    plan: Plan,
    catalogue: Catalogue,
    ctx: DiffContext,
    *,
    commit: str | None,
    concurrency: int = 4,
    on_done: Callable[[PersonaResult], None] | None = None,
) -> ApplyResult:
    """Apply every changed persona; one persona's failure does not stop the others."""
    applier = _PersonaApplier(catalogue, ctx, commit)
    lock = threading.Lock()
    results: list[PersonaResult] = []

    def run_one(persona_plan: PersonaPlan) -> PersonaResult:
        result = PersonaResult(persona_plan.slug, persona_plan.action)
        try:
            applier.run(persona_plan, result)
        except PersonasError as exc:
            result.error, result.error_code = exc.message, exc.code
        except Exception as exc:
            result.error, result.error_code = f"{type(exc).__name__}: {exc}", "UNEXPECTED"
        with lock:
            results.append(result)
        if on_done is not None:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(run_one, p) for p in plan.changed]
        for future in as_completed(futures):
            future.result()
    outcome = ApplyResult(sorted(results, key=lambda r: r.slug))
    try:
        applier.record_skipped_groups()
    except PersonasError as exc:
        outcome.warnings.append(f"could not check which model groups were skipped: {exc.message}")
    return outcome
