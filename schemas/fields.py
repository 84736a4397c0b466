"""Field types, enums and limits of the ScaiPersona API.

The persona file format (``schemas.persona``) and the catalogue's API bodies
(``catalogue.api``) both build on these, so a range or enum is declared once.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SLUG_RE = re.compile(SLUG_PATTERN)
SLUG_MAX_LENGTH = 64

Slug = Annotated[
    str,
    StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=SLUG_MAX_LENGTH),
    Field(description="URL-safe identifier: lowercase letters, digits and single hyphens."),
]
NonEmptyStr = Annotated[str, StringConstraints(min_length=1, max_length=200)]

PersonaStatus = Literal["draft", "active", "archived"]
RagStrategy = Literal["single_step", "multi_step", "agentic"]
StatusMessagesMode = Literal["none", "standard", "custom"]
SourceType = Literal["collection", "scaidrive"]
SourceStatus = Literal["active", "disabled"]

TopK = Annotated[int, Field(ge=1, le=50, description="Chunks retrieved per query (1-50).")]
MinScore = Annotated[float, Field(ge=0.0, le=1.0, description="Minimum similarity score.")]
Weight = Annotated[float, Field(ge=0.0, le=10.0, description="Source weight (0.0-10.0).")]

CONTEXT_PLACEHOLDER = "$context"
SEARCH_TYPES = ("keyword", "semantic", "hybrid")
"""The searches a source's ``search_config.search_type`` may ask for (default hybrid)."""


def search_type_problem(search_config: object) -> str | None:
    """Why ``search_config`` names a search that does not exist, or None."""
    if not isinstance(search_config, dict) or "search_type" not in search_config:
        return None
    value = search_config["search_type"]
    if value in SEARCH_TYPES:
        return None
    allowed = ", ".join(SEARCH_TYPES)
    return f"search_type must be one of {allowed} (got {value!r})"


AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_MIME_BY_EXTENSION: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
AVATAR_MIME_TYPES = frozenset(AVATAR_MIME_BY_EXTENSION.values())


def slugify(name: str) -> str:
    """Derive a slug from a display name, as the catalogue does when none is given."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:SLUG_MAX_LENGTH].rstrip("-") or "persona"
