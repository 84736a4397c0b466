"""Request and response bodies of the ScaiPersona API (pydantic v2).

One declaration serves the REST app (validation + OpenAPI), the HTTP client
(parsing) and the embedded catalogue (return values).  Field names, enums and
ranges are those of ``reference/scaipersona-api.txt``.

Extensions beyond the reference, used when present and ignored otherwise:
``Persona.sources`` (the persona's sources inline, so a plan can read the
whole catalogue in list pages) and ``Persona.avatar_sha256``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

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
)
from personas_as_code.schemas.jsonvalue import dotted, json_problems
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

T = TypeVar("T")

API_PREFIX = "/v1/modules/scaipersona"
"""Where the ScaiPersona routes are mounted."""


def published_model_slug(tenant_slug: str, persona_slug: str) -> str:
    """The frontend model slug ``publish`` gives a persona: ``tenant/{tenant}/{persona}``."""
    return f"tenant/{tenant_slug}/{persona_slug}"


class RequestBody(BaseModel):
    """A request body: unknown fields refused, every value strict JSON.

    Floats must be finite, and each field's value must pass the one strict-JSON
    rule (``schemas.jsonvalue``: no NUL or lone surrogate in any string or key,
    64-bit integers, nesting and size capped), so nothing is stored that a
    database, a JSON encoder or a later listing would choke on.  A refusal is a
    ``json_value`` error whose ``path`` names the value inside the field.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _strict_json(cls, value: Any) -> Any:
        problems = json_problems(value)
        if problems:
            path, reason = problems[0]
            # the path quotes the caller's keys: escape what a str cannot carry out
            where = dotted(path).encode("utf-8", "backslashreplace").decode() if path else ""
            raise PydanticCustomError(
                "json_value",
                "{where}{reason}",
                {"where": f"{where}: " if where else "", "reason": reason, "path": where},
            )
        return value


class PersonaCreate(RequestBody):
    """Body of ``POST /personas``."""

    name: NonEmptyStr
    slug: Slug | None = None
    model_slug: NonEmptyStr
    system_prompt: str = ""
    rag_enabled: bool = False
    rag_strategy: RagStrategy = "single_step"
    rag_top_k: TopK = 5
    rag_min_score: MinScore | None = None
    rag_context_template: str | None = None
    rag_status_messages: dict[str, str] | None = None
    status_messages_mode: StatusMessagesMode = "standard"
    default_params: dict[str, Any] = Field(default_factory=dict)
    status: PersonaStatus = "draft"
    metadata: dict[str, Any] = Field(default_factory=dict)


class PersonaUpdate(RequestBody):
    """Body of ``PUT /personas/{id}``: every non-null field is applied, nulls are ignored."""

    name: NonEmptyStr | None = None
    slug: Slug | None = None
    model_slug: NonEmptyStr | None = None
    system_prompt: str | None = None
    rag_enabled: bool | None = None
    rag_strategy: RagStrategy | None = None
    rag_top_k: TopK | None = None
    rag_min_score: MinScore | None = None
    rag_context_template: str | None = None
    rag_status_messages: dict[str, str] | None = None
    status_messages_mode: StatusMessagesMode | None = None
    default_params: dict[str, Any] | None = None
    status: PersonaStatus | None = None
    metadata: dict[str, Any] | None = None


class PublishRequest(RequestBody):
    """Optional body of ``POST /personas/{id}/publish``."""

    group_ids: list[str] | None = None


class SourceCreate(RequestBody):
    """Body of ``POST /personas/{id}/sources``."""

    source_type: SourceType
    source_id: NonEmptyStr
    source_name: str | None = None
    weight: Weight = 1.0
    search_config: dict[str, Any] | None = None


class SourceUpdate(RequestBody):
    """Body of ``PUT /personas/{id}/sources/{source_id}``."""

    weight: Weight | None = None
    search_config: dict[str, Any] | None = None
    status: SourceStatus | None = None


class Source(BaseModel):
    """A knowledge source attached to a persona."""

    id: str
    persona_id: str
    source_type: SourceType
    source_id: str
    source_name: str | None = None
    weight: float = 1.0
    search_config: dict[str, Any] | None = None
    status: SourceStatus = "active"
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Persona(BaseModel):
    """A persona as the catalogue returns it."""

    id: str
    tenant_id: str | None = None
    name: str
    slug: str
    model_slug: str
    system_prompt: str = ""
    rag_enabled: bool = False
    rag_strategy: RagStrategy = "single_step"
    rag_top_k: int = 5
    rag_min_score: float | None = None
    rag_context_template: str | None = None
    rag_status_messages: dict[str, str] | None = None
    status_messages_mode: StatusMessagesMode = "standard"
    default_params: dict[str, Any] = Field(default_factory=dict)
    status: PersonaStatus = "draft"
    metadata: dict[str, Any] = Field(default_factory=dict)
    published: bool = False
    published_model_id: str | None = None
    avatar_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # extensions (see module docstring)
    sources: list[Source] | None = None
    avatar_sha256: str | None = None


class AvatarUploaded(BaseModel):
    """Answer of ``POST /personas/{id}/avatar``."""

    avatar_url: str


class BackendLink(BaseModel):
    """A frontend model's link to a backend (provider) model, in dispatch priority."""

    backend_model_slug: str
    provider_type: str
    priority: int = 0


class FrontendModel(BaseModel):
    """A model in the catalogue that personas can wrap or that publish creates."""

    id: str
    slug: str
    display_name: str
    modality: str = "text"
    capabilities: dict[str, Any] = Field(default_factory=dict)
    context_window: int | None = None
    pricing: dict[str, Any] = Field(default_factory=dict)
    system_prompt_template: str | None = None
    avatar_url: str | None = None
    default_params: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    tenant_id: str | None = None
    # extensions: what a published persona's model wraps, and (``GET /v1/models/{slug}``
    # only; None in lists) its groups and backend links
    base_model_slug: str | None = None
    group_ids: list[str] | None = None
    backend_links: list[BackendLink] | None = None


class ModelGroup(BaseModel):
    """A model group; ``scope`` says who may add models to it."""

    id: str
    name: str
    scope: Literal["global", "partner", "tenant"]
    partner_id: str | None = None
    tenant_id: str | None = None
    model_slugs: list[str] = Field(default_factory=list)


class Page(BaseModel, Generic[T]):
    """One page of a cursor-paginated list."""

    items: list[T]
    next_cursor: str | None = None
    has_more: bool = False
