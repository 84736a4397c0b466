"""The persona's state in the configured catalogue (``get_persona``'s ``catalogue``)."""

from __future__ import annotations

from personas_as_code.application.models import CatalogueState
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.repo import Repo
from personas_as_code.schemas.errors import PersonasError
from personas_as_code.sync.drift import persona_drift
from personas_as_code.untrusted.secrets import redact


def catalogue_state(catalogue: Catalogue | None, repo: Repo, slug: str) -> CatalogueState | None:
    """Persona ``slug`` of ``repo`` as the catalogue holds it, with drift computed the way
    ``personas plan`` computes it; None without a catalogue."""
    if catalogue is None:
        return None
    if slug not in repo.personas:
        return CatalogueState(error="the persona file is invalid; fix it to compare")
    try:
        drift = persona_drift(repo, slug, catalogue)
    except (PersonasError, OSError) as exc:
        return CatalogueState(error=redact(f"catalogue unavailable: {exc}"))
    return CatalogueState(
        exists=drift.exists,
        id=drift.persona_id,
        published=drift.published if drift.exists else None,
        published_model_id=drift.published_model_id,
        model_slug=drift.model_slug,
        drift=drift.drifted if drift.exists else None,
        drift_fields=drift.differences,
        error=redact(drift.error) if drift.error else None,
    )
