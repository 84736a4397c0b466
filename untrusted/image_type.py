"""What kind of image some bytes really are, from their first bytes (magic numbers)."""

from __future__ import annotations

import re

_RASTER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# An optional BOM, then any mix of XML declaration, processing instructions and
# comments, an optional DOCTYPE, more of the same, and the <svg> root.  Processing
# instructions and DTDs are recognised here so that the SVG checks can refuse them
# by name instead of calling the file "not an image".
_PROLOG_ITEM = rb"(?:<\?.*?\?>|<!--.*?-->)\s*"
_SVG_HEAD = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:" + _PROLOG_ITEM + rb")*"
    rb"(?:<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)?"
    rb"(?:" + _PROLOG_ITEM + rb")*<svg[\s>/]",
    re.DOTALL,
)
_SNIFF_BYTES = 4096


def sniff_raster(data: bytes) -> str | None:
    """``image/png``, ``image/jpeg``, ``image/gif`` or ``image/webp``; None otherwise."""
    for magic, mime in _RASTER_MAGIC:
        if data.startswith(magic):
            return mime
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff_mime(data: bytes) -> str | None:
    """The image type the bytes really are (raster or SVG), or None when unrecognised."""
    return sniff_raster(data) or ("image/svg+xml" if _SVG_HEAD.match(data[:_SNIFF_BYTES]) else None)
