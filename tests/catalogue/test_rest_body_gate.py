"""Request bodies over real HTTP: no byte is read before the caller is
authenticated, and none past the cap, whether the body is announced with
``Content-Length`` or streamed chunked.

The proofs are black-box: with ``Expect: 100-continue`` the server (uvicorn)
asks for the body only when the app first reads it, so a final answer with no
``100 Continue`` before it means the body was never touched; an endless
streamed body must be answered while the client is still sending.
"""

from __future__ import annotations

from typing import Any

import pytest
from personas_as_code.catalogue.rest import DEFAULT_MAX_BODY_BYTES
from personas_as_code.schemas.fields import AVATAR_MAX_BYTES

from tests.catalogue.conftest import Live, serve_live
from tests.catalogue.rawhttp import MiB, RawResponse, chunked, endless, exchange, head
from tests.catalogue.test_contract import PNG

P = "/v1/modules/scaipersona"
JSON = {"Content-Type": "application/json"}
BOUNDARY = "gate-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
FILE_PART = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    "Content-Type: image/png\r\n\r\n"
).encode() + PNG


def assert_refused(resp: RawResponse, status: int, code: str) -> dict[str, Any]:
    """A final answer in the envelope, the connection closed behind it."""
    assert resp.status != 100, "the server asked for the body (100 Continue)"
    assert resp.status == status, (resp.status, resp.body)
    body = resp.json()
    assert body["error"]["code"] == code, body
    assert resp.headers["x-request-id"] == body["meta"]["request_id"]
    assert resp.headers.get("connection") == "close"
    return body["error"]


def persona_id(live: Live) -> str:
    resp = live.client.post(
        f"{P}/personas",
        json={"name": "Gate", "model_slug": "scaigrid/gpt-4o"},
        headers=live.auth(),
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]["id"]


# --- authentication comes first ------------------------------------------


@pytest.mark.parametrize(
    "auth", [{}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic eDp5"}]
)
@pytest.mark.parametrize(
    ("route", "kind", "framing"),
    [
        ("personas", JSON, {"Content-Length": str(300 * MiB)}),
        ("personas", JSON, {"Transfer-Encoding": "chunked"}),
        ("avatar", MULTIPART, {"Content-Length": str(2048 * MiB)}),
        ("avatar", MULTIPART, {"Transfer-Encoding": "chunked"}),
        ("publish", JSON, {"Content-Length": "100"}),
    ],
    ids=["json-length", "json-chunked", "avatar-length", "avatar-chunked", "publish"],
)
def test_no_body_byte_is_read_before_authentication(
    live: Live, auth: dict[str, str], route: str, kind: dict[str, str], framing: dict[str, str]
) -> None:
    pid = persona_id(live)
    path = {
        "personas": f"{P}/personas",
        "avatar": f"{P}/personas/{pid}/avatar",
        "publish": f"{P}/personas/{pid}/publish",
    }[route]
    request = head("POST", path, {**kind, **framing, **auth, "Expect": "100-continue"})
    resp = exchange(live.address, request)  # no body at all: a reader would wait for it
    assert_refused(resp, 401, "UNAUTHORIZED")
    assert resp.headers["www-authenticate"] == "Bearer"
    listed = live.client.get(f"{P}/personas", headers=live.auth()).json()["data"]
    assert [p["id"] for p in listed] == [pid]
    assert not listed[0]["published"] and listed[0]["avatar_url"] is None


def test_unauthenticated_endless_chunked_body_is_answered_at_once(live: Live) -> None:
    request = head("POST", f"{P}/personas", {**JSON, "Transfer-Encoding": "chunked"})
    resp = exchange(live.address, request, chunked(endless(b'{"name": "')), budget=16 * MiB)
    assert_refused(resp, 401, "UNAUTHORIZED")


def test_public_routes_stay_public(live: Live) -> None:
    pid = persona_id(live)
    assert live.client.get("/healthz").status_code == 200
    assert live.client.get("/openapi.json").status_code == 200
    assert live.client.get(f"{P}/personas/{pid}/avatar").json()["error"]["code"] == "NO_AVATAR"


# --- caps ---------------------------------------------------------------------


def test_announced_bodies_over_the_cap_are_refused_unread(live: Live) -> None:
    pid = persona_id(live)
    over = DEFAULT_MAX_BODY_BYTES + 1
    for method, path in [
        ("POST", f"{P}/personas"),
        ("PUT", f"{P}/personas/{pid}"),
        ("POST", f"{P}/personas/{pid}/sources"),
        ("POST", f"{P}/personas/{pid}/publish"),
    ]:
        request = head(
            method,
            path,
            {**JSON, **live.auth(), "Content-Length": str(over), "Expect": "100-continue"},
        )
        error = assert_refused(exchange(live.address, request), 413, "PAYLOAD_TOO_LARGE")
        assert error["details"] == {"limit": DEFAULT_MAX_BODY_BYTES, "size": over}, path
    request = head(
        "POST",
        f"{P}/personas/{pid}/avatar",
        {**MULTIPART, **live.auth(), "Content-Length": str(1024 * MiB), "Expect": "100-continue"},
    )
    error = assert_refused(exchange(live.address, request), 400, "FILE_TOO_LARGE")
    assert error["details"] == {"limit": AVATAR_MAX_BYTES, "size": 1024 * MiB}


def test_streamed_json_body_is_cut_at_the_cap(database_url: str) -> None:
    cap = 256 * 1024
    with serve_live(database_url, max_body_bytes=cap) as live:
        request = head(
            "POST", f"{P}/personas", {**JSON, **live.auth(), "Transfer-Encoding": "chunked"}
        )
        body = chunked(
            endless(b'{"name": "x", "model_slug": "scaigrid/gpt-4o", "system_prompt": "')
        )
        resp = exchange(live.address, request, body, budget=32 * MiB)
        error = assert_refused(resp, 413, "PAYLOAD_TOO_LARGE")
        assert error["details"] == {"limit": cap}
        assert live.client.get(f"{P}/personas", headers=live.auth()).json()["data"] == []
        # a body within the cap still goes through
        fits = live.client.post(
            f"{P}/personas",
            json={"name": "x", "model_slug": "scaigrid/gpt-4o", "system_prompt": "a" * (cap - 200)},
            headers=live.auth(),
        )
        assert fits.status_code == 201, fits.text


def test_streamed_avatar_is_cut_at_the_cap(live: Live) -> None:
    pid = persona_id(live)
    request = head(
        "POST",
        f"{P}/personas/{pid}/avatar",
        {**MULTIPART, **live.auth(), "Transfer-Encoding": "chunked"},
    )
    resp = exchange(live.address, request, chunked(endless(FILE_PART, b"\x00")), budget=32 * MiB)
    error = assert_refused(resp, 400, "FILE_TOO_LARGE")
    assert error["details"] == {"limit": AVATAR_MAX_BYTES}
    assert live.client.get(f"{P}/personas/{pid}/avatar").json()["error"]["code"] == "NO_AVATAR"
    # an avatar within the cap, sent the same way, is stored
    small = chunked([FILE_PART, f"\r\n--{BOUNDARY}--\r\n".encode()])
    resp = exchange(live.address, request, small)
    assert resp.status == 200, resp.body
    assert live.client.get(f"{P}/personas/{pid}/avatar").content == PNG


def test_body_cap_must_be_positive(sqlite_url: str) -> None:
    from personas_as_code.catalogue.rest import create_app

    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(sqlite_url, max_body_bytes=0)
