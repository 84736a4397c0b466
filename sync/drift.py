"""Drift of one persona: how its catalogue copy differs from its file."""

from __future__ import annotations

from dataclasses import dataclass, field

from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.repo import Repo
from personas_as_code.sync.changes import PersonaPlan, UpdateFields
from personas_as_code.sync.differ import DiffContext, diff
from personas_as_code.sync.reader import read_catalogue
from personas_as_code.sync.state import desired_from_file


@dataclass
class Drift:
    """Whether the catalogue holds the persona, and what a plan would change on it."""

    exists: bool
    persona_id: str | None = None
    published: bool = False
    model_slug: str | None = None
    published_model_id: str | None = None
    differences: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def drifted(self) -> bool:
        return bool(self.differences)


def _differences(plan: PersonaPlan) -> list[str]:
    names: list[str] = []
    for change in plan.changes:
        if isinstance(change, UpdateFields):
            names += [d.field for d in change.diffs]
        elif change.kind in ("add_source", "update_source", "remove_source"):
            names.append("sources")
        else:
            names.append(change.kind)
    return list(dict.fromkeys(names))


def persona_drift(repo: Repo, slug: str, catalogue: Catalogue) -> Drift:
    """Compare persona ``slug`` of ``repo`` with the catalogue, the way ``plan`` does."""
    persona = repo.personas[slug]
    # only the model this persona names (and the published ones), not the whole model list
    state = read_catalogue(catalogue, repo.config.repo.tenant, model_slugs={persona.spec.model})
    ctx = DiffContext(
        repo_id=repo.config.repo.id,
        tenant=repo.config.repo.tenant,
        models=state.models,
        groups=state.groups,
        only_slugs={slug},
        deleted_paths=set(),
    )
    (planned,) = diff([desired_from_file(persona)], state.personas, ctx).items
    actual = next((a for a in state.personas if a.id == planned.persona_id or a.slug == slug), None)
    if actual is None:
        return Drift(exists=False, error=planned.error)
    return Drift(
        exists=True,
        persona_id=actual.id,
        published=actual.published,
        model_slug=actual.fields["model_slug"],
        published_model_id=actual.published_model_id,
        differences=_differences(planned),
        error=planned.error,
    )
