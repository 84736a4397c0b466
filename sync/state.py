"""Desired and actual state in one comparable shape.

``DesiredPersona`` comes from a persona file, ``ActualPersona`` from the
catalogue; both carry the API's persona fields (``FIELDS``, mapped from the file by
``catalogue.persona_mapping``), sources keyed by
``(type, id)``, the avatar hash and the publish state, so the differ compares
like with like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from personas_as_code.catalogue.api import FrontendModel, Persona
from personas_as_code.catalogue.persona_mapping import (
    FIELDS,
    SourceFields,
    api_fields,
    source_fields,
)
from personas_as_code.loader.repo import Avatar, LoadedPersona
from personas_as_code.sync.marker import Marker, read_marker, user_metadata
from personas_as_code.sync.normalize import normalize_text, sha256_of

SourceKey = tuple[str, str]


@dataclass(frozen=True)
class SourceState:
    """A knowledge source's comparable fields."""

    source_type: str
    source_id: str
    source_name: str | None
    weight: float
    search_config: dict[str, Any]
    status: str
    catalogue_id: str | None = None  # the catalogue's id, for updates and deletes

    @property
    def key(self) -> SourceKey:
        return (self.source_type, self.source_id)

    def label(self) -> str:
        return f"{self.source_type}:{self.source_id}"


@dataclass
class DesiredPersona:
    """What one persona file asks the catalogue to hold."""

    slug: str
    path: str
    fields: dict[str, Any]
    sources: dict[SourceKey, SourceState]
    avatar: Avatar | None
    publish: bool
    groups: tuple[str, ...]
    protect: bool
    previous_slugs: tuple[str, ...]
    spec_hash: str
    referenced_files: tuple[str, ...]
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, 1)


@dataclass
class ActualPersona:
    """What the catalogue holds for one persona."""

    id: str
    slug: str
    fields: dict[str, Any]
    sources: dict[SourceKey, SourceState] | None  # None until read
    avatar_sha256: str | None
    has_avatar: bool
    published: bool
    groups: tuple[str, ...]
    marker: Marker | None
    published_model_id: str | None = None
    published_model: FrontendModel | None = None  # None when unpublished or not found


def _source_state(f: SourceFields) -> SourceState:
    """``f`` as a ``SourceState`` (its ``search_config`` is already a copy of the file's)."""
    return SourceState(
        f.source_type, f.source_id, f.source_name, f.weight, f.search_config, f.status
    )


def desired_from_file(persona: LoadedPersona) -> DesiredPersona:
    """Translate a validated persona file into API fields."""
    spec = persona.spec
    fields = api_fields(persona)
    fields["system_prompt"] = normalize_text(fields["system_prompt"])
    sources: dict[SourceKey, SourceState] = {
        (s.type, s.id): _source_state(source_fields(s)) for s in spec.sources
    }
    groups = tuple(sorted(spec.publish.groups))
    spec_hash = sha256_of(
        {
            "fields": fields,
            "sources": sorted(
                [s.key, s.source_name, s.weight, s.search_config, s.status]
                for s in sources.values()
            ),
            "avatar": persona.avatar.sha256 if persona.avatar else None,
            "publish": [spec.publish.enabled, groups],
            "protect": spec.protect,
        }
    )
    return DesiredPersona(
        slug=persona.slug,
        path=persona.path,
        fields=fields,
        sources=sources,
        avatar=persona.avatar,
        publish=spec.publish.enabled,
        groups=groups,
        protect=spec.protect,
        previous_slugs=tuple(spec.previous_slugs),
        spec_hash=spec_hash,
        referenced_files=persona.referenced_files,
        lines=dict(persona.key_lines),
    )


def source_state(source: Any) -> SourceState:
    """A catalogue ``Source`` as a comparable ``SourceState``."""
    return SourceState(
        source_type=source.source_type,
        source_id=source.source_id,
        source_name=source.source_name,
        weight=float(source.weight),
        search_config=dict(source.search_config or {}),
        status=source.status,
        catalogue_id=source.id,
    )


def actual_from_catalogue(
    persona: Persona, groups: tuple[str, ...], published_model: FrontendModel | None = None
) -> ActualPersona:
    """Translate a catalogue persona (its group memberships, its published model) into
    comparable state."""
    marker = read_marker(persona.metadata)
    fields = {name: getattr(persona, name) for name in FIELDS}
    fields["metadata"] = user_metadata(persona.metadata)
    sources: dict[SourceKey, SourceState] | None = None
    if persona.sources is not None:
        sources = {(s.source_type, s.source_id): source_state(s) for s in persona.sources}
    avatar_sha = persona.avatar_sha256 or (marker.avatar_sha256 if marker else None)
    return ActualPersona(
        id=persona.id,
        slug=persona.slug,
        fields=fields,
        sources=sources,
        avatar_sha256=avatar_sha,
        has_avatar=bool(persona.avatar_url),
        published=persona.published,
        groups=groups,
        marker=marker,
        published_model_id=persona.published_model_id,
        published_model=published_model,
    )
