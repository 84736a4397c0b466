"""Keyset paging of the catalogue's lists: page sizes, filter limits and opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, Literal

from personas_as_code.catalogue.records import valid_id
from personas_as_code.schemas.errors import ValidationFailed

MAX_PAGE_SIZE = 200
"""The longest page a list answers (personas, models)."""

MAX_MODEL_FILTERS = 200
"""The most slugs and ids one ``GET /v1/models`` may filter on."""

MAX_FILTER_CHARS = 512
"""The longest slug or id a filter or cursor may name."""

Order = Literal["asc", "desc"]


def encode_cursor(key: int | str, order: Order) -> str:
    """An opaque cursor: the last row's key (a persona's ``pk``, a model's slug) and the
    order it was read in."""
    raw = json.dumps({"k": key, "o": order}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order) -> int:
    """The integer key encoded in ``cursor``; ``ValidationFailed`` when it is not ours.

    Anything but what ``encode_cursor`` makes is refused: a cursor is
    client-held input, and its key goes into a query.
    """
    # bool is an int to Python, not to the database
    return _cursor_key(cursor, order, lambda k: type(k) is int and 0 <= k < 2**63)


def decode_text_cursor(cursor: str, order: Order) -> str:
    """The text key (a model slug) encoded in ``cursor``; ``ValidationFailed`` otherwise."""
    return _cursor_key(
        cursor,
        order,
        lambda k: isinstance(k, str) and valid_id(k) and len(k) <= MAX_FILTER_CHARS,
    )


def _cursor_key(cursor: str, order: Order, valid: Callable[[Any], bool]) -> Any:
    invalid = ValidationFailed("invalid cursor", details={"fields": ["cursor"]})
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise invalid from exc
    if not isinstance(data, dict) or set(data) != {"k", "o"}:
        raise invalid
    key, cursor_order = data["k"], data["o"]
    if not valid(key) or cursor_order not in ("asc", "desc"):
        raise invalid
    if cursor_order != order:
        raise ValidationFailed(
            "cursor does not match this listing (order changed?)", details={"fields": ["cursor"]}
        )
    return key


def check_limit(limit: int) -> None:
    """Refuse a page size outside 1..``MAX_PAGE_SIZE``."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE_SIZE}", details={"fields": ["limit"]}
        )
