"""The HTTP answer for a stored image (a persona's avatar, a test persona's picture).

Both are served the same way: an ``ETag`` of the image's sha256 (a matching
``If-None-Match`` gets 304), ``nosniff``, and an SVG is locked down by a CSP so a
script inside it cannot run.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def image_response(
    request: Request, data: bytes, content_type: str, sha: str, *, cache_control: str
) -> Response:
    """The image, or 304 when the client's ``If-None-Match`` names its ``ETag``."""
    headers = {
        "Cache-Control": cache_control,
        "ETag": f'"{sha}"',
        "X-Content-Type-Options": "nosniff",
    }
    if content_type == "image/svg+xml":
        headers["Content-Security-Policy"] = SVG_CSP
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(content=data, media_type=content_type, headers=headers)
