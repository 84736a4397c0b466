"""Serve the MCP server over streamable HTTP, with an optional bearer token.

DNS-rebinding protection stays on: loopback binds allow loopback Host/Origin
headers; other binds allow only the bound host.  A non-loopback bind needs a
token (checked in constant time on every request).
"""

from __future__ import annotations

import hmac
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from personas_as_code.schemas.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class BearerToken:
    """ASGI middleware: answer 401 unless ``Authorization: Bearer <token>`` matches."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"error":"unauthorized"}'})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, host: str, token: str | None) -> Any:
    """The ASGI app serving ``/mcp``; refuses a non-loopback host without a token."""
    if host not in LOOPBACK and not token:
        raise ConfigError(
            f"refusing to serve MCP on non-loopback host {host} without a token; "
            "pass --token or set PERSONAS_MCP_TOKEN"
        )
    security = None
    if host not in LOOPBACK:
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[host, f"{host}:*"],
            allowed_origins=[f"http://{host}:*", f"https://{host}:*"],
        )
    app = server.streamable_http_app(host=host, transport_security=security)
    return BearerToken(app, token) if token else app


def serve_http(server: MCPServer, host: str, port: int, token: str | None) -> None:
    """Run the HTTP transport with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(http_app(server, host, token), host=host, port=port, log_level="warning")
