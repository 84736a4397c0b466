"""``HttpCatalogue`` against misbehaving servers on real loopback sockets."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from personas_as_code.catalogue.api import PersonaCreate, SourceCreate
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.http_transport import RetryPolicy
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.inference.retry import parse_retry_after
from personas_as_code.schemas.errors import CatalogueUnavailable, PersonaNotFound, RateLimited

from tests.catalogue.conftest import make_key

FAST = RetryPolicy(max_attempts=4, backoff_base=0.02, backoff_max=0.1, total_timeout=3)
MODELS_OK = (200, {}, {"data": []})

# An action answers one request: (status, headers, json body), or "drop" to close
# the socket without answering, or "forward" / "forward-drop" (proxy only).
Action = tuple[int, dict[str, str], object] | str


@contextlib.contextmanager
def loopback(handle: Callable[[BaseHTTPRequestHandler, bytes], None]) -> Iterator[str]:
    """A ThreadingHTTPServer on a free port calling ``handle(handler, body)``."""

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            handle(self, self.rfile.read(length) if length else b"")

        do_GET = do_POST = do_PUT = do_DELETE = _any

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def reply(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: object) -> None:
    raw = json.dumps(body).encode()
    h.send_response(status)
    for k, v in {"Content-Type": "application/json", **headers}.items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(raw)))
    h.end_headers()
    h.wfile.write(raw)


def drop(h: BaseHTTPRequestHandler) -> None:
    """Close the socket without sending a response."""
    h.close_connection = True
    h.wfile.flush()
    h.connection.close()


@contextlib.contextmanager
def scripted(actions: list[Action], default: Action = MODELS_OK) -> Iterator[tuple[str, list]]:
    """A server answering requests with ``actions`` in turn, then ``default``."""
    log: list[tuple[float, str, str]] = []
    lock = threading.Lock()

    def handle(h: BaseHTTPRequestHandler, _body: bytes) -> None:
        with lock:
            log.append((time.monotonic(), h.command, h.path))
            action = actions.pop(0) if actions else default
        if action == "drop":
            drop(h)
        else:
            reply(h, *action)  # type: ignore[misc]

    with loopback(handle) as url:
        yield url, log


def test_429_with_retry_after_is_honoured() -> None:
    busy = (429, {"Retry-After": "1"}, {"error": {"code": "RATE_LIMITED", "message": "slow"}})
    with scripted([busy]) as (url, log):
        client = HttpCatalogue(url, "k", retry=FAST)
        assert client.list_models() == []
    assert len(log) == 2 and client.request_count == 2
    assert 0.9 <= log[1][0] - log[0][0] < 2.0


def test_429_without_retry_after_backs_off() -> None:
    busy = (429, {}, {"error": {"code": "RATE_LIMITED", "message": "slow"}})
    with scripted([busy, busy]) as (url, log):
        client = HttpCatalogue(url, "k", retry=FAST)
        assert client.list_models() == []
    assert len(log) == 3


def test_503_forever_gives_up() -> None:
    down = (503, {}, {"error": {"code": "UNAVAILABLE", "message": "down"}})
    with scripted([], default=down) as (url, log):
        client = HttpCatalogue(url, "k", retry=FAST)
        start = time.monotonic()
        with pytest.raises(CatalogueUnavailable) as info:
            client.list_models()
    assert time.monotonic() - start < 3
    assert len(log) == FAST.max_attempts == client.request_count
    assert info.value.details["attempts"] == FAST.max_attempts


def test_429_forever_is_rate_limited_and_retry_after_beyond_budget_stops_early() -> None:
    busy = (429, {"Retry-After": "30"}, {"error": {"code": "RATE_LIMITED", "message": "slow"}})
    with scripted([], default=busy) as (url, log):
        client = HttpCatalogue(url, "k", retry=FAST)
        start = time.monotonic()
        with pytest.raises(RateLimited):
            client.list_models()
    assert time.monotonic() - start < 1 and len(log) == 1


def test_dropped_get_is_retried() -> None:
    with scripted(["drop"]) as (url, log):
        client = HttpCatalogue(url, "k", retry=FAST)
        assert client.list_models() == []
    assert len(log) == 2


def test_connection_refused_gives_up() -> None:
    with scripted([]) as (url, _log):
        pass  # the port is closed now
    client = HttpCatalogue(url, "k", retry=FAST)
    with pytest.raises(CatalogueUnavailable):
        client.list_models()
    assert client.request_count == FAST.max_attempts


def test_errors_map_to_typed_exceptions() -> None:
    missing = (
        404,
        {},
        {
            "error": {"code": "PERSONA_NOT_FOUND", "message": "gone"},
            "meta": {"request_id": "req_1"},
        },
    )
    with scripted([missing]) as (url, _log):
        client = HttpCatalogue(url, "k", retry=FAST)
        with pytest.raises(PersonaNotFound) as info:
            client.get_persona("per_x")
    assert info.value.details["request_id"] == "req_1"


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# --- non-idempotent POSTs through a fault-injecting proxy -------------------


@contextlib.contextmanager
def real_catalogue(sqlite_url: str) -> Iterator[tuple[str, str]]:
    engine = make_engine(sqlite_url)
    app = create_app(engine)
    key = make_key(engine, "acme")
    with serve_in_thread(app) as base:
        yield base, key
    engine.dispose()


@contextlib.contextmanager
def proxy(upstream: str, faults: dict[tuple[str, str], list[str]]) -> Iterator[list[str]]:
    """Forward to ``upstream``; for a (method, path suffix) pop a fault:
    ``forward-drop`` (let the upstream apply it, then drop the answer) or
    ``drop`` (drop before forwarding)."""
    log: list[str] = []
    lock = threading.Lock()
    http = httpx.Client(base_url=upstream)

    def handle(h: BaseHTTPRequestHandler, body: bytes) -> None:
        with lock:
            log.append(f"{h.command} {h.path}")
            fault = next(
                (
                    q.pop(0)
                    for (m, suffix), q in faults.items()
                    if m == h.command and h.path.endswith(suffix) and q
                ),
                None,
            )
        if fault == "drop":
            drop(h)
            return
        headers = {
            k: v for k, v in h.headers.items() if k.lower() not in ("host", "content-length")
        }
        resp = http.request(h.command, h.path, content=body, headers=headers)
        if fault == "forward-drop":
            drop(h)
            return
        h.send_response(resp.status_code)
        for k, v in resp.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(resp.content)))
        h.end_headers()
        h.wfile.write(resp.content)

    with loopback(handle) as url:
        log.insert(0, url)
        try:
            yield log
        finally:
            http.close()


def test_create_after_dropped_response_rereads_instead_of_duplicating(sqlite_url: str) -> None:
    with (
        real_catalogue(sqlite_url) as (base, key),
        proxy(base, {("POST", "/personas"): ["forward-drop"]}) as log,
    ):
        client = HttpCatalogue(log.pop(0), key, retry=FAST)
        p = client.create_persona(PersonaCreate(name="Support Agent", model_slug="scaigrid/gpt-4o"))
        assert p.slug == "support-agent"
        assert [x.id for x in client.iter_personas()] == [p.id]
    posts = [line for line in log if line.startswith("POST")]
    assert len(posts) == 1  # never re-sent


def test_create_dropped_before_processing_is_resent_once(sqlite_url: str) -> None:
    with (
        real_catalogue(sqlite_url) as (base, key),
        proxy(base, {("POST", "/personas"): ["drop"]}) as log,
    ):
        client = HttpCatalogue(log.pop(0), key, retry=FAST)
        p = client.create_persona(PersonaCreate(name="Support Agent", model_slug="scaigrid/gpt-4o"))
        assert [x.id for x in client.iter_personas()] == [p.id]
    assert len([line for line in log if line.startswith("POST")]) == 2


def test_add_source_after_dropped_response_is_not_duplicated(sqlite_url: str) -> None:
    with (
        real_catalogue(sqlite_url) as (base, key),
        proxy(base, {("POST", "/sources"): ["forward-drop"]}) as log,
    ):
        client = HttpCatalogue(log.pop(0), key, retry=FAST)
        p = client.create_persona(PersonaCreate(name="A", model_slug="scaigrid/gpt-4o"))
        s = client.add_source(p.id, SourceCreate(source_type="collection", source_id="docs"))
        assert [x.id for x in client.list_sources(p.id)] == [s.id]


def test_delete_retried_after_drop_treats_gone_as_done(sqlite_url: str) -> None:
    with (
        real_catalogue(sqlite_url) as (base, key),
        proxy(base, {("DELETE", ""): ["forward-drop"]}) as log,
    ):
        client = HttpCatalogue(log.pop(0), key, retry=FAST)
        p = client.create_persona(PersonaCreate(name="A", model_slug="scaigrid/gpt-4o"))
        client.delete_persona(p.id)
        with pytest.raises(PersonaNotFound):
            client.get_persona(p.id)
