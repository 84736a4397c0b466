"""The persona's one mapping between its shapes: file <-> API <-> enricher profile.

A persona file (``schemas.persona.PersonaFile``) groups what the ScaiPersona API keeps
flat (``rag.top_k`` is ``rag_top_k``), names the frontend model ``model`` where the API
says ``model_slug``, and keeps its description in the API's ``metadata``.  This module
is the only place that knows so: the engine's desired state (``sync.state``), ``personas
import`` (``sync.importer``), the catalogue's chat
(``catalogue.chat``) and the sandbox's enricher (``sandbox.enrichment``) all map through it.

Which API fields a file key feeds is declared with the key (``FileKey.api``);
``tests/schemas/test_one_shape.py`` proves the two agree and that a persona survives
API -> file -> API unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from personas_as_code.catalogue.api import Persona, PersonaBase, Source
from personas_as_code.loader.repo import LoadedPersona
from personas_as_code.schemas.persona import Source as FileSource
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

if TYPE_CHECKING:  # retrieval loads numpy: plan, validate and import do without it
    from personas_as_code.inference.enricher import PersonaProfile
    from personas_as_code.knowledge_index.retrieval import SourceRef


def _metadata(persona: LoadedPersona) -> dict[str, Any]:
    metadata = dict(persona.spec.metadata)
    if persona.spec.description:
        metadata["description"] = persona.spec.description
    return metadata


# API field <- how a persona file gives it, in the order plans show the fields.
FROM_FILE: dict[str, Callable[[LoadedPersona], Any]] = {
    "name": lambda p: p.spec.name,
    "slug": lambda p: p.slug,
    "model_slug": lambda p: p.spec.model,
    "status": lambda p: p.spec.status,
    "system_prompt": lambda p: p.system_prompt,  # inline or from system_prompt_file
    "rag_enabled": lambda p: p.spec.rag.enabled,
    "rag_strategy": lambda p: p.spec.rag.strategy,
    "rag_top_k": lambda p: p.spec.rag.top_k,
    "rag_min_score": lambda p: p.spec.rag.min_score,
    "rag_context_template": lambda p: p.spec.rag.context_template,
    "status_messages_mode": lambda p: p.spec.rag.status_messages.mode,
    "rag_status_messages": lambda p: p.spec.rag.status_messages.messages,
    "default_params": lambda p: p.spec.default_params.model_dump(exclude_none=True),
    "metadata": _metadata,
}

FIELDS: tuple[str, ...] = tuple(FROM_FILE)
"""The persona fields a file sets (every field of ``api.PersonaFields``), in plan order."""


# PUT ignores nulls, so these optional persona fields cannot be cleared. When the file
# drops one, the engine sends the value that means "nothing" instead: a minimum score
# of 0 filters nothing, and an empty map of status messages is the same as none.
# ``rag_context_template`` has no such value: the plan warns.  Every API field that
# defaults to None is in one of the two.
CLEARABLE_EQUIVALENTS: dict[str, Any] = {"rag_min_score": 0.0, "rag_status_messages": {}}
UNCLEARABLE_FIELDS: tuple[str, ...] = ("rag_context_template",)


def api_fields(persona: LoadedPersona) -> dict[str, Any]:
    """A persona file as API persona fields, in ``FIELDS`` order (the prompt as written)."""
    return {name: read(persona) for name, read in FROM_FILE.items()}


@dataclass(frozen=True)
class SourceFields:
    """A knowledge source of a persona file in the API's names."""

    source_type: str
    source_id: str
    source_name: str | None
    weight: float
    search_config: dict[str, Any]
    status: str


def source_fields(source: FileSource) -> SourceFields:
    """A file's source (``type``, ``id``, ``name``, ...) in the API's names."""
    return SourceFields(
        source_type=source.type,
        source_id=source.id,
        source_name=source.name,
        weight=float(source.weight),
        search_config=dict(source.search_config or {}),
        status=source.status,
    )


def _flow(items: list[Any]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _flow_map(data: Mapping[str, Any]) -> CommentedMap:
    mapping = CommentedMap(data)
    mapping.fa.set_flow_style()
    return mapping


def _block_if_multiline(text: str) -> str:
    return LiteralScalarString(text) if "\n" in text else text


def _file_source(source: Source) -> CommentedMap:
    item = CommentedMap(type=source.source_type, id=source.source_id)
    if source.source_name:
        item["name"] = source.source_name
    item["weight"] = source.weight
    if source.search_config:
        item["search_config"] = _flow_map(source.search_config)
    if source.status != "active":
        item["status"] = source.status
    return item


def file_document(
    persona: Persona, *, metadata: Mapping[str, Any], groups: list[str], avatar: str | None
) -> CommentedMap:
    """A catalogue persona as the content of a persona file, in the order people write
    the keys; defaults are left out.  ``metadata`` is the persona's without the ownership
    marker, ``groups`` its published model's groups, ``avatar`` the image's path."""
    doc = CommentedMap()
    doc["name"] = persona.name
    doc["model"] = persona.model_slug
    rest = dict(metadata)
    description = rest.pop("description", None)
    if isinstance(description, str):
        doc["description"] = description
    doc["status"] = persona.status
    prompt = persona.system_prompt
    doc["system_prompt"] = LiteralScalarString(prompt + "\n") if "\n" in prompt else prompt
    doc["publish"] = CommentedMap(enabled=persona.published)
    if persona.published:
        doc["publish"]["groups"] = _flow(sorted(groups))
    rag = CommentedMap(enabled=persona.rag_enabled, strategy=persona.rag_strategy)
    rag["top_k"] = persona.rag_top_k
    if persona.rag_min_score:
        rag["min_score"] = persona.rag_min_score
    if persona.rag_context_template:
        rag["context_template"] = _block_if_multiline(persona.rag_context_template)
    status_messages = CommentedMap(mode=persona.status_messages_mode)
    if persona.rag_status_messages:
        status_messages["messages"] = CommentedMap(persona.rag_status_messages)
    rag["status_messages"] = status_messages
    doc["rag"] = rag
    sources = CommentedSeq(_file_source(s) for s in persona.sources or [])
    if sources:
        doc["sources"] = sources
    if persona.default_params:
        doc["default_params"] = _flow_map(persona.default_params)
    if avatar:
        doc["avatar"] = avatar
    if rest:
        doc["metadata"] = CommentedMap(rest)
    return doc


class ApiSource(Protocol):
    """A source in the API's names: a catalogue row, an API ``Source`` or ``SourceFields``."""

    @property
    def source_type(self) -> str: ...
    @property
    def source_id(self) -> str: ...
    @property
    def weight(self) -> float: ...
    @property
    def search_config(self) -> Mapping[str, Any] | None: ...
    @property
    def status(self) -> str: ...


def source_ref(source: ApiSource) -> SourceRef:
    """A source as retrieval references it (hybrid search unless it says otherwise)."""
    from personas_as_code.knowledge_index.retrieval import SourceRef

    return SourceRef(
        source_type=source.source_type,
        source_id=source.source_id,
        weight=source.weight,
        search_type=str((source.search_config or {}).get("search_type") or "hybrid"),
        status=source.status,
    )


def enricher_profile(
    persona: PersonaBase, sources: Iterable[ApiSource], *, stored: bool
) -> PersonaProfile:
    """What the enricher needs of a persona in API fields (a catalogue row is one).

    ``stored``: the persona comes from the catalogue, which stores a minimum score of 0
    for "no minimum" (``PUT`` cannot clear a field); a file's 0 is a minimum of 0.
    """
    from personas_as_code.inference.enricher import PersonaProfile, RagSettings

    min_score = persona.rag_min_score
    return PersonaProfile(
        slug=persona.slug,
        system_prompt=persona.system_prompt or "",
        rag=RagSettings(
            enabled=persona.rag_enabled,
            strategy=persona.rag_strategy,
            top_k=persona.rag_top_k,
            min_score=(min_score or None) if stored else min_score,
            context_template=persona.rag_context_template,
            status_mode=persona.status_messages_mode,
            status_messages=dict(persona.rag_status_messages or {}),
        ),
        sources=tuple(source_ref(s) for s in sources),
        default_params=dict(persona.default_params or {}),
    )


def file_profile(persona: LoadedPersona) -> PersonaProfile:
    """The enricher's view of a persona file (working tree or draft)."""
    return enricher_profile(
        PersonaBase.model_construct(**api_fields(persona)),
        [source_fields(s) for s in persona.spec.sources],
        stored=False,
    )
