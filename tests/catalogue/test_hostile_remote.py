"""A remote catalogue's answers are bounded and checked before they are trusted.

The server is a tiny handwritten ScaiPersona lookalike on a loopback port that
answers what a broken or hostile catalogue might: endless bytes, JSON nested
100,000 deep, not JSON, the wrong shape, an error envelope with a huge message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.schemas.errors import CatalogueBadResponse, CatalogueError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.catalogue.conftest import FAST_RETRY
from tests.repos import example_repo  # noqa: F401
from tests.sync.test_cli import personas

LIMIT = 1024 * 1024


async def _endless() -> AsyncIterator[bytes]:
    """16 MB with no Content-Length: far past the client's limit, yet bounded so the
    server stops on its own after the client hangs up."""
    yield b'{"data": ["'
    for _ in range(256):
        yield b"x" * 65536


def hostile_app(mode: str) -> Starlette:
    async def personas_route(request: Request) -> Response:
        if mode == "endless":
            return StreamingResponse(_endless(), media_type="application/json")
        if mode == "deep":
            body = "[" * 100_000 + "]" * 100_000
            return Response('{"data": ' + body + "}", media_type="application/json")
        if mode == "not-json":
            return Response("<html>gateway</html>", media_type="text/html")
        if mode == "shape":
            return JSONResponse({"data": [{"id": 5, "name": ["x"]}], "meta": {}})
        if mode == "echo-key":  # a catalogue (or a proxy in front) repeating the header
            said = f"bad key {request.headers.get('authorization')} for AKIAIOSFODNN7EXAMPLE"
            error = {"code": "FORBIDDEN", "message": said, "details": {"seen": said}}
            return JSONResponse({"error": error}, status_code=403)
        body = {"error": {"code": "X" * 5000, "message": "m" * 100_000}, "meta": ["no"]}
        return JSONResponse(body, status_code=400)

    async def empty(request: Request) -> JSONResponse:
        return JSONResponse({"data": []})

    return Starlette(
        routes=[
            Route("/v1/modules/scaipersona/personas", personas_route),
            Route("/v1/models", empty),
            Route("/v1/models/groups", empty),
        ]
    )


@pytest.fixture(params=["endless", "deep", "not-json", "shape"])
def bad(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with serve_in_thread(hostile_app(request.param)) as base_url:
        yield request.param, base_url


def test_bad_answers_are_typed_errors(bad: tuple[str, str]) -> None:
    mode, base_url = bad
    cat = HttpCatalogue(base_url, "k", retry=FAST_RETRY, max_response_bytes=LIMIT)
    with cat, pytest.raises(CatalogueBadResponse) as caught:
        list(cat.iter_personas())
    expected = {
        "endless": f"larger than {LIMIT:,} bytes",
        "deep": "nested too deep",
        "not-json": "not valid JSON",
        "shape": "not the expected shape",
    }[mode]
    assert expected in caught.value.message


def test_a_huge_error_envelope_is_bounded() -> None:
    with serve_in_thread(hostile_app("envelope")) as base_url:
        cat = HttpCatalogue(base_url, "k", retry=FAST_RETRY)
        with cat, pytest.raises(CatalogueError) as caught:
            list(cat.iter_personas())
    assert len(caught.value.message) < 1200
    assert "request_id" not in caught.value.details


def test_an_error_repeating_the_key_is_redacted() -> None:
    """Issue 19: a remote catalogue's error text is shown (CLI, MCP, reports), so the key
    this client sent and every secret shape are redacted from its message and details."""
    key = "opaque-catalogue-credential-9Zq4"
    with serve_in_thread(hostile_app("echo-key")) as base_url:
        cat = HttpCatalogue(base_url, key, retry=FAST_RETRY)
        with cat, pytest.raises(CatalogueError) as caught:
            list(cat.iter_personas())
    shown = str(caught.value) + caught.value.message + repr(caught.value.details)
    assert "bad key Bearer [REDACTED]" in caught.value.message
    assert key not in shown and "AKIAIOSFODNN7EXAMPLE" not in shown


@pytest.mark.slow  # personas plan as a process
def test_plan_against_a_hostile_catalogue_is_one_line(example_repo: Path) -> None:  # noqa: F811
    with serve_in_thread(hostile_app("deep")) as base_url:
        result = personas(
            "plan", cwd=example_repo, env={"SCAIGRID_HOST": base_url, "SCAIGRID_API_KEY": "k"}
        )
    assert result.returncode == 1
    assert result.stderr.startswith("error CATALOGUE_BAD_RESPONSE: GET ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
