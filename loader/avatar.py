"""Avatar checks shared by the file validator and the catalogue's upload route.

Size limit, allowed types, magic bytes that must agree with the declared
type, and SVG safety: an SVG must pass the allow-list in ``untrusted.svg``
(elements, attributes, local or embedded references, CSS read after
unescaping); an unsafe one is refused rather than "cleaned".
"""

from __future__ import annotations

from personas_as_code.schemas.errors import FileTooLarge, InvalidFileType
from personas_as_code.schemas.fields import AVATAR_MAX_BYTES, AVATAR_MIME_TYPES
from personas_as_code.untrusted.image_type import sniff_mime
from personas_as_code.untrusted.svg import svg_problems

__all__ = ["check_avatar", "sniff_mime", "svg_problems"]


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
