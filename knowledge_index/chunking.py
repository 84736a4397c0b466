"""Split a document into overlapping chunks that keep paragraphs and headings whole.

Blocks are paragraphs (blank-line separated) and headings; blocks are packed into
chunks of at most ``max_chars`` characters.  A block longer than that is cut at
sentence ends, then at spaces, then hard, so a document made of one huge line still
yields bounded chunks.  Each chunk after the first starts with the last
``overlap_chars`` characters of the one before (cut at a word), and a chunk that does
not begin with a heading is prefixed with the heading it sits under, so a chunk read
alone still says what it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 1200
DEFAULT_OVERLAP_CHARS = 150
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut: the largest chunk and the overlap between neighbours."""

    max_chars: int = DEFAULT_MAX_CHARS
    overlap_chars: int = DEFAULT_OVERLAP_CHARS

    def __post_init__(self) -> None:
        if self.max_chars < 50:
            raise ValueError("max_chars must be at least 50")
        if not 0 <= self.overlap_chars <= self.max_chars // 2:
            raise ValueError("overlap_chars must be between 0 and half of max_chars")

    def as_dict(self) -> dict[str, int]:
        """The settings as stored with an index (part of every document's settings hash)."""
        return {"max_chars": self.max_chars, "overlap_chars": self.overlap_chars}


def _blocks(text: str) -> list[tuple[str, bool]]:
    """Paragraphs and headings of ``text`` as ``(block, is_heading)``."""
    blocks: list[tuple[str, bool]] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(("\n".join(paragraph).strip(), False))
            paragraph.clear()

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _HEADING.match(line):
            flush()
            blocks.append((line.strip(), True))
        elif line.strip():
            paragraph.append(line.rstrip())
        else:
            flush()
    flush()
    return [(b, h) for b, h in blocks if b]


def _cut(block: str, limit: int) -> list[str]:
    """``block`` in pieces of at most ``limit`` characters, cut at sentences or spaces."""
    if len(block) <= limit:
        return [block]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(block):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", limit // 2, limit)
            cut = cut if cut > 0 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].rstrip())
            sentence = sentence[cut:].lstrip()
        joined = f"{current} {sentence}".strip() if current else sentence
        if len(joined) <= limit:
            current = joined
        else:
            pieces.append(current)
            current = sentence
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


def _tail(text: str, size: int) -> str:
    """The last ``size`` characters of ``text``, starting at a word."""
    if size <= 0 or len(text) <= size:
        return "" if size <= 0 else text
    tail = text[-size:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail


def chunk_text(text: str, settings: ChunkSettings | None = None) -> list[str]:
    """The chunks of one document, in order (an empty or blank document has none)."""
    settings = settings or ChunkSettings()
    limit = settings.max_chars
    # room for the heading prefix and the overlap, so no chunk exceeds ``max_chars``
    body_limit = max(limit - settings.overlap_chars - 120, limit // 3)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    heading = ""
    current_heading = ""

    def emit() -> None:
        nonlocal current, size
        if not current:
            return
        body = "\n\n".join(current)
        prefix = ""
        if current_heading and not _HEADING.match(current[0]):
            prefix = current_heading[:120] + "\n\n"
        overlap = _tail(chunks[-1], settings.overlap_chars) if chunks else ""
        if overlap and prefix:
            piece = f"{prefix}… {overlap}\n\n{body}"
        elif overlap:
            piece = f"… {overlap}\n\n{body}"
        else:
            piece = prefix + body
        chunks.append(piece[:limit])
        current, size = [], 0

    for block, is_heading in _blocks(text):
        if is_heading:
            emit()
            heading = block
        for piece in _cut(block, body_limit):
            if size and size + len(piece) + 2 > body_limit:
                emit()
            if not current:
                current_heading = heading
            current.append(piece)
            size += len(piece) + 2
    emit()
    return chunks
