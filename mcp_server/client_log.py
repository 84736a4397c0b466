"""Log notifications to the client, honouring ``logging/setLevel``.

Every answered request is logged at ``debug`` (method, tool or prompt name, time
taken); a request that fails (a JSON-RPC error, or a tool result with
``isError``) is logged at ``warning`` with its message.  On handshake-era
connections (protocol <= 2025-11-25) the client picks the lowest level it wants
with ``logging/setLevel`` (default ``info``); on 2026-07-28 connections the SDK
applies the request's own log-level opt-in instead.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, get_args

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import EmptyResult, LoggingLevel, SetLevelRequestParams
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

LEVELS: tuple[str, ...] = get_args(LoggingLevel)  # least to most severe
DEFAULT_LEVEL = "info"
LOGGER = "personas"
_STATE_KEY = "personas.log_level"
_MAX_MESSAGE = 500


def _connection_state(ctx: Any) -> dict[str, Any]:
    # Connection.state is the SDK's per-connection scratch store; the session handed
    # to handlers exposes no public accessor for its connection.
    return ctx.session._connection.state


def _wanted(ctx: Any, level: str) -> bool:
    if ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return True  # the SDK filters by the request's own opt-in
    threshold = _connection_state(ctx).get(_STATE_KEY, DEFAULT_LEVEL)
    return LEVELS.index(level) >= LEVELS.index(threshold)


async def send_log(ctx: Any, level: LoggingLevel, message: str) -> None:
    """Send ``message`` to the client as a log notification if it asked for ``level``."""
    if not _wanted(ctx, level):
        return
    with warnings.catch_warnings():
        # logging/setLevel is deprecated from 2026-07-28 on; earlier clients still use it.
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        sending = ctx.session.send_log_message(
            level=level, data=message, logger=LOGGER, related_request_id=ctx.request_id
        )
    await sending


def _subject(ctx: Any) -> str:
    name = (ctx.params or {}).get("name") if isinstance(ctx.params, dict) else None
    return f"{ctx.method} {str(name)[:100]}" if name else ctx.method


def _tool_error(result: Any) -> str | None:
    if isinstance(result, dict):
        failed, content = result.get("isError"), result.get("content") or []
        text = next((c.get("text") for c in content if isinstance(c, dict)), None)
    else:
        failed, content = getattr(result, "is_error", False), getattr(result, "content", None) or []
        text = next((getattr(c, "text", None) for c in content), None)
    return (text or "error") if failed else None


async def log_requests(ctx: Any, call_next: Any) -> Any:
    """Middleware: log each answered request at debug and each failure at warning."""
    if ctx.request_id is None or ctx.method == "initialize":
        return await call_next(ctx)
    started = time.perf_counter()
    try:
        result = await call_next(ctx)
    except MCPError as exc:
        await send_log(
            ctx, "warning", f"{_subject(ctx)} failed: {exc.error.message[:_MAX_MESSAGE]}"
        )
        raise
    failure = _tool_error(result) if ctx.method == "tools/call" else None
    if failure is not None:
        await send_log(ctx, "warning", f"{_subject(ctx)} failed: {failure[:_MAX_MESSAGE]}")
    elapsed = (time.perf_counter() - started) * 1000
    await send_log(ctx, "debug", f"{_subject(ctx)} answered in {elapsed:.1f} ms")
    return result


def register_client_log(server: MCPServer) -> None:
    """Serve ``logging/setLevel`` (advertising the logging capability) and log requests."""

    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        _connection_state(ctx)[_STATE_KEY] = params.level
        return EmptyResult()

    # MCPServer has no public way to serve logging/setLevel: the low-level server is the place.
    server._lowlevel_server.add_request_handler(
        "logging/setLevel", SetLevelRequestParams, set_level
    )
    server.middleware.append(log_requests)
