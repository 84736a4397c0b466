"""``RequestGuard`` around small ASGI apps: what it does not depend on the REST
app (apps that never read, apps that swallow the refusal, header parsing)."""

from __future__ import annotations

from typing import Any

import pytest
from personas_as_code.catalogue.guard import BodyCap, RequestGuard, bearer_token
from personas_as_code.schemas.errors import PayloadTooLarge, Unauthorized
from starlette.datastructures import Headers
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

CAP = BodyCap(16, lambda size, limit: PayloadTooLarge("too big", details={"limit": limit}))


class Keys:
    """An authenticator with one valid key that remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []

    def __call__(self, key: str | None) -> str:
        self.asked.append(key)
        if key != "good":
            raise Unauthorized("invalid API key")
        return "caller"


async def reads_and_swallows(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the body, ignores any failure and never answers."""
    try:
        while (await receive()).get("more_body"):
            pass
    except Exception:
        return
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def never_reads(scope: Scope, receive: Receive, send: Send) -> None:
    caller = scope.get("state", {}).get("caller")
    body = repr(caller).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def client(app: Any, keys: Keys) -> TestClient:
    guard = RequestGuard(app, needs_caller=lambda route: True, authenticate=keys, default_cap=CAP)
    return TestClient(guard)


def test_a_refusal_the_app_swallows_is_still_answered() -> None:
    keys = Keys()
    c = client(reads_and_swallows, keys)  # no lifespan: these apps serve HTTP only
    resp = c.post("/", content=b"x" * 17, headers={"Authorization": "Bearer good"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    resp = c.post("/", content=b"x" * 16, headers={"Authorization": "Bearer bad"})
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
    resp = c.post("/", content=b"x" * 16, headers={"Authorization": "Bearer good"})
    assert resp.status_code == 204
    assert keys.asked == ["good", "bad", "good"]


def test_a_request_whose_body_is_never_read_is_left_to_the_app() -> None:
    keys = Keys()
    resp = client(never_reads, keys).post("/", content=b"x" * 1000)
    assert resp.status_code == 200 and resp.text == "None"
    assert resp.headers.get("x-request-id") is None  # the app's own answer, untouched
    assert keys.asked == []


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
    ],
)
def test_bearer_token(header: str, token: str | None) -> None:
    assert bearer_token(Headers({"authorization": header})) == token
