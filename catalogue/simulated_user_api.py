"""Bodies of the test-personas API (seed ``reference/test-personas-api.txt``).

Field names are the seed's camelCase (``systemPrompt``, ``imageUrl``,
``createdAt``); timestamps are ISO 8601 UTC with milliseconds
(``2026-01-28T10:00:00.000Z``).  Request bodies follow the rest of the app:
unknown fields refused, strict JSON values, bounded sizes, headers checked by
``schemas.simulated_user.header_problems``.

Extension beyond the seed, stored and returned by this server and ignored by
others: ``metadata`` (a free-form JSON map; the sync engine keeps its
ownership marker there).  ``headers`` is returned too (the seed accepts it but
does not show it in answers).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from personas_as_code.catalogue.api import RequestBody
from personas_as_code.schemas.jsonvalue import JsonObject
from personas_as_code.schemas.simulated_user import (
    MAX_DESCRIPTION_CHARS,
    MAX_NAME_CHARS,
    MAX_SYSTEM_PROMPT_CHARS,
    Headers,
)
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer
from pydantic.alias_generators import to_camel

MAX_IMAGE_ID_CHARS = 100

Name = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_CHARS)]
SystemPrompt = Annotated[str, StringConstraints(max_length=MAX_SYSTEM_PROMPT_CHARS)]
ImageId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_IMAGE_ID_CHARS)]

_CAMEL = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class TestPersonaCreate(RequestBody):
    """Body of ``POST /api/projects/{project}/personas``; ``name`` is required (400
    "Name is required" when missing or blank)."""

    model_config = _CAMEL

    name: Name | None = None
    description: Description | None = None
    system_prompt: SystemPrompt | None = None
    headers: Headers | None = None
    metadata: JsonObject | None = None


class TestPersonaUpdate(RequestBody):
    """Body of ``PUT /api/projects/{project}/personas/{id}``: every field optional;
    null or absent fields are left as they are."""

    model_config = _CAMEL

    name: Name | None = None
    description: Description | None = None
    system_prompt: SystemPrompt | None = None
    image_url: ImageId | None = Field(
        default=None, description="Image ID referencing a stored image of the project."
    )
    headers: Headers | None = None
    metadata: JsonObject | None = None


def api_timestamp(value: datetime) -> str:
    """``2026-01-28T10:00:00.000Z``: the seed's timestamp form."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


class TestPersona(BaseModel):
    """A test persona as the API answers it (absent optional fields are omitted)."""

    model_config = _CAMEL

    id: str
    name: str
    description: str | None = None
    system_prompt: str = ""
    headers: dict[str, str] | None = None
    image_url: str | None = None
    metadata: dict | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_serializer("created_at", "updated_at")
    def _timestamp(self, value: datetime | None) -> str | None:
        return api_timestamp(value) if value is not None else None
