"""Avatar checks shared by the file validator and the catalogue's upload route.

Size limit, allowed types, magic bytes that must agree with the declared
type, and SVG safety: scripts, event handlers, ``foreignObject``, external
references and DTDs (entity expansion) are refused rather than "cleaned".
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from schemas.errors import FileTooLarge, InvalidFileType
from schemas.fields import AVATAR_MAX_BYTES, AVATAR_MIME_TYPES

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
)
_SVG_HEAD = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)?"
    rb"(?:<!--.*?-->\s*)*<svg[\s>]",
    re.DOTALL,
)
_URL_ATTRS = {"href", "src", "xlink:href"}
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)([^)'\"\s]+)", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import", re.IGNORECASE)


def sniff_mime(data: bytes) -> str | None:
    """The image type the bytes really are, or None when unrecognised."""
    for magic, offset, mime in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return mime
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if _SVG_HEAD.match(data[:4096]):
        return "image/svg+xml"
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _attr_name(name: str) -> str:
    if name.startswith("{http://www.w3.org/1999/xlink}"):
        return "xlink:" + name.rsplit("}", 1)[-1]
    return name.rsplit("}", 1)[-1].lower()


def _is_external(value: str) -> bool:
    v = value.strip().lower()
    return not (v.startswith("#") or v == "")


def svg_problems(data: bytes) -> list[str]:
    """Reasons an SVG is unsafe to serve; empty when it is safe."""
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        return [f"SVG declares a DTD or entities, which are not allowed ({type(exc).__name__})"]
    except SafeET.ParseError as exc:
        return [f"SVG is not well-formed XML: {exc}"]
    if _local(root.tag) != "svg":
        return ["SVG root element is not <svg>"]
    problems: list[str] = []
    for el in root.iter():
        tag = _local(el.tag)
        if tag == "script":
            problems.append("SVG contains a <script> element")
        elif tag == "foreignobject":
            problems.append("SVG contains a <foreignObject> element")
        elif (
            tag == "style" and el.text and (_CSS_IMPORT.search(el.text) or _CSS_URL.search(el.text))
        ):
            problems.append("SVG <style> loads an external resource")
        for raw_name, value in el.attrib.items():
            name = _attr_name(raw_name)
            if name.startswith("on"):
                problems.append(f"SVG <{tag}> has an event handler attribute '{name}'")
            elif name in _URL_ATTRS and _is_external(value):
                problems.append(f"SVG <{tag}> references an external resource: {value[:80]}")
            elif name == "style" and _CSS_URL.search(value):
                problems.append(f"SVG <{tag}> style loads an external resource")
            elif "javascript:" in value.lower():
                problems.append(f"SVG <{tag}> attribute '{name}' contains a javascript: URL")
    return list(dict.fromkeys(problems))


def check_avatar(data: bytes, declared_mime: str) -> str:
    """Validate avatar bytes against the declared type; return the type.

    Raises ``FileTooLarge`` or ``InvalidFileType`` with a message a person can
    act on.
    """
    if len(data) > AVATAR_MAX_BYTES:
        raise FileTooLarge(
            f"avatar is {len(data):,} bytes; the limit is {AVATAR_MAX_BYTES:,} bytes (2 MB)",
            details={"size": len(data), "limit": AVATAR_MAX_BYTES},
        )
    declared = declared_mime.split(";", 1)[0].strip().lower()
    if declared not in AVATAR_MIME_TYPES:
        raise InvalidFileType(
            f"avatar type {declared or '(none)'} is not allowed; use one of "
            + ", ".join(sorted(AVATAR_MIME_TYPES)),
            details={"declared": declared},
        )
    actual = sniff_mime(data)
    if actual != declared:
        raise InvalidFileType(
            f"avatar is declared as {declared} but its bytes are "
            f"{actual or 'not a recognised image'}",
            details={"declared": declared, "actual": actual},
        )
    if declared == "image/svg+xml":
        problems = svg_problems(data)
        if problems:
            raise InvalidFileType(
                "unsafe SVG: " + "; ".join(problems), details={"problems": problems}
            )
    return declared
