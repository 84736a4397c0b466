"""What the MCP tools and the CLI need from the persona enricher: a persona file as an
enricher profile, and what to say when retrieval ran here for a remote catalogue.

Retrieval itself is the tree's (``sandbox.tree_retrieval``): never the catalogue's index.
"""

from __future__ import annotations

from typing import Any

from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.persona_mapping import file_profile
from personas_as_code.inference.enricher import PersonaProfile
from personas_as_code.schemas.loader import LoadedPersona

REMOTE_RETRIEVAL = (
    "retrieval ran locally over this tree's knowledge folders; the remote catalogue's "
    "collections were not searched"
)


def profile_of(persona: LoadedPersona) -> PersonaProfile:
    """The enricher's view of a persona file (working tree or draft)."""
    return file_profile(persona)


def is_remote(catalogue: Any | None) -> bool:
    """Whether ``catalogue`` is a remote ScaiGrid (neither embedded nor absent)."""
    return catalogue is not None and not isinstance(catalogue, EmbeddedCatalogue)
