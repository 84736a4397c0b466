"""What the MCP tools and the CLI need from the persona enricher: a persona file as an
enricher profile, and what the catalogue says when retrieval ran over a tree.

Retrieval itself is the tree's (``sandbox.tree_retrieval``): never the catalogue's index.
"""

from __future__ import annotations

from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.inference.enricher import PersonaProfile, RagSettings
from personas_as_code.knowledge_index.retrieval import SourceRef
from personas_as_code.schemas.loader import LoadedPersona


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


def retrieval_notes(catalogue: Catalogue | None) -> list[str]:
    """What ``catalogue`` adds where retrieval ran over a tree's knowledge (a remote: that
    its own collections were not searched); nothing without a catalogue."""
    note = None if catalogue is None else catalogue.tree_retrieval_note
    return [note] if note else []
