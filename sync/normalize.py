"""Canonical forms used on both sides of a diff, so equal things compare equal.

Prompts lose ``\\r\\n`` and trailing whitespace; optional values the API
cannot clear have documented equivalents (see ``CLEARABLE_EQUIVALENTS``);
unordered lists (groups) become sorted tuples.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# what the engine sends when a file drops an optional persona field (PUT ignores nulls)
# is declared with the mapping
from personas_as_code.catalogue.persona_mapping import (  # noqa: F401  (UNCLEARABLE_FIELDS re-exported)
    CLEARABLE_EQUIVALENTS,
    UNCLEARABLE_FIELDS,
)


def normalize_text(text: str | None) -> str:
    """A prompt or template with LF line endings and no trailing whitespace."""
    if not text:
        return ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no whitespace variance."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_of(value: Any) -> str:
    """sha256 hex digest of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def comparable(field: str, value: Any) -> Any:
    """The value of a persona field as the differ compares it."""
    if field in CLEARABLE_EQUIVALENTS and value is None:
        return CLEARABLE_EQUIVALENTS[field]
    if field in ("system_prompt", "rag_context_template") and value is not None:
        return normalize_text(value)
    return value
