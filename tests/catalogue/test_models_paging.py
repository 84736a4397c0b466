"""``GET /v1/models`` is cursor-paginated like personas and filters by slug or id; the
plan's model check reads only the models it needs (issue 13).

Covered: paging through every model (embedded and HTTP, SQLite and PostgreSQL),
the slug/id filter, bad paging input, a server that neither pages nor filters
(a legacy catalogue: the client still gets the right answer), and a plan over
HTTP whose model requests are all filtered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from personas_as_code.catalogue.api import PersonaCreate
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.sync.engine import compute_plan, load_valid_repo
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.catalogue.conftest import FAST_RETRY, Kit, Rest
from tests.repos import example_repo  # noqa: F401
from tests.sync.conftest import open_target


def publish_some(cat: Catalogue, n: int) -> list[str]:
    """Create and publish ``n`` personas; their published model ids."""
    ids = []
    for i in range(n):
        body = PersonaCreate(name=f"Pager {i}", model_slug="scaigrid/gpt-4o", system_prompt=f"P{i}")
        persona = cat.publish_persona(cat.create_persona(body).id)
        assert persona.published_model_id
        ids.append(persona.published_model_id)
    return ids


def test_pages_cover_every_model_once_in_slug_order(kit: Kit) -> None:
    cat = kit.catalogue()
    published = publish_some(cat, 5)
    whole = cat.list_models()
    slugs = [m.slug for m in whole]
    assert slugs == sorted(slugs) and len(slugs) == len(set(slugs))
    assert set(published) <= {m.id for m in whole}
    paged, cursor = [], None
    while True:
        page = cat.list_models_page(limit=3, cursor=cursor)
        assert len(page.items) <= 3
        paged += page.items
        if not page.has_more:
            assert page.next_cursor is None
            break
        cursor = page.next_cursor
    assert [m.slug for m in paged] == slugs
    assert [m.model_dump() for m in paged] == [m.model_dump() for m in whole]


def test_filter_by_slug_and_id_answers_only_those(kit: Kit) -> None:
    cat = kit.catalogue()
    published = publish_some(cat, 3)
    other = kit.catalogue("globex")
    foreign = publish_some(other, 1)
    found = cat.list_models(slugs=["scaigrid/gpt-4o", "no/such-model"], ids=published[:2])
    assert sorted(m.id for m in found if m.slug != "scaigrid/gpt-4o") == sorted(published[:2])
    assert [m.slug for m in found if m.id not in published] == ["scaigrid/gpt-4o"]
    # another tenant's model is not visible even by id; nothing asked, nothing answered
    assert cat.list_models(ids=foreign) == []
    assert cat.list_models(slugs=[]) == []
    page = cat.list_models_page(slugs=["scaigrid/gpt-4o"], limit=1)
    assert [m.slug for m in page.items] == ["scaigrid/gpt-4o"] and not page.has_more


def test_many_filter_values_read_the_list_once(kit: Kit) -> None:
    cat = kit.catalogue()
    published = publish_some(cat, 3)
    wanted = [f"absent/model-{i}" for i in range(250)] + ["scaigrid/gpt-4o-mini"]
    before = getattr(cat, "request_count", 0)
    found = cat.list_models(slugs=wanted, ids=published)
    used = getattr(cat, "request_count", 0) - before
    mini = next(m.id for m in cat.list_models() if m.slug == "scaigrid/gpt-4o-mini")
    assert sorted(m.id for m in found) == sorted([*published, mini])
    if kit.kind == "http":  # one page of the whole list, not three filtered requests
        assert used == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        # a personas cursor (an integer key) is not a models cursor
        ({"cursor": "eyJrIjo1LCJvIjoiYXNjIn0"}, "cursor"),
        ({"order": "sideways"}, "order"),
        ([("slug", f"s{i}") for i in range(201)], "slug"),
        ([("id", "x" * 600)], "id"),
    ],
)
def test_bad_paging_or_filter_is_a_validation_error(rest: Rest, params: Any, field: str) -> None:
    resp = rest.client.get("/v1/models", params=params, headers=rest.auth())
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]["fields"]


def test_descending_order_and_its_cursor(rest: Rest) -> None:
    first = rest.client.get("/v1/models", params={"limit": 2, "order": "desc"}, headers=rest.auth())
    body = first.json()
    slugs = [m["slug"] for m in body["data"]]
    assert slugs == sorted(slugs, reverse=True) and body["meta"]["has_more"] is True
    cursor = body["meta"]["next_cursor"]
    wrong = rest.client.get("/v1/models", params={"cursor": cursor}, headers=rest.auth())
    assert wrong.status_code == 400 and "order changed" in wrong.json()["error"]["message"]
    nxt = rest.client.get(
        "/v1/models", params={"limit": 2, "order": "desc", "cursor": cursor}, headers=rest.auth()
    ).json()["data"]
    assert nxt and nxt[0]["slug"] < slugs[-1]


def _model(n: int) -> dict[str, Any]:
    return {"id": f"fm_{n}", "slug": f"legacy/model-{n}", "display_name": f"M{n}"}


@pytest.fixture
def legacy() -> Iterator[tuple[str, list[str]]]:
    """A catalogue whose ``GET /v1/models`` ignores paging and filters: all, no meta."""
    seen: list[str] = []

    async def models(request: Request) -> JSONResponse:
        seen.append(str(request.url.query))
        return JSONResponse({"data": [_model(n) for n in range(300)]})

    with serve_in_thread(Starlette(routes=[Route("/v1/models", models)])) as base_url:
        yield base_url, seen


def test_a_server_that_neither_pages_nor_filters_still_answers_right(
    legacy: tuple[str, list[str]],
) -> None:
    base_url, seen = legacy
    with HttpCatalogue(base_url, "k", retry=FAST_RETRY) as cat:
        assert [m.id for m in cat.list_models()] == [f"fm_{n}" for n in range(300)]
        assert len(seen) == 1
        found = cat.list_models(slugs=[f"legacy/model-{n}" for n in (5, 150)], ids=["fm_7"])
    assert sorted(m.id for m in found) == ["fm_150", "fm_5", "fm_7"]
    # one filtered request shows the filter is ignored; one more reads the list once
    assert len(seen) == 3 and "slug=" in seen[1] and "slug=" not in seen[2]


def test_the_plan_reads_only_the_models_it_checks(
    example_repo: Path,  # noqa: F811
    sqlite_url: str,
) -> None:
    queries: list[str] = []

    def recording(app: Any) -> Any:
        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"] == "/v1/models":
                queries.append(scope["query_string"].decode())
            await app(scope, receive, send)

        return wrapped

    with open_target("http", sqlite_url, recording) as target:
        repo = load_valid_repo(example_repo)
        plan, ctx = compute_plan(repo, target.catalogue)
        planned = list(queries)
        every = {m.slug for m in target.catalogue.list_models()}
    wanted = {p.spec.model for p in repo.personas.values()}
    assert planned and all("slug=" in q or "id=" in q for q in planned), planned
    assert ctx.models == wanted & every
    assert plan.has_changes
