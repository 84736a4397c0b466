"""What the MCP tools and the CLI need from the persona enricher: a persona file as an
enricher profile, and the retrieval a catalogue offers (or why it offers none)."""

from __future__ import annotations

from typing import Any

from personas_as_code.catalogue.chat import index_retriever
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.inference.enricher import PersonaProfile, RagSettings, Retriever
from personas_as_code.knowledge_index.retrieval import SourceRef
from personas_as_code.schemas.loader import LoadedPersona

NO_CATALOGUE = "no catalogue is open here (--no-catalogue), so there is no knowledge index"
REMOTE = (
    "the catalogue is a remote ScaiGrid, whose own pipeline retrieves from its collections "
    "when the published model is called; its knowledge is not reachable from here"
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


def retrieval_for(catalogue: Any | None) -> tuple[Retriever | None, str]:
    """The catalogue's retrieval (the embedded one's knowledge index), or why there is none."""
    if isinstance(catalogue, EmbeddedCatalogue):
        return index_retriever(catalogue.engine, catalogue.tenant_id), ""
    if catalogue is None:
        return None, NO_CATALOGUE
    return None, REMOTE
