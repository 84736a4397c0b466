"""``[test_personas]`` of personas.toml: where ``test-personas/`` is reconciled, and
where ``generate-image`` asks for portraits."""

from __future__ import annotations

from typing import Annotated, Literal

from personas_as_code.schemas.fields import ENV_NAME_PATTERN, NonEmptyStr
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

TEST_PERSONAS_DIR = "test-personas"
_HTTP_URL = r"^https?://\S+$"
PROJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class ImageSettings(BaseModel):
    """Where ``generate-image`` asks for portraits (``[test_personas.images]``).

    Absent: portraits are drawn locally (a deterministic SVG).  ``openai``: any
    OpenAI-compatible ``POST {base_url}/images/generations`` endpoint.
    """

    model_config = ConfigDict(extra="forbid")

    provider: Literal["openai"] = Field(
        default="openai", description="An OpenAI-compatible /images/generations endpoint."
    )
    base_url: Annotated[str, StringConstraints(pattern=_HTTP_URL, max_length=2000)] = Field(
        description="The API root that /images/generations is under, e.g. "
        "'https://api.openai.com/v1'."
    )
    model: NonEmptyStr = Field(default="gpt-image-1", description="The image model.")
    api_key_env: Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)] | None = Field(
        default=None,
        description="The NAME of the environment variable holding the key, read by the "
        "catalogue server when an image is generated (the key is never stored).",
    )
    size: Literal["256x256", "512x512", "1024x1024"] = Field(
        default="1024x1024", description="Size of the generated portrait."
    )
    timeout_seconds: float = Field(
        default=120.0, gt=0, le=600, description="Seconds to wait for an image."
    )


class SimulatedUsersConfig(BaseModel):
    """Where ``test-personas/`` is reconciled (``[test_personas]`` of personas.toml)."""

    # titled with its name in config.schema.json (and in validation messages)
    model_config = ConfigDict(extra="forbid", title="TestPersonasSection")

    enabled: bool = Field(
        default=True, description="Plan and apply test personas (default: when the folder exists)."
    )
    dir: str = Field(default=TEST_PERSONAS_DIR, description="Folder holding the files.")
    url: Annotated[str, StringConstraints(pattern=_HTTP_URL, max_length=2000)] | None = Field(
        default=None,
        description="Root of a server speaking the test-personas API (its routes are under "
        "/api/projects/{project}/personas); default: the catalogue's own.",
    )
    api_key_env: Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)] | None = Field(
        default=None,
        description="The NAME of the environment variable holding that server's bearer key.",
    )
    project: Annotated[str, StringConstraints(pattern=PROJECT_PATTERN)] = Field(
        default="default", description="The project the test personas live in on that server."
    )
    ownership: Literal["marker", "project"] = Field(
        default="marker",
        description="'marker': only test personas carrying this repo's marker (metadata) are "
        "managed; 'project': the server keeps no metadata, so every test persona of the project "
        "belongs to this repo.",
    )
    images: ImageSettings | None = Field(
        default=None, description="Image endpoint of generate-image (default: local portraits)."
    )
