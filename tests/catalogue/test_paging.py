"""Cursor paging cannot run away: a repeated cursor or endless pages fail fast and clearly.

The catalogue here is a tiny handwritten ScaiPersona server on a loopback port
whose list route always answers ``has_more: true``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from personas_as_code.catalogue import protocol
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.schemas.errors import PaginationRunaway
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.catalogue.conftest import FAST_RETRY
from tests.repos import example_repo  # noqa: F401
from tests.sync.test_cli import personas


def _persona(n: int) -> dict:
    return {"id": f"per_{n}", "name": f"Loop {n}", "slug": f"loop-{n}", "model_slug": "m/x"}


def endless_app(mode: str) -> Starlette:
    """``same``: one persona and the cursor 'same' forever; ``fresh``: a new cursor and an
    empty page forever; ``full``: a new cursor and a full page of 200 forever."""
    counter = itertools.count()

    async def personas_route(request: Request) -> JSONResponse:
        n = next(counter)
        items = {
            "same": [_persona(n)],
            "fresh": [],
            "full": [_persona(n * 200 + i) for i in range(200)],
        }
        cursor = "same" if mode == "same" else f"c{n}"
        return JSONResponse(
            {"data": items[mode], "meta": {"has_more": True, "next_cursor": cursor}}
        )

    async def empty(request: Request) -> JSONResponse:
        return JSONResponse({"data": []})

    return Starlette(
        routes=[
            Route("/v1/modules/scaipersona/personas", personas_route),
            Route("/v1/models", empty),
            Route("/v1/models/groups", empty),
        ]
    )


@pytest.fixture
def endless(request: pytest.FixtureRequest) -> Iterator[str]:
    with serve_in_thread(endless_app(request.param)) as base_url:
        yield base_url


@pytest.mark.slow  # personas plan as a process
@pytest.mark.parametrize("endless", ["same"], indirect=True)
def test_plan_fails_fast_on_a_repeated_cursor(endless: str, example_repo: Path) -> None:  # noqa: F811
    env = {"SCAIGRID_HOST": endless, "SCAIGRID_API_KEY": "k"}
    done = personas("plan", cwd=example_repo, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error CATALOGUE_PAGINATION_RUNAWAY: the catalogue answered the cursor 'same' twice" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("endless", ["fresh"], indirect=True)
def test_endless_fresh_cursors_hit_the_page_limit(endless: str) -> None:
    page_size = 100_000  # the client asks for 200; the limit allows 2x the pages needed
    with (
        HttpCatalogue(endless, "k", retry=FAST_RETRY) as cat,
        pytest.raises(PaginationRunaway) as caught,
    ):
        list(cat.iter_personas(page_size=page_size))
    assert caught.value.code == "CATALOGUE_PAGINATION_RUNAWAY"
    assert caught.value.details["pages"] == protocol.max_pages(page_size) == 3
    assert "still paging after 3 pages" in caught.value.message


@pytest.mark.parametrize("endless", ["full"], indirect=True)
def test_more_personas_than_a_catalogue_holds_is_refused(
    endless: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protocol, "MAX_CATALOGUE_PERSONAS", 500)
    with HttpCatalogue(endless, "k", retry=FAST_RETRY) as cat:
        read = []
        with pytest.raises(PaginationRunaway) as caught:
            read.extend(cat.iter_personas())
    assert len(read) == 400 and caught.value.details["pages"] == 3
    assert "more than 500 personas" in caught.value.message


def test_page_limit_is_generous() -> None:
    assert protocol.max_pages(200) == 1001
    assert protocol.max_pages(1) == 200_001
