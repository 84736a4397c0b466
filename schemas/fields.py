"""Field types, enums and limits of the ScaiPersona API.

The persona file format (``schemas.persona``) and the catalogue's API bodies
(``catalogue.api``) both build on these, so a range or enum is declared once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
"""For JSON Schema and pydantic, where ``$`` is the end of the text."""
SLUG_RE = re.compile(SLUG_PATTERN.removesuffix("$") + r"\Z")
"""For Python's ``re``, where ``$`` also matches before a final newline (``"x\\n"``):
``\\Z`` is the end of the text, so ``SLUG_RE.match`` accepts a slug and nothing after it."""
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

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
"""An environment variable's name (``api_key_env`` and the like): the variable, never its value."""
CONTEXT_PLACEHOLDER = "$context"
SEARCH_TYPES = ("keyword", "semantic", "hybrid")
"""The searches a source's ``search_config.search_type`` may ask for (default hybrid)."""


def known_search(search_config: Any) -> Any:
    """``search_config`` unchanged when its ``search_type`` is one the retrieval knows (a
    pydantic field validator of the file's sources and of the sources API)."""
    if isinstance(search_config, dict) and "search_type" in search_config:
        value = search_config["search_type"]
        if value not in SEARCH_TYPES:
            allowed = ", ".join(SEARCH_TYPES)
            raise ValueError(f"search_type must be one of {allowed} (got {value!r})")
    return search_config


def placed_context(key: str) -> Callable[[str | None], str | None]:
    """A field validator: the template of field ``key`` places the retrieved context
    (without ``$context`` the enricher would send the template and drop what it found)."""

    def check(value: str | None) -> str | None:
        if value is not None and CONTEXT_PLACEHOLDER not in value:
            raise ValueError(f"{key} must contain the {CONTEXT_PLACEHOLDER} placeholder")
        return value

    return check


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
