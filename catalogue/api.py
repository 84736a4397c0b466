"""Request and response bodies of the ScaiPersona API (pydantic v2).

One declaration serves the REST app (validation + OpenAPI), the HTTP client
(parsing) and the embedded catalogue (return values).  Field names, enums and
ranges are those of ``reference/scaipersona-api.txt``.

Extensions beyond the reference, used when present and ignored otherwise:
``Persona.sources`` (the persona's sources inline, so a plan can read the
whole catalogue in list pages) and ``Persona.avatar_sha256``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import UnionType
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Generic,
    Literal,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

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
from personas_as_code.schemas.jsonvalue import dotted, json_problems
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator
from pydantic.fields import FieldInfo
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


M = TypeVar("M", bound=BaseModel)


def _plain(annotation: Any) -> Any:
    """``annotation`` without its ``Annotated`` limits and descriptions, unions included."""
    if get_origin(annotation) is Annotated:
        return _plain(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return Union[tuple(_plain(arg) for arg in get_args(annotation))]  # noqa: UP007
    return annotation


def _default_of(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return Field(default_factory=info.default_factory)
    return Field(default=info.default)


def _rebuilt(model: type[M], fields: dict[str, Any]) -> type[M]:
    """A subclass of ``model`` with the same name, module and docstring (so the same
    OpenAPI component) whose ``fields`` are redeclared."""
    return create_model(
        model.__name__,
        __base__=model,
        __module__=model.__module__,
        __doc__=model.__doc__,
        **fields,
    )


def _without_limits(model: type[M]) -> type[M]:
    """``model`` with its fields' limits dropped: a response says what is stored and never
    refuses it (``catalogue.servable`` repairs the rest)."""
    loose = {
        name: (_plain(info.annotation), _default_of(info))
        for name, info in model.model_fields.items()
        if info.metadata or info.description or _plain(info.annotation) != info.annotation
    }
    return _rebuilt(model, loose)


def _every_field_optional(source: type[BaseModel]) -> Callable[[type[M]], type[M]]:
    """Give the decorated model every field of ``source``, optional and null by default
    (an all-optional update body).  The limits stay: a value given must be valid."""

    def decorate(model: type[M]) -> type[M]:
        hints = get_type_hints(source, include_extras=True)
        return _rebuilt(model, {name: (hints[name] | None, None) for name in source.model_fields})

    return decorate


@dataclass(frozen=True)
class Stored:
    """How the embedded catalogue stores a field whose column type is not derived from its
    Python type (``db.PersonaRow`` reads it): ``"text"`` for a ``Literal`` or a
    length-limited string, ``"json"`` for a map.  A marker, not ``sqlmodel.Field``, so
    that the API models (and a plan over HTTP) load no database code."""

    kind: Literal["text", "json"]
    nullable: bool | None = None


TEXT = Stored("text")
JSON_MAP = Stored("json")


class PersonaBase(BaseModel):
    """The persona's catalogue fields, declared once (SQLModel's ``HeroBase`` pattern).

    The request bodies, the response and the embedded catalogue's table row all derive
    from this class: ``PersonaCreate`` adds ``metadata`` and makes ``slug`` optional,
    ``PersonaUpdate`` is ``PersonaCreate`` with every field optional, ``Persona`` drops
    the request limits (a response says what is stored) and ``db.PersonaRow`` makes a
    column of each field (its ``Stored`` marker where the column's type is not the field's).
    ``metadata`` is not here because SQLAlchemy reserves that attribute name on a table:
    the row calls it ``metadata_``.  Adding a field: docs/architecture.md, "Adding a
    persona field".
    """

    name: Annotated[NonEmptyStr, TEXT]
    slug: Annotated[Slug, TEXT]
    model_slug: Annotated[NonEmptyStr, TEXT]
    system_prompt: str = ""
    rag_enabled: bool = False
    rag_strategy: Annotated[RagStrategy, TEXT] = "single_step"
    rag_top_k: TopK = 5
    rag_min_score: MinScore | None = None
    rag_context_template: str | None = None
    rag_status_messages: Annotated[dict[str, str] | None, JSON_MAP] = None
    status_messages_mode: Annotated[StatusMessagesMode, TEXT] = "standard"
    default_params: Annotated[dict[str, Any], Stored("json", nullable=True)] = Field(
        default_factory=dict
    )
    status: Annotated[PersonaStatus, TEXT] = "draft"


class PersonaFields(PersonaBase):
    """``PersonaBase`` and the free-form ``metadata`` (which holds the ownership marker)."""

    metadata: dict[str, Any] = Field(default_factory=dict)


class PersonaCreate(RequestBody, PersonaFields):
    """Body of ``POST /personas``."""

    # the body may leave it out: the catalogue derives it from the name
    slug: Slug | None = None  # type: ignore[assignment]

    _context_placed = field_validator("rag_context_template")(
        placed_context("rag_context_template")
    )


@_every_field_optional(PersonaCreate)
class PersonaUpdate(RequestBody):
    """Body of ``PUT /personas/{id}``: every non-null field is applied, nulls are ignored."""

    _context_placed = field_validator("rag_context_template", check_fields=False)(
        placed_context("rag_context_template")
    )

    if TYPE_CHECKING:  # its fields are generated; a type checker sees keyword arguments

        def __init__(self, **fields: Any) -> None: ...


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

    _search_known = field_validator("search_config")(known_search)


class SourceUpdate(RequestBody):
    """Body of ``PUT /personas/{id}/sources/{source_id}``."""

    weight: Weight | None = None
    search_config: dict[str, Any] | None = None
    status: SourceStatus | None = None

    _search_known = field_validator("search_config")(known_search)


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


class _Identity(BaseModel):
    """The ids a stored persona leads with (a base listed last, so they come first)."""

    id: str
    tenant_id: str | None = None


@_without_limits
class Persona(PersonaFields, _Identity):
    """A persona as the catalogue returns it."""

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
