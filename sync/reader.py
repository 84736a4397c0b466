"""Read the actual state of a catalogue: personas, their sources, groups and models.

Personas come in list pages.  Catalogues that inline sources (ours) need
nothing more; for others, sources are fetched per persona with a bounded
number of concurrent reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from personas_as_code.catalogue.api import ModelGroup, Persona, published_model_slug
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.sync.state import ActualPersona, actual_from_catalogue


@dataclass
class CatalogueState:
    """Everything a plan needs to know about the catalogue."""

    personas: list[ActualPersona]
    models: set[str]
    groups: set[str]


@dataclass
class CatalogueListing:
    """The part of a catalogue read that needs nothing from the repo: every persona
    (with its sources) and the model groups.  A plan starts it before the files load."""

    personas: list[Persona]
    groups: list[ModelGroup]


def list_catalogue(
    catalogue: Catalogue, *, read_concurrency: int = 8, page_size: int = 200
) -> CatalogueListing:
    """Every persona (all pages, sources filled in) and the model groups."""
    personas: list[Persona] = list(catalogue.iter_personas(page_size=page_size))
    missing = [p for p in personas if p.sources is None]
    if missing:
        with ThreadPoolExecutor(max_workers=read_concurrency) as pool:
            for persona, sources in zip(
                missing, pool.map(lambda p: catalogue.list_sources(p.id), missing), strict=True
            ):
                persona.sources = sources
    return CatalogueListing(personas, catalogue.list_model_groups())


def read_catalogue(
    catalogue: Catalogue,
    tenant: str,
    *,
    read_concurrency: int = 8,
    page_size: int = 200,
    model_slugs: Iterable[str] | None = None,
    listing: CatalogueListing | None = None,
) -> CatalogueState:
    """Read every persona (with sources and its published model), the model slugs and
    the model groups.  With ``model_slugs`` (the slugs a plan checks) only those models
    and the published ones are read, not the whole model list.  ``listing``: the
    personas and groups already listed (``list_catalogue``), read again otherwise."""
    if listing is None:
        listing = list_catalogue(catalogue, read_concurrency=read_concurrency, page_size=page_size)
    personas, groups = listing.personas, listing.groups
    membership: dict[str, list[str]] = defaultdict(list)
    for group in groups:
        for slug in group.model_slugs:
            membership[slug].append(group.id)
    published_ids = {p.published_model_id for p in personas if p.published_model_id}
    models = (
        catalogue.list_models()
        if model_slugs is None
        else catalogue.list_models(slugs=model_slugs, ids=published_ids)
    )
    by_id = {m.id: m for m in models}
    actual = []
    for persona in personas:
        published = by_id.get(persona.published_model_id or "") if persona.published else None
        model_slug = published.slug if published else published_model_slug(tenant, persona.slug)
        member_of = tuple(sorted(membership.get(model_slug, []))) if persona.published else ()
        actual.append(actual_from_catalogue(persona, member_of, published))
    return CatalogueState(
        personas=actual,
        models={m.slug for m in models},
        groups={g.id for g in groups},
    )
