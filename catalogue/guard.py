"""The REST app's body gate: no body byte before authentication, none past the cap.

FastAPI reads and parses a request body *before* it resolves dependencies, so
an auth dependency alone lets anyone make the server read, parse or spool
whatever they send.  ``RequestGuard`` is a pure ASGI middleware that stands
between the app and the body: when the routed app first asks for body bytes,
and before one is read,

1. a route that needs a caller (``needs_caller``; any route when routing left
   no route in the scope) has its bearer key resolved, and the request is
   answered 401 ``UNAUTHORIZED`` unless it is valid; the caller is left in
   ``scope["state"]["caller"]`` so the route does not look it up again;
2. a ``Content-Length`` over the route's cap is refused;
3. then the body is counted as it streams (chunked or not) and the request
   fails as soon as it crosses the cap, so nothing past the cap is buffered,
   parsed or spooled.

Routes that never read a body (GETs, unknown paths, wrong methods) are not
touched: they authenticate in their dependency, or answer 404/405.  Every
refusal uses the error envelope and carries ``X-Request-ID`` and, since body
bytes may still be on the wire, ``Connection: close``.

``authenticate`` may be a coroutine function (``catalogue.callers.CallerCache.resolve``,
where a remembered key costs no thread hop); a plain function runs in a thread.
"""

from __future__ import annotations

import inspect
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from anyio import to_thread
from personas_as_code.schemas.errors import CatalogueError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def new_request_id() -> str:
    """A fresh request id (``req_`` + 16 hex digits)."""
    return "req_" + secrets.token_hex(8)


@dataclass(frozen=True)
class BodyCap:
    """The most bytes a request body may have, and the error refusing more.

    ``refuse(size, limit)`` builds the error; ``size`` is the announced
    ``Content-Length``, or None when a streamed body crossed the cap.
    """

    max_bytes: int
    refuse: Callable[[int | None, int], CatalogueError]


class BodyRefused(Exception):
    """Raised from ``receive`` instead of body bytes; the guard answers the request."""


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _announced_length(headers: Headers) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


class RequestGuard:
    """ASGI middleware: authentication before any body byte, body caps while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        needs_caller: Callable[[Any], bool],
        authenticate: Callable[[str | None], Any],
        default_cap: BodyCap,
        route_caps: Mapping[str, BodyCap] | None = None,
    ) -> None:
        self.app = app
        self.needs_caller = needs_caller
        self.authenticate = authenticate
        self.default_cap = default_cap
        self.route_caps = dict(route_caps or {})
        self._authenticate_async = inspect.iscoroutinefunction(authenticate)

    async def resolve(self, api_key: str | None) -> Any:
        """The caller of ``api_key`` (``authenticate``'s answer), off the event loop."""
        if self._authenticate_async:
            return await self.authenticate(api_key)
        return await to_thread.run_sync(self.authenticate, api_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state.setdefault("request_id", new_request_id())
        await _GuardedExchange(self, scope)(receive, send)


class _GuardedExchange:
    """One request whose body is let in only after the checks, and counted."""

    def __init__(self, guard: RequestGuard, scope: Scope) -> None:
        self.guard = guard
        self.scope = scope
        self.request_id: str = scope["state"]["request_id"]
        self.cap: BodyCap | None = None  # set by the checks on the first read
        self.received = 0
        self.refusal: CatalogueError | None = None
        self.started = False
        self.answered = False

    async def _admit(self) -> None:
        """The checks run before the first body byte; raise ``BodyRefused`` to refuse."""
        route = self.scope.get("route")
        headers = Headers(scope=self.scope)
        if route is None or self.guard.needs_caller(route):
            try:
                caller = await self.guard.resolve(bearer_token(headers))
            except CatalogueError as exc:
                self._refuse(exc)
            self.scope["state"]["caller"] = caller
        cap = self.guard.route_caps.get(getattr(route, "name", ""), self.guard.default_cap)
        self.cap = cap
        length = _announced_length(headers)
        if length is not None and length > cap.max_bytes:
            self._refuse(cap.refuse(length, cap.max_bytes))

    def _refuse(self, error: CatalogueError) -> NoReturn:
        self.refusal = error
        raise BodyRefused(error.message)

    async def __call__(self, receive: Receive, send: Send) -> None:
        async def guarded_receive() -> Message:
            if self.refusal is not None:
                raise BodyRefused(self.refusal.message)
            if self.cap is None:
                await self._admit()
            assert self.cap is not None
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.cap.max_bytes:
                    self._refuse(self.cap.refuse(None, self.cap.max_bytes))
            return message

        async def guarded_send(message: Message) -> None:
            if self.refusal is not None and not self.started:
                # The app answered its failed read (as some 4xx): answer the refusal instead.
                await self._answer(send)
                return
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.guard.app(self.scope, guarded_receive, guarded_send)
        except Exception:
            if self.refusal is None or self.started:
                raise
        await self._answer(send)  # when the app swallowed the refusal without answering

    async def _answer(self, send: Send) -> None:
        """Send the refusal in the envelope, once, unless the app already answered."""
        if self.answered or self.refusal is None or self.started:
            return
        self.answered = True
        error = self.refusal
        body = json.dumps(
            {"error": error.to_dict(), "meta": {"request_id": self.request_id}},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", self.request_id.encode()),
            (b"connection", b"close"),
        ]
        if error.status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
