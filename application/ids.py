"""Strict checks of caller-supplied identifiers and sizes (slugs, draft ids, texts)."""

from __future__ import annotations

import re
import secrets

from personas_as_code.schemas.errors import DraftError, NotFound, PersonasError
from personas_as_code.schemas.fields import SLUG_MAX_LENGTH, SLUG_RE
from personas_as_code.schemas.persona import MAX_PROMPT_BYTES  # noqa: F401  (re-exported)

DRAFT_ID_PATTERN = r"^[a-z0-9]{8,32}$"
DRAFT_ID_RE = re.compile(DRAFT_ID_PATTERN.removesuffix("$") + r"\Z")  # nothing after it
DRAFT_REF_PREFIX = "refs/heads/persona-drafts/"

MAX_TEXT_BYTES = 64 * 1024
MAX_QUERY_CHARS = 500
MAX_PATCH_BYTES = 512 * 1024


class InvalidInput(PersonasError):
    """A tool argument is malformed or out of bounds."""

    code = "INVALID_INPUT"


def check_slug(slug: str) -> str:
    """Return ``slug`` if it is a valid persona slug; refuse anything path-like."""
    if not isinstance(slug, str) or len(slug) > SLUG_MAX_LENGTH or not SLUG_RE.match(slug):
        raise InvalidInput(
            f"invalid slug {slug[:80]!r}: use lowercase letters, digits and single hyphens "
            f"(at most {SLUG_MAX_LENGTH} characters)"
        )
    return slug


def check_draft_id(draft_id: str) -> str:
    """Return ``draft_id`` if it matches ``[a-z0-9]{8,32}``."""
    if not isinstance(draft_id, str) or not DRAFT_ID_RE.match(draft_id):
        raise InvalidInput(f"invalid draft id {draft_id[:80]!r}: expected 8-32 of [a-z0-9]")
    return draft_id


def new_draft_id() -> str:
    """A fresh random draft id (12 lowercase hex characters)."""
    return secrets.token_hex(6)


def check_size(what: str, text: str | None, limit: int) -> None:
    """Refuse texts whose UTF-8 size exceeds ``limit`` bytes."""
    if text is not None and len(text.encode("utf-8", errors="replace")) > limit:
        raise InvalidInput(f"{what} is larger than the limit of {limit:,} bytes")


__all__ = [
    "DRAFT_ID_PATTERN",
    "DRAFT_REF_PREFIX",
    "DraftError",
    "InvalidInput",
    "NotFound",
    "check_draft_id",
    "check_size",
    "check_slug",
    "new_draft_id",
]
