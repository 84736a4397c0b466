"""The persona file format: one YAML file per persona under ``personas/``.

Field names, enums and ranges follow the ScaiPersona API; the grouping
(``publish``, ``rag``, ``sources``) is the file format's own.  Models forbid
unknown keys so a typo is an error, not a silently ignored field.
"""

from __future__ import annotations

from typing import Any, Self

from personas_as_code.schemas.fields import (
    CONTEXT_PLACEHOLDER,
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
)
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

    @field_validator("context_template")
    @classmethod
    def _template_has_placeholder(cls, value: str | None) -> str | None:
        if value is not None and CONTEXT_PLACEHOLDER not in value:
            raise ValueError(f"context_template must contain the {CONTEXT_PLACEHOLDER} placeholder")
        return value


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


class PersonaFile(_FileModel):
    """One persona file, as written by people in pull requests."""

    name: NonEmptyStr = Field(description="Display name of the persona.")
    slug: Slug | None = Field(default=None, description="Defaults to the file name.")
    previous_slugs: list[Slug] = Field(
        default_factory=list, description="Former slugs, so a rename is not delete + create."
    )
    model: NonEmptyStr = Field(description="model_slug of the frontend model to wrap.")
    description: str | None = Field(
        default=None, description="What the persona is for, shown to people choosing one."
    )
    system_prompt: str | None = Field(
        default=None, description="The system prompt (or give system_prompt_file instead)."
    )
    system_prompt_file: str | None = Field(
        default=None, description="Path of the prompt, relative to this file, inside the repo."
    )
    status: PersonaStatus = Field(
        default="draft", description="Lifecycle state: draft, active or archived."
    )
    publish: Publish = Field(
        default_factory=Publish, description="Publishing the persona as a model, and its groups."
    )
    rag: Rag = Field(default_factory=Rag, description="Retrieval over the sources.")
    sources: list[Source] = Field(
        default_factory=list, description="Knowledge sources searched when rag is enabled."
    )
    default_params: DefaultParams = Field(
        default_factory=DefaultParams, description="Default inference parameters."
    )
    avatar: str | None = Field(default=None, description="Image path relative to this file.")
    metadata: JsonObject = Field(
        default_factory=dict, description="Free-form JSON kept with the persona (e.g. team)."
    )
    protect: bool = Field(default=False, description="Refuse to delete this persona.")

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
