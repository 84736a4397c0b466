"""What the MCP tools and the CLI need from the persona enricher: a persona file as an
enricher profile, and what to say when retrieval ran here for a remote catalogue.

Retrieval itself is the tree's (``sandbox.tree_retrieval``): never the catalogue's index.
"""

from __future__ import annotations

from typing import Any

from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.inference.enricher import PersonaProfile, RagSettings
from personas_as_code.knowledge_index.retrieval import SourceRef
from personas_as_code.loader.repo import LoadedPersona

REMOTE_RETRIEVAL = (
    "retrieval ran locally over this tree's knowledge folders; the remote catalogue's "
    "collections were not searched"
)


def profile_of(persona: LoadedPersona) -> PersonaProfile:
    """The enricher's view of a persona file (working tree or draft)."""
    spec = persona.spec
    return PersonaProfile(
        slug=persona.slug,
        system_prompt=persona.system_prompt,
        rag=RagSettings(
            enabled=spec.rag.enabled,
            strategy=spec.rag.strategy,
            top_k=spec.rag.top_k,
            min_score=spec.rag.min_score,
            context_template=spec.rag.context_template,
        ),
        sources=tuple(
            SourceRef(
                source_type=s.type,
                source_id=s.id,
                weight=s.weight,
                search_type=str((s.search_config or {}).get("search_type") or "hybrid"),
                status=s.status,
            )
            for s in spec.sources
        ),
        default_params=spec.default_params.model_dump(exclude_none=True),
    )


def is_remote(catalogue: Any | None) -> bool:
    """Whether ``catalogue`` is a remote ScaiGrid (neither embedded nor absent)."""
    return catalogue is not None and not isinstance(catalogue, EmbeddedCatalogue)
