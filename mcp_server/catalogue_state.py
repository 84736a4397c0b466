"""The persona's state in the configured catalogue (``get_persona``'s ``catalogue``)."""

from __future__ import annotations

from typing import Any

from mcp_server.models import CatalogueState
from schemas.errors import PersonasError


def catalogue_state(catalogue: Any | None, slug: str) -> CatalogueState | None:
    """Look ``slug`` up in ``catalogue`` (a ``catalogue.protocol.Catalogue``); None without one.

    ``drift`` stays None: deciding drift needs the sync engine's normalised diff,
    which is wired in here later (fill ``drift`` and ``drift_fields`` from it).
    """
    if catalogue is None:
        return None
    try:
        found = next((p for p in catalogue.iter_personas() if p.slug == slug), None)
    except (PersonasError, OSError) as exc:
        return CatalogueState(error=f"catalogue unavailable: {exc}")
    if found is None:
        return CatalogueState(exists=False)
    return CatalogueState(
        exists=True,
        id=found.id,
        published=found.published,
        published_model_id=found.published_model_id,
        model_slug=found.model_slug,
    )
