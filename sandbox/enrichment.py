"""What the MCP tools and the CLI need from the persona enricher: a persona file as an
enricher profile, and what the catalogue says when retrieval ran over a tree.

Retrieval itself is the tree's (``sandbox.tree_retrieval``): never the catalogue's index.
"""

from __future__ import annotations

from personas_as_code.catalogue.persona_mapping import file_profile
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.inference.enricher import PersonaProfile
from personas_as_code.loader.repo import LoadedPersona


def profile_of(persona: LoadedPersona) -> PersonaProfile:
    """The enricher's view of a persona file (working tree or draft)."""
    return file_profile(persona)


def retrieval_notes(catalogue: Catalogue | None) -> list[str]:
    """What ``catalogue`` adds where retrieval ran over a tree's knowledge (a remote: that
    its own collections were not searched); nothing without a catalogue."""
    note = None if catalogue is None else catalogue.tree_retrieval_note
    return [note] if note else []
