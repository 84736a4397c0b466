"""A slow or hostile backend cannot hurt the server (issue 19): over real loopback HTTP,
with upstreams that hang, trickle or send only keep-alives (``tests.inference.hostile``).

* 50 chat calls hanging on one backend leave another tenant's routes as fast as with
  none (they ran on the server's 40 shared threads before), and the 51st call beyond the
  backend's ``max_concurrent_calls`` is answered 503 ``BACKEND_BUSY`` at once;
* a stream with no content for ``timeout_seconds`` (keep-alives only), or running past
  ``stream_total_seconds``, ends with a ``BACKEND_TIMEOUT`` error event;
* a client that goes away mid-stream closes the upstream connection.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from personas_as_code.catalogue.backends import configure_backend

from tests.catalogue.conftest import Live, make_key, serve_live
from tests.catalogue.test_inference_rest import sse
from tests.inference.hostile import serve_hostile, wait_for

CHAT = "/v1/inference/chat"
MODEL = "scaigrid/gpt-4o"  # a catalogue model whose backend is openai/gpt-4o
PERSONAS = "/v1/modules/scaipersona/personas"
HUNG = 50
HANG_SECONDS = 12.0


@pytest.fixture
def live(sqlite_url: str) -> Iterator[Live]:
    with serve_live(sqlite_url) as server:
        yield server


def point(live: Live, base_url: str, **settings: Any) -> None:
    configure_backend(
        live.engine,
        "openai/gpt-4o",
        {"provider": "openai", "base_url": base_url, "model": "m", "max_retries": 0, **settings},
        managed_by="tests",
    )


def chat(live: Live, client: httpx.Client | None = None, **body: Any) -> httpx.Response:
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **body}
    return (client or live.client).post(CHAT, json=payload, headers=live.auth())


def p95(live: Live, key: str, n: int = 20) -> float:
    """The p95 of ``GET /personas`` as tenant ``key`` sees it, each call checked."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        resp = live.client.get(PERSONAS, headers=live.auth(key), timeout=60)
        times.append(time.perf_counter() - start)
        assert resp.status_code == 200, resp.text
    return statistics.quantiles(times, n=20)[-1]


def test_hung_backend_calls_leave_other_tenants_fast_and_the_next_call_is_refused(
    live: Live,
) -> None:
    other = make_key(live.engine, "globex")
    limits = httpx.Limits(max_connections=HUNG + 5)
    with (
        ThreadPoolExecutor(HUNG) as pool,
        httpx.Client(base_url=live.base_url, timeout=60, limits=limits) as client,
    ):
        with serve_hostile("hang") as upstream:
            point(live, upstream.base_url, timeout_seconds=HANG_SECONDS, max_concurrent_calls=HUNG)
            floor = p95(live, other)
            hung = [pool.submit(chat, live, client) for _ in range(HUNG)]
            wait_for(lambda: upstream.open >= HUNG, 20, f"{HUNG} calls hanging upstream")
            loaded = p95(live, other)

            start = time.perf_counter()
            refused = chat(live)
            refused_in = time.perf_counter() - start

            assert upstream.open == HUNG  # the refused call never reached the upstream
        # leaving the block dropped the upstream's connections: the hung calls end now
        answers = [f.result(timeout=30) for f in hung]
    assert loaded < 1.0, f"p95 {loaded:.2f}s with {HUNG} hung calls (floor {floor:.3f}s)"
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "BACKEND_BUSY"
    assert refused.headers["Retry-After"] == "5"
    assert refused_in < 1.0
    assert {a.status_code for a in answers} <= {502, 503, 504}


def test_busy_backend_hands_over_to_the_next_backend_slot_by_slot(live: Live) -> None:
    """One slot: a second call while the first hangs is busy; once it ends, calls go again."""
    with serve_hostile("hang") as upstream:
        point(live, upstream.base_url, timeout_seconds=HANG_SECONDS, max_concurrent_calls=1)
        with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=live.base_url) as client:
            first = pool.submit(chat, live, client)
            wait_for(lambda: upstream.open >= 1, 10, "the first call upstream")
            assert chat(live).json()["error"]["code"] == "BACKEND_BUSY"
            assert chat(live, stream=True).json()["error"]["code"] == "BACKEND_BUSY"
            upstream.stopping = True  # drop the hung call
            assert first.result(timeout=30).status_code in (502, 503, 504)
    with serve_hostile("trickle") as upstream:
        point(live, upstream.base_url, timeout_seconds=5, max_concurrent_calls=1)
        with live.client.stream(
            "POST",
            CHAT,
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True},
            headers=live.auth(),
        ) as resp:
            assert resp.status_code == 200  # the slot came back when the hung call ended


def read_events(resp: httpx.Response) -> list[Any]:
    return sse(resp.read().decode())


def test_a_stream_of_keepalives_only_times_out(live: Live) -> None:
    """One piece, then only ``: keepalive`` comments: an error event after ~timeout_seconds."""
    with serve_hostile("keepalive", interval=0.3) as upstream:
        point(live, upstream.base_url, timeout_seconds=1.5)
        start = time.monotonic()
        resp = chat(live, stream=True)
        took = time.monotonic() - start
    events = sse(resp.text)
    assert resp.status_code == 200
    assert events[1]["choices"][0]["delta"]["content"] == "Hello"
    assert events[-2]["error"]["code"] == "BACKEND_TIMEOUT"
    assert "no content for 1.5s" in events[-2]["error"]["message"]
    assert events[-1] == "[DONE]"
    assert took < 6


def test_a_stream_that_never_ends_stops_at_its_total_time(live: Live) -> None:
    with serve_hostile("trickle", interval=0.2) as upstream:
        point(live, upstream.base_url, timeout_seconds=2, stream_total_seconds=2)
        start = time.monotonic()
        resp = chat(live, stream=True)
        took = time.monotonic() - start
    events = sse(resp.text)
    assert [e["choices"][0]["delta"]["content"] for e in events[1:4]] == ["tick "] * 3
    assert events[-2]["error"]["code"] == "BACKEND_TIMEOUT"
    assert "more than 2s" in events[-2]["error"]["message"]
    assert took < 6


def test_a_client_that_goes_away_closes_the_upstream(live: Live) -> None:
    with serve_hostile("trickle", interval=0.2) as upstream:
        point(live, upstream.base_url, timeout_seconds=5)
        with (
            httpx.Client(base_url=live.base_url, timeout=30) as client,
            client.stream(
                "POST",
                CHAT,
                json={
                    "model": MODEL,
                    "messages": [{"role": "user", "content": "hi"}],
                    "stream": True,
                },
                headers=live.auth(),
            ) as resp,
        ):
            lines = resp.iter_lines()
            got = [line for line, _ in zip(lines, range(6), strict=False) if line]
            assert upstream.open == 1
            left = time.monotonic()
        assert got and got[0].startswith("data: ")
        wait_for(lambda: upstream.open == 0, 3, "the upstream connection to close")
        assert upstream.closed_at[-1] - left < 3
