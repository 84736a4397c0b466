"""User text, shown exactly as it is.

Prompts, names, paths and warnings come from pull requests and catalogues, so
they may hold terminal escape sequences, bidirectional overrides, markdown or
HTML.  Every renderer passes user text through one of these functions, so
what a reviewer reads is the real change: nothing is interpreted, nothing is
silently dropped.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# C0 controls except tab and newline, DEL, C1 controls, and the invisible
# characters that reorder or hide text (bidi overrides and isolates, zero-width
# characters, the BOM, line/paragraph separators).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
# The ASCII punctuation that can start markup inline (emphasis, code, links, HTML,
# entities, tables, strikethrough, mentions, autolinks); CommonMark lets a backslash
# escape each of them.
_MD_SPECIAL = re.compile(r"[\\`*_{}\[\]()<>#+!|~@&\":]")
_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}


class StyledLine(NamedTuple):
    """One output line and the style a terminal may give it (``None``: plain)."""

    text: str
    style: str | None = None


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control or invisible character shown as an escape (``\\x1b``).

    Newlines and tabs are kept; everything else that a terminal or browser
    would act on, or not show, becomes visible.
    """
    return _INVISIBLE.sub(_escape_char, text)


def one_line(text: str) -> str:
    """``visible`` text on one line: newlines and tabs shown as ``\\n`` and ``\\t``."""
    return visible(text).replace("\n", "\\n").replace("\t", "\\t")


def md_text(text: str) -> str:
    """User text for inline markdown (a table cell, a list item): shown literally.

    Every character that can start inline markup is backslash-escaped (or an
    HTML entity), so no emphasis, link, mention, HTML tag or table pipe can
    take effect; control characters are made visible, tabs shown as ``\\t`` and
    newlines become spaces.  A backslash the text holds is kept (``C:\\new``
    shows as ``C:\\new``): only real newlines become spaces.
    """
    flat = visible(text).replace("\t", "\\t").replace("\n", " ")
    return _MD_SPECIAL.sub(lambda m: _HTML.get(m.group(), "\\" + m.group()), flat)


def md_code(text: str) -> str:
    """User text as an inline HTML ``<code>`` span (safe in tables and summaries)."""
    escaped = "".join(_HTML.get(c, c) for c in one_line(text)).replace("|", "&#124;")
    return f"<code>{escaped}</code>"


def md_fence(lines: list[str], info: str = "") -> list[str]:
    """A fenced code block that no line of ``lines`` can close early.

    The fence is one backtick longer than the longest backtick run inside.
    """
    body = [visible(line) for line in lines]
    longest = max((len(run) for line in body for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *body, fence]
