"""The ownership marker stored in a catalogue persona's ``metadata``.

It says which repo manages the persona (only those are ever updated or
pruned), from which file and commit, with which spec hash, whether the file
asked for protection, and what the engine last uploaded or requested where
the catalogue cannot tell (avatar hash, groups the catalogue skipped).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

MARKER_KEY = "personas_as_code"
M = TypeVar("M", bound=BaseModel)


class Marker(BaseModel):
    """Ownership marker (``metadata.personas_as_code``)."""

    model_config = ConfigDict(extra="ignore")

    repo: str
    path: str
    commit: str | None = None
    spec_hash: str | None = None
    protect: bool = False
    avatar_sha256: str | None = None
    skipped_groups: list[str] = Field(default_factory=list)


def read_marker_as(metadata: dict[str, Any] | None, model: type[M]) -> M | None:
    """The marker in ``metadata`` read as ``model``, or None when absent or unreadable."""
    raw = (metadata or {}).get(MARKER_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return model.model_validate(raw)
    except ValueError:
        return None


def read_marker(metadata: dict[str, Any] | None) -> Marker | None:
    """The persona marker in ``metadata``, or None when absent or unreadable."""
    return read_marker_as(metadata, Marker)


def user_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """``metadata`` without the marker: what people wrote."""
    return {k: v for k, v in (metadata or {}).items() if k != MARKER_KEY}


def with_marker(metadata: dict[str, Any], marker: Marker) -> dict[str, Any]:
    """User metadata merged with the marker (the marker key is ours alone)."""
    return {**user_metadata(metadata), MARKER_KEY: marker.model_dump(exclude_defaults=False)}
