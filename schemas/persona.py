"""The persona file format: one YAML file per persona under ``personas/``.

Field names, enums and ranges follow the ScaiPersona API; the grouping
(``publish``, ``rag``, ``sources``) is the file format's own.  Models forbid
unknown keys so a typo is an error, not a silently ignored field.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, Self

from personas_as_code.schemas.fields import (
    MinScore,
    NonEmptyStr,
    PersonaStatus,
    RagStrategy,
    Slug,
    SourceStatus,
    SourceType,
    StatusMessagesMode,
    TopK,
    Weight,
    known_search,
    placed_context,
)
from personas_as_code.schemas.file_keys import Cell, Column, Draft, FileKey, ordered
from personas_as_code.schemas.jsonvalue import JsonObject, json_problems
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError


def _fail_at(model: str, loc: tuple[str | int, ...], message: str, value: Any) -> ValidationError:
    """A validation error pinned to ``loc`` so the loader can point at the right line."""
    error = PydanticCustomError("persona_rule", message)
    return ValidationError.from_exception_data(
        model, [InitErrorDetails(type=error, loc=loc, input=value)]
    )


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


MAX_PROMPT_BYTES = 256 * 1024
"""The longest system prompt, inline or in its file."""


class StatusMessages(_FileModel):
    """How RAG progress is reported to the user; ``custom`` needs ``messages``."""

    mode: StatusMessagesMode = Field(
        default="standard",
        description="standard: the built-in progress messages; custom: the 'messages' map; "
        "none: no progress messages.",
    )
    messages: dict[str, str] | None = Field(
        default=None, description="Status key -> template; required when mode is custom."
    )

    @model_validator(mode="after")
    def _custom_needs_messages(self) -> Self:
        if self.mode == "custom" and not self.messages:
            raise _fail_at(
                "StatusMessages",
                ("mode",),
                "status_messages mode 'custom' needs a non-empty 'messages' map",
                self.mode,
            )
        return self


class Rag(_FileModel):
    """Retrieval settings (``rag_*`` fields of the API)."""

    enabled: bool = Field(default=False, description="Search the sources before answering.")
    strategy: RagStrategy = Field(
        default="single_step",
        description="How retrieval runs: single_step (one search per question), multi_step "
        "or agentic.",
    )
    top_k: TopK = Field(default=5, description="Most chunks put into the context (1-50).")
    min_score: MinScore | None = Field(
        default=None, description="Chunks scoring below this relevance (0-1) are left out."
    )
    context_template: str | None = Field(
        default=None, description="Template for retrieved context; must contain $context."
    )
    status_messages: StatusMessages = Field(
        default_factory=StatusMessages, description="How retrieval progress is shown to the user."
    )

    _context_placed = field_validator("context_template")(placed_context("context_template"))


class Source(_FileModel):
    """A knowledge source, identified by ``(type, id)``."""

    type: SourceType = Field(description="Kind of knowledge source (e.g. collection, scaidrive).")
    id: NonEmptyStr = Field(description="The source's id in its system (with type, its identity).")
    name: str | None = Field(default=None, description="Display label used in RAG context.")
    weight: Weight = Field(default=1.0, description="Relative weight of its chunks (0-10).")
    search_config: JsonObject | None = Field(
        default=None, description="Search options passed to the source (e.g. search_type)."
    )
    status: SourceStatus = Field(
        default="active", description="active: searched; disabled: kept but not searched."
    )

    _search_known = field_validator("search_config")(known_search)


class Publish(_FileModel):
    """Whether the persona is published as a model, and into which model groups."""

    enabled: bool = Field(default=False, description="Publish the persona as a model.")
    groups: list[NonEmptyStr] = Field(
        default_factory=list, description="Model group ids the published model joins."
    )

    @model_validator(mode="after")
    def _unique_groups(self) -> Self:
        for index, group in enumerate(self.groups):
            if group in self.groups[:index]:
                raise _fail_at("Publish", ("groups", index), f"duplicate group {group}", group)
        return self


class DefaultParams(BaseModel):
    """Default inference parameters; known keys are range-checked, others pass through."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    temperature: float | None = Field(
        default=None, ge=0.0, le=2.0, description="Sampling temperature (0-2); lower is steadier."
    )
    top_p: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Nucleus sampling probability mass (0-1)."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Most tokens in one answer."
    )
    frequency_penalty: float | None = Field(
        default=None, ge=-2.0, le=2.0, description="Penalty on tokens by how often they appeared."
    )
    presence_penalty: float | None = Field(
        default=None, ge=-2.0, le=2.0, description="Penalty on tokens that appeared at all."
    )

    @model_validator(mode="after")
    def _extras_are_json(self) -> Self:
        for key, value in (self.model_extra or {}).items():
            problems = json_problems(value)
            if problems:
                loc, message = problems[0]
                raise _fail_at("DefaultParams", (key, *loc), message, value)
        return self


# --- the draft tool's partial objects (its arguments for publish, rag and sources) ------


class StatusMessagesPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: StatusMessagesMode | None = None
    messages: dict[str, str] | None = None


class RagPatch(BaseModel):
    """Partial ``rag`` object: given keys are merged into the file's ``rag``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    strategy: RagStrategy | None = None
    top_k: TopK | None = None
    min_score: MinScore | None = None
    context_template: str | None = Field(default=None, max_length=64 * 1024)
    status_messages: StatusMessagesPatch | None = None


class PublishPatch(BaseModel):
    """Partial ``publish`` object; ``groups`` replaces the list when given."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    groups: list[NonEmptyStr] | None = Field(default=None, max_length=100)


class SourceInput(BaseModel):
    """A source as written in the file; omitted keys are left out of the file."""

    model_config = ConfigDict(extra="forbid")

    type: SourceType
    id: NonEmptyStr
    name: str | None = Field(default=None, max_length=200)
    weight: Weight | None = None
    search_config: dict[str, Any] | None = None
    status: SourceStatus | None = None


# --- export cells ---------------------------------------------------------------------


def _source_cell(source: Source) -> str:
    parts = [f"w={source.weight:g}", source.status]
    if source.name:
        parts.append(f'name="{source.name}"')
    search_type = (source.search_config or {}).get("search_type")
    if search_type:
        parts.append(f"search={search_type}")
    return f"{source.type}:{source.id}({','.join(parts)})"


def _params_cell(params: DefaultParams) -> str:
    return "; ".join(f"{k}={v}" for k, v in params.model_dump(exclude_none=True).items())


def _metadata_cell(metadata: JsonObject) -> str:
    return json.dumps(metadata, sort_keys=True, ensure_ascii=False) if metadata else ""


# --- the file -------------------------------------------------------------------------

_RAG_FIELDS = (
    "rag_enabled",
    "rag_strategy",
    "rag_top_k",
    "rag_min_score",
    "rag_context_template",
    "status_messages_mode",
    "rag_status_messages",
)


class PersonaFile(_FileModel):
    """One persona file, as written by people in pull requests."""

    # Each key's FileKey says which API fields it maps to, the draft tool's argument for
    # it and its export columns (the docstring is the JSON Schema's description).

    name: Annotated[
        NonEmptyStr,
        FileKey(
            api=("name",),
            draft=Draft(str, min_length=1, max_length=200),
            export=(Column("name", lambda p: p.spec.name),),
        ),
    ] = Field(description="Display name of the persona.")
    slug: Annotated[
        Slug | None,
        FileKey(api=("slug",), draft=None, export=(Column("slug", lambda p: p.slug, after=""),)),
    ] = Field(default=None, description="Defaults to the file name.")
    previous_slugs: Annotated[
        list[Slug],
        FileKey(
            api=(),  # the engine matches catalogue personas by them; not stored
            draft=Draft(list[Slug], max_length=50, description="Replaces previous_slugs."),
            export=(),
        ),
    ] = Field(default_factory=list, description="Former slugs, so a rename is not delete + create.")
    model: Annotated[
        NonEmptyStr,
        FileKey(
            api=("model_slug",),
            draft=Draft(str, min_length=1, max_length=200),
            export=(Column("model", lambda p: p.spec.model),),
        ),
    ] = Field(description="model_slug of the frontend model to wrap.")
    description: Annotated[
        str | None,
        FileKey(
            api=("metadata",),  # kept as metadata["description"]
            draft=Draft(str, max_length=10_000),
            export=(Column("description", lambda p: p.spec.description or ""),),
        ),
    ] = Field(default=None, description="What the persona is for, shown to people choosing one.")
    system_prompt: Annotated[
        str | None,
        FileKey(
            api=("system_prompt",),
            draft=Draft(
                str,
                max_length=MAX_PROMPT_BYTES,
                description="New prompt; written to the prompt file when the persona uses one.",
            ),
            export=(Column("system_prompt", lambda p: p.system_prompt, after="prompt_file"),),
        ),
    ] = Field(default=None, description="The system prompt (or give system_prompt_file instead).")
    system_prompt_file: Annotated[
        str | None,
        FileKey(
            api=("system_prompt",),  # the file's text is the prompt
            draft=Draft(str, max_length=500),
            export=(Column("prompt_file", lambda p: p.prompt_path or "", after="metadata"),),
        ),
    ] = Field(
        default=None, description="Path of the prompt, relative to this file, inside the repo."
    )
    status: Annotated[
        PersonaStatus,
        FileKey(
            api=("status",),
            draft=Draft(PersonaStatus),
            export=(Column("status", lambda p: p.spec.status, after="model"),),
        ),
    ] = Field(default="draft", description="Lifecycle state: draft, active or archived.")
    publish: Annotated[
        Publish,
        FileKey(
            api=(),  # publish / unpublish and the model's groups, not persona fields
            draft=Draft(PublishPatch, "merge", description="Merged into publish."),
            export=(
                Column("published", lambda p: p.spec.publish.enabled),
                Column("groups", lambda p: "; ".join(p.spec.publish.groups)),
            ),
        ),
    ] = Field(
        default_factory=Publish, description="Publishing the persona as a model, and its groups."
    )
    rag: Annotated[
        Rag,
        FileKey(
            api=_RAG_FIELDS,
            draft=Draft(RagPatch, "merge", description="Merged into rag."),
            export=(
                Column("rag_enabled", lambda p: p.spec.rag.enabled),
                Column("rag_strategy", lambda p: p.spec.rag.strategy),
                Column("rag_top_k", lambda p: p.spec.rag.top_k),
                Column("rag_min_score", lambda p: _or_blank(p.spec.rag.min_score)),
            ),
        ),
    ] = Field(default_factory=Rag, description="Retrieval over the sources.")
    sources: Annotated[
        list[Source],
        FileKey(
            api=(),  # the persona's sources are their own API resource
            draft=Draft(
                list[SourceInput],
                "sources",
                max_length=100,
                description="Replaces the whole sources list.",
            ),
            export=(
                Column("sources", lambda p: "; ".join(_source_cell(s) for s in p.spec.sources)),
            ),
        ),
    ] = Field(default_factory=list, description="Knowledge sources searched when rag is enabled.")
    default_params: Annotated[
        DefaultParams,
        FileKey(
            api=("default_params",),
            draft=Draft(DefaultParams, "merge", description="Merged into default_params."),
            export=(Column("default_params", lambda p: _params_cell(p.spec.default_params)),),
        ),
    ] = Field(default_factory=DefaultParams, description="Default inference parameters.")
    avatar: Annotated[
        str | None,
        FileKey(
            api=(),  # uploaded as an image, not a persona field
            draft=Draft(str, max_length=500),
            export=(Column("avatar", lambda p: p.spec.avatar or ""),),
        ),
    ] = Field(default=None, description="Image path relative to this file.")
    metadata: Annotated[
        JsonObject,
        FileKey(
            api=("metadata",),
            draft=Draft(
                dict[str, Any], "merge", max_length=100, description="Merged into metadata."
            ),
            export=(Column("metadata", lambda p: _metadata_cell(p.spec.metadata)),),
        ),
    ] = Field(default_factory=dict, description="Free-form JSON kept with the persona (e.g. team).")
    protect: Annotated[
        bool,
        # the ownership marker in the catalogue's metadata holds it, not a persona field
        FileKey(api=(), draft=Draft(bool), export=(), after="status"),
    ] = Field(default=False, description="Refuse to delete this persona.")

    @model_validator(mode="after")
    def _one_prompt(self) -> Self:
        if self.system_prompt is not None and self.system_prompt_file is not None:
            raise _fail_at(
                "PersonaFile",
                ("system_prompt_file",),
                "give either system_prompt or system_prompt_file, not both",
                self.system_prompt_file,
            )
        return self

    @field_validator("sources")
    @classmethod
    def _unique_sources(cls, sources: list[Source]) -> list[Source]:
        seen: set[tuple[str, str]] = set()
        for index, source in enumerate(sources):
            key = (source.type, source.id)
            if key in seen:
                raise _fail_at(
                    "PersonaFile",
                    (index,),
                    f"duplicate source ({source.type}, {source.id}): a source may be attached once",
                    source.id,
                )
            seen.add(key)
        return sources


def _or_blank(value: float | None) -> Cell:
    return "" if value is None else value


@cache
def file_keys() -> dict[str, FileKey]:
    """Every top-level key of a persona file with its ``FileKey``, in declaration order."""
    keys = {}
    for name, info in PersonaFile.model_fields.items():
        found = [m for m in info.metadata if isinstance(m, FileKey)]
        if len(found) != 1:
            raise TypeError(f"PersonaFile.{name} needs exactly one FileKey")
        keys[name] = found[0]
    return keys


def key_order() -> tuple[str, ...]:
    """The order of a persona file's top-level keys (a draft inserts a new key after the
    closest key before it)."""
    return ordered([(name, key.after) for name, key in file_keys().items()])


def export_columns() -> tuple[Column, ...]:
    """The columns of ``personas export`` that the file's keys fill, in order."""
    columns = {c.name: c for key in file_keys().values() for c in key.export}
    order = ordered([(c.name, c.after) for c in columns.values()])
    return tuple(columns[name] for name in order)


def draft_arguments() -> dict[str, Draft]:
    """The draft tool's arguments for the file's keys, in declaration order."""
    return {name: key.draft for name, key in file_keys().items() if key.draft is not None}
