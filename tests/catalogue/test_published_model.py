"""The published model, over real HTTP on SQLite and PostgreSQL (issue 9, items 2 and 3).

Saving a published persona keeps its frontend model in step: a new slug renames
the model (freeing the old slug), a new ``model_slug`` re-links it to that base
model (capabilities, context window, pricing, backend links).  ``GET
/v1/models/{model_slug}`` reads a model whose slug holds slashes, with its
base model, groups and backend links.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread

from tests.catalogue.conftest import make_key
from tests.catalogue.test_rest import assert_error

P = "/v1/modules/scaipersona"


@dataclass
class Live:
    """A REST server on a loopback port and clients for tenants ``acme`` and ``globex``."""

    acme: httpx.Client
    globex: httpx.Client

    def create(self, **body: Any) -> dict[str, Any]:
        resp = self.acme.post(f"{P}/personas", json={"model_slug": "scaigrid/gpt-4o", **body})
        assert resp.status_code == 201, resp.text
        return resp.json()["data"]

    def publish(self, persona_id: str, groups: list[str] | None = None) -> dict[str, Any]:
        body = {"group_ids": groups} if groups is not None else None
        resp = self.acme.post(f"{P}/personas/{persona_id}/publish", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]

    def put(self, persona_id: str, **body: Any) -> httpx.Response:
        return self.acme.put(f"{P}/personas/{persona_id}", json=body)

    def model(self, slug: str, client: httpx.Client | None = None) -> httpx.Response:
        return (client or self.acme).get(f"/v1/models/{slug}")


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    engine = make_engine(database_url)
    app = create_app(engine)
    acme_key, globex_key = make_key(engine, "acme"), make_key(engine, "globex")
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(serve_in_thread(app))

        def client(key: str) -> httpx.Client:
            headers = {"Authorization": f"Bearer {key}"}
            return stack.enter_context(httpx.Client(base_url=base, headers=headers, timeout=10))

        yield Live(client(acme_key), client(globex_key))
    engine.dispose()


def test_get_model_by_slug_with_slashes(live: Live) -> None:
    persona = live.create(name="Helper", slug="helper", system_prompt="Be brief.")
    live.publish(persona["id"], ["mg_internal_chat", "mg_qa"])
    resp = live.model("tenant/acme/helper")
    assert resp.status_code == 200, resp.text
    model = resp.json()["data"]
    assert model["slug"] == "tenant/acme/helper"
    assert (
        model["id"]
        == live.acme.get(f"{P}/personas/{persona['id']}").json()["data"]["published_model_id"]
    )
    assert model["base_model_slug"] == "scaigrid/gpt-4o"
    assert model["display_name"] == "Helper"
    assert model["system_prompt_template"] == "Be brief."
    assert model["context_window"] == 128000
    assert model["capabilities"]["vision"] is True
    assert model["pricing"]["currency"] == "USD"
    assert model["group_ids"] == ["mg_internal_chat", "mg_qa"]
    assert model["backend_links"] == [
        {"backend_model_slug": "openai/gpt-4o", "provider_type": "openai", "priority": 0}
    ]
    assert model["metadata"]["persona_id"] == persona["id"]
    # a starter model reads the same way; /groups is still the group list
    starter = live.model("scaigrid/claude-sonnet-4").json()["data"]
    assert starter["base_model_slug"] is None and starter["backend_links"]
    assert isinstance(live.acme.get("/v1/models/groups").json()["data"], list)


def test_get_model_unknown_or_other_tenants_is_404(live: Live) -> None:
    persona = live.create(name="Helper", slug="helper")
    live.publish(persona["id"])
    assert_error(live.model("tenant/acme/nope"), 404, "PERSONA_MODEL_NOT_FOUND")
    assert_error(live.model("tenant/acme/helper", live.globex), 404, "PERSONA_MODEL_NOT_FOUND")
    assert_error(
        live.acme.get("/v1/models/tenant/acme/helper", headers={"Authorization": ""}),
        401,
        "UNAUTHORIZED",
    )


def test_put_slug_renames_the_published_model_and_frees_the_old_slug(live: Live) -> None:
    persona = live.create(name="Helper", slug="helper")
    live.publish(persona["id"], ["mg_internal_chat"])
    resp = live.put(persona["id"], slug="assistant")
    assert resp.status_code == 200, resp.text
    assert_error(live.model("tenant/acme/helper"), 404, "PERSONA_MODEL_NOT_FOUND")
    moved = live.model("tenant/acme/assistant").json()["data"]
    assert moved["group_ids"] == ["mg_internal_chat"]  # memberships follow the model
    groups = {g["id"]: g for g in live.acme.get("/v1/models/groups").json()["data"]}
    assert "tenant/acme/assistant" in groups["mg_internal_chat"]["model_slugs"]
    assert "tenant/acme/helper" not in groups["mg_internal_chat"]["model_slugs"]
    # the old slug is free for a new persona, published too
    newcomer = live.create(name="New Helper", slug="helper")
    assert live.publish(newcomer["id"])["published"] is True
    assert (
        live.model("tenant/acme/helper").json()["data"]["metadata"]["persona_id"]
        == (newcomer["id"])
    )


def test_put_model_slug_relinks_the_published_model(live: Live) -> None:
    persona = live.create(name="Helper", slug="helper")
    live.publish(persona["id"])
    resp = live.put(persona["id"], model_slug="scaigrid/llama-3.1-8b", name="Helper 2")
    assert resp.status_code == 200, resp.text
    model = live.model("tenant/acme/helper").json()["data"]
    base = live.model("scaigrid/llama-3.1-8b").json()["data"]
    assert model["base_model_slug"] == "scaigrid/llama-3.1-8b"
    assert model["display_name"] == "Helper 2"
    for key in ("context_window", "capabilities", "pricing", "modality"):
        assert model[key] == base[key], key
    assert model["backend_links"] == base["backend_links"]
    assert model["backend_links"] != [
        {"backend_model_slug": "openai/gpt-4o", "provider_type": "openai", "priority": 0}
    ]


def test_put_slug_onto_a_taken_published_slug_changes_nothing(live: Live) -> None:
    first = live.create(name="One", slug="one")
    live.publish(first["id"])
    second = live.create(name="Two", slug="two")
    live.publish(second["id"])
    assert_error(live.put(second["id"], slug="one"), 409, "PERSONA_SLUG_CONFLICT")
    assert live.model("tenant/acme/two").json()["data"]["metadata"]["persona_id"] == second["id"]
    assert live.acme.get(f"{P}/personas/{second['id']}").json()["data"]["slug"] == "two"
