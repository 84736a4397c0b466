"""Errors under ``/oai/v1`` in OpenAI's shape: ``{"error": {"message", "type", "param",
"code"}}`` with the same status, so OpenAI's clients raise their own typed errors
(``openai.AuthenticationError``, ``NotFoundError``, ``BadRequestError``, ...).

``OaiErrorShape`` is a pure ASGI middleware, outermost, so every error of the prefix is
rewritten -- the guard's 401 and 413, validation, unknown routes and the routes' own --
from the app's envelope; answers below 400 pass through untouched.  ``code`` is our
stable code in lower case (``persona_model_not_found`` is OpenAI's ``model_not_found``,
``unauthorized`` its ``invalid_api_key``); ``param`` the first field the error names.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

OAI_PREFIX = "/oai/"
MAX_ERROR_BYTES = 256 * 1024
_CODES = {
    "UNAUTHORIZED": "invalid_api_key",
    "PERSONA_MODEL_NOT_FOUND": "model_not_found",
    "NOT_FOUND": "unknown_url",
}
_PARAMS = {"PERSONA_MODEL_NOT_FOUND": "model"}


def _error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def openai_error(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    """One of our errors (status, stable code, message, details) as OpenAI's error object."""
    fields = details.get("fields") if isinstance(details, dict) else None
    param = fields[0] if isinstance(fields, list) and fields else _PARAMS.get(code)
    return {
        "error": {
            "message": message,
            "type": _error_type(status),
            "param": param if isinstance(param, str) else None,
            "code": _CODES.get(code, code.lower()),
        }
    }


def _reshaped(status: int, body: bytes) -> bytes:
    try:
        error = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details")
    except (ValueError, KeyError, TypeError):
        code, message, details = f"HTTP_{status}", f"HTTP {status}", None
    shaped = openai_error(status, code, message, details)
    return json.dumps(shaped, ensure_ascii=False, separators=(",", ":")).encode()


class OaiErrorShape:
    """ASGI middleware: error answers under ``/oai/`` in OpenAI's error shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(OAI_PREFIX):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        parts: list[bytes] = []
        size = 0

        async def reshape(message: Message) -> None:
            nonlocal held, size
            if message["type"] == "http.response.start" and message["status"] >= 400:
                held = message
                return
            if held is None:
                await send(message)
                return
            if message["type"] != "http.response.body":
                return
            body = message.get("body", b"")
            size += len(body)
            if size <= MAX_ERROR_BYTES:
                parts.append(body)
            if message.get("more_body"):
                return
            shaped = _reshaped(held["status"], b"".join(parts))
            headers = [
                (name, value)
                for name, value in held.get("headers", [])
                if name.lower() not in (b"content-length", b"content-type")
            ]
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(shaped)).encode()),
            ]
            await send({**held, "headers": headers})
            await send({"type": "http.response.body", "body": shaped})

        await self.app(scope, receive, reshape)
