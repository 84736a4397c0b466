"""REST-specific behaviour: envelopes, auth, validation, status codes, headers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from personas_as_code.catalogue.rest import create_app

from tests.catalogue.conftest import Rest, make_key
from tests.catalogue.test_contract import EVIL_SVG, GIF, PNG, SAFE_SVG

P = "/v1/modules/scaipersona"
BODY = {"name": "Support Agent", "model_slug": "scaigrid/gpt-4o"}


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "meta"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert body["meta"]["request_id"].startswith("req_")
    assert resp.headers["x-request-id"] == body["meta"]["request_id"]
    return body["error"]


def create(rest: Rest, key: str | None = None, **extra: Any) -> dict[str, Any]:
    resp = rest.client.post(f"{P}/personas", json={**BODY, **extra}, headers=rest.auth(key))
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


# --- auth and isolation ----------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["missing", "invalid", "wrong-scheme"],
)
def test_unauthorized(rest: Rest, headers: dict[str, str]) -> None:
    for method, path in [
        ("GET", f"{P}/personas"),
        ("POST", f"{P}/personas"),
        ("GET", "/v1/models"),
        ("GET", "/v1/models/groups"),
        ("GET", f"{P}/scaidrive/shares"),
    ]:
        assert_error(rest.client.request(method, path, headers=headers), 401, "UNAUTHORIZED")


def test_other_tenants_ids_are_404(rest: Rest) -> None:
    p = create(rest)
    src = rest.client.post(
        f"{P}/personas/{p['id']}/sources",
        json={"source_type": "collection", "source_id": "c"},
        headers=rest.auth(),
    ).json()["data"]
    other = rest.auth(rest.other_key)
    for method, path, body in [
        ("GET", f"/personas/{p['id']}", None),
        ("PUT", f"/personas/{p['id']}", {"name": "x"}),
        ("DELETE", f"/personas/{p['id']}", None),
        ("POST", f"/personas/{p['id']}/publish", None),
        ("POST", f"/personas/{p['id']}/unpublish", None),
        ("GET", f"/personas/{p['id']}/sources", None),
        ("PUT", f"/personas/{p['id']}/sources/{src['id']}", {"weight": 2}),
        ("DELETE", f"/personas/{p['id']}/sources/{src['id']}", None),
    ]:
        resp = rest.client.request(method, P + path, json=body, headers=other)
        assert_error(resp, 404, "PERSONA_NOT_FOUND")
    assert rest.client.get(f"{P}/personas", headers=other).json()["data"] == []
    assert rest.client.get(f"{P}/personas/{p['id']}", headers=rest.auth()).status_code == 200


# --- validation ------------------------------------------------------------


def test_malformed_json_is_400(rest: Rest) -> None:
    resp = rest.client.post(
        f"{P}/personas",
        content=b'{"name": "x", ',
        headers={**rest.auth(), "Content-Type": "application/json"},
    )
    err = assert_error(resp, 400, "VALIDATION_ERROR")
    assert "JSON" in err["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "rag_top_k": "five"}, "rag_top_k"),
        ({**BODY, "rag_top_k": 0}, "rag_top_k"),
        ({**BODY, "rag_top_k": 51}, "rag_top_k"),
        ({**BODY, "rag_min_score": 1.5}, "rag_min_score"),
        ({**BODY, "rag_strategy": "psychic"}, "rag_strategy"),
        ({**BODY, "status": "deleted"}, "status"),
        ({**BODY, "slug": "Not A Slug"}, "slug"),
        ({**BODY, "default_params": [1, 2]}, "default_params"),
        ({**BODY, "surprise": 1}, "surprise"),
        ({"model_slug": "scaigrid/gpt-4o"}, "name"),
        ({"name": "x"}, "model_slug"),
        ({**BODY, "name": "nul\x00byte"}, "name"),
        ({**BODY, "metadata": {"k": "nul\x00"}}, "metadata.k"),
        # the enricher would send the template and silently drop what it retrieved
        ({**BODY, "rag_context_template": "Answer from:"}, "rag_context_template"),
    ],
)
def test_invalid_persona_bodies_name_the_field(rest: Rest, body: dict, field: str) -> None:
    err = assert_error(
        rest.client.post(f"{P}/personas", json=body, headers=rest.auth()), 400, "VALIDATION_ERROR"
    )
    assert field in err["details"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source_type": "collection", "source_id": "c", "weight": 11}, "weight"),
        ({"source_type": "collection", "source_id": "c", "weight": -0.1}, "weight"),
        ({"source_type": "s3", "source_id": "c"}, "source_type"),
        ({"source_type": "collection"}, "source_id"),
        (
            {"source_type": "collection", "source_id": "c", "search_config": {"search_type": "x"}},
            "search_config",
        ),
    ],
)
def test_invalid_source_bodies(rest: Rest, body: dict, field: str) -> None:
    p = create(rest)
    resp = rest.client.post(f"{P}/personas/{p['id']}/sources", json=body, headers=rest.auth())
    assert field in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]


def test_a_context_template_without_its_placeholder_is_refused_on_put(rest: Rest) -> None:
    p = create(rest)
    url = f"{P}/personas/{p['id']}"
    bad = rest.client.put(url, json={"rag_context_template": "Context:"}, headers=rest.auth())
    assert "rag_context_template" in assert_error(bad, 400, "VALIDATION_ERROR")["details"]["fields"]
    good = rest.client.put(
        url, json={"rag_context_template": "Context:\n$context"}, headers=rest.auth()
    )
    assert good.status_code == 200
    assert good.json()["data"]["rag_context_template"] == "Context:\n$context"


def test_out_of_range_on_put(rest: Rest) -> None:
    p = create(rest)
    resp = rest.client.put(f"{P}/personas/{p['id']}", json={"rag_top_k": 51}, headers=rest.auth())
    assert "rag_top_k" in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]
    src = rest.client.post(
        f"{P}/personas/{p['id']}/sources",
        json={"source_type": "collection", "source_id": "c"},
        headers=rest.auth(),
    ).json()["data"]
    resp = rest.client.put(
        f"{P}/personas/{p['id']}/sources/{src['id']}", json={"weight": 11}, headers=rest.auth()
    )
    assert "weight" in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("order=sideways", "order"),
        ("cursor=%%%", "cursor"),
    ],
)
def test_invalid_list_parameters(rest: Rest, query: str, field: str) -> None:
    resp = rest.client.get(f"{P}/personas?{query}", headers=rest.auth())
    assert field in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]


def test_framework_errors_use_the_envelope(rest: Rest) -> None:
    assert_error(rest.client.get(f"{P}/nothing-here", headers=rest.auth()), 404, "NOT_FOUND")
    assert_error(rest.client.patch(f"{P}/personas", headers=rest.auth()), 405, "METHOD_NOT_ALLOWED")


# --- happy paths and status codes ------------------------------------------


def test_crud_status_codes_and_envelopes(rest: Rest) -> None:
    p = create(rest, system_prompt="hi")
    assert p["slug"] == "support-agent" and p["id"].startswith("per_")
    listing = rest.client.get(f"{P}/personas?limit=1", headers=rest.auth()).json()
    assert listing["data"][0]["id"] == p["id"] and listing["data"][0]["sources"] == []
    assert listing["meta"]["has_more"] is False and listing["meta"]["next_cursor"] is None
    assert_error(
        rest.client.post(f"{P}/personas", json=BODY, headers=rest.auth()),
        409,
        "PERSONA_SLUG_CONFLICT",
    )
    assert_error(
        rest.client.post(
            f"{P}/personas", json={**BODY, "model_slug": "x/y", "slug": "z"}, headers=rest.auth()
        ),
        404,
        "PERSONA_MODEL_NOT_FOUND",
    )
    put = rest.client.put(f"{P}/personas/{p['id']}", json={"name": "New"}, headers=rest.auth())
    assert put.status_code == 200 and put.json()["data"]["name"] == "New"
    assert put.json()["data"]["system_prompt"] == "hi"
    resp = rest.client.delete(f"{P}/personas/{p['id']}", headers=rest.auth())
    assert resp.status_code == 204 and resp.content == b""
    assert_error(
        rest.client.get(f"{P}/personas/{p['id']}", headers=rest.auth()), 404, "PERSONA_NOT_FOUND"
    )


def test_sources_statuses(rest: Rest) -> None:
    p = create(rest)
    url = f"{P}/personas/{p['id']}/sources"
    body = {"source_type": "collection", "source_id": "docs"}
    first = rest.client.post(url, json=body, headers=rest.auth())
    assert first.status_code == 201 and first.json()["data"]["weight"] == 1.0
    assert_error(
        rest.client.post(url, json=body, headers=rest.auth()), 409, "PERSONA_SOURCE_DUPLICATE"
    )
    listed = rest.client.get(url, headers=rest.auth()).json()
    assert [s["source_id"] for s in listed["data"]] == ["docs"]
    sid = first.json()["data"]["id"]
    assert rest.client.delete(f"{url}/{sid}", headers=rest.auth()).status_code == 204
    assert_error(
        rest.client.delete(f"{url}/{sid}", headers=rest.auth()), 404, "PERSONA_SOURCE_NOT_FOUND"
    )


def test_publish_then_models_then_unpublish(rest: Rest) -> None:
    p = create(rest, system_prompt="Be kind.", rag_enabled=True)
    no_body = rest.client.post(f"{P}/personas/{p['id']}/publish", headers=rest.auth())
    assert no_body.status_code == 200 and no_body.json()["data"]["published"] is True
    unpub = rest.client.post(f"{P}/personas/{p['id']}/unpublish", headers=rest.auth())
    assert unpub.status_code == 200 and unpub.json()["data"]["published"] is False
    assert_error(
        rest.client.post(f"{P}/personas/{p['id']}/unpublish", headers=rest.auth()),
        409,
        "PERSONA_NOT_PUBLISHED",
    )
    pub = rest.client.post(
        f"{P}/personas/{p['id']}/publish",
        json={"group_ids": ["mg_internal_chat", "mg_qa"]},
        headers=rest.auth(),
    ).json()["data"]
    models = {
        m["slug"]: m for m in rest.client.get("/v1/models", headers=rest.auth()).json()["data"]
    }
    m, base = models["tenant/acme/support-agent"], models["scaigrid/gpt-4o"]
    assert m["id"] == pub["published_model_id"]
    for key in ("modality", "capabilities", "context_window", "pricing"):
        assert m[key] == base[key]
    assert m["system_prompt_template"] == "Be kind."
    assert m["metadata"] == {"persona_id": p["id"], "rag_enabled": True}
    groups = rest.client.get("/v1/models/groups", headers=rest.auth()).json()["data"]
    assert {g["id"] for g in groups if m["slug"] in g["model_slugs"]} == {
        "mg_internal_chat",
        "mg_qa",
    }
    # another tenant does not see it
    other = rest.client.get("/v1/models", headers=rest.auth(rest.other_key)).json()["data"]
    assert m["slug"] not in {x["slug"] for x in other}
    rest.client.post(f"{P}/personas/{p['id']}/unpublish", headers=rest.auth())
    models = rest.client.get("/v1/models", headers=rest.auth()).json()["data"]
    assert m["slug"] not in {x["slug"] for x in models}
    groups = rest.client.get("/v1/models/groups", headers=rest.auth()).json()["data"]
    assert all(m["slug"] not in g["model_slugs"] for g in groups)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("tenant_admin", {"mg_qa"}),
        ("partner_admin", {"mg_qa", "mg_partner_shared", "SIBLING"}),
        ("super_admin", {"mg_qa", "mg_partner_shared", "SIBLING", "FOREIGN", "mg_global_public"}),
    ],
)
def test_group_scope_rules_per_role(rest: Rest, role: str, expected: set[str]) -> None:
    # acme and globex are seeded by the fixture (both partner "default");
    # initech sits under partner "other".
    key = make_key(rest.engine, "acme", role)
    make_key(rest.engine, "initech", partner="other")
    sibling = "mg_qa_globex"
    foreign = "mg_qa_initech"
    requested = ["mg_qa", "mg_partner_shared", sibling, foreign, "mg_global_public", "mg_unknown"]
    p = create(rest, key)
    resp = rest.client.post(
        f"{P}/personas/{p['id']}/publish", json={"group_ids": requested}, headers=rest.auth(key)
    )
    assert resp.status_code == 200
    root = make_key(rest.engine, "root", "super_admin")
    groups = rest.client.get("/v1/models/groups", headers=rest.auth(root)).json()["data"]
    joined = {g["id"] for g in groups if "tenant/acme/support-agent" in g["model_slugs"]}
    names = {"SIBLING": sibling, "FOREIGN": foreign}
    assert joined == {names.get(x, x) for x in expected}


# --- avatars ---------------------------------------------------------------


def upload(rest: Rest, pid: str, data: bytes, mime: str, name: str = "a.png") -> httpx.Response:
    return rest.client.post(
        f"{P}/personas/{pid}/avatar", files={"file": (name, data, mime)}, headers=rest.auth()
    )


def test_avatar_upload_and_public_get(rest: Rest) -> None:
    p = create(rest)
    assert_error(rest.client.get(f"{P}/personas/{p['id']}/avatar"), 404, "NO_AVATAR")
    resp = upload(rest, p["id"], PNG, "image/png")
    assert resp.status_code == 200
    assert resp.json() == {"data": {"avatar_url": f"{P}/personas/{p['id']}/avatar"}}
    got = rest.client.get(f"{P}/personas/{p['id']}/avatar")  # no auth
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["cache-control"] == "public, max-age=3600"
    again = rest.client.get(
        f"{P}/personas/{p['id']}/avatar", headers={"If-None-Match": got.headers["etag"]}
    )
    assert again.status_code == 304
    persona = rest.client.get(f"{P}/personas/{p['id']}", headers=rest.auth()).json()["data"]
    assert persona["avatar_sha256"] == got.headers["etag"].strip('"')
    assert upload(rest, p["id"], SAFE_SVG, "image/svg+xml", "a.svg").status_code == 200
    svg = rest.client.get(f"{P}/personas/{p['id']}/avatar")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in svg.headers["content-security-policy"]
    assert_error(rest.client.get(f"{P}/personas/per_missing/avatar"), 404, "PERSONA_NOT_FOUND")


def test_avatar_rejections(rest: Rest) -> None:
    p = create(rest)
    big = PNG + b"\x00" * (2 * 1024 * 1024)
    assert_error(upload(rest, p["id"], big, "image/png"), 400, "FILE_TOO_LARGE")
    huge = PNG + b"\x00" * (3 * 1024 * 1024)
    assert_error(upload(rest, p["id"], huge, "image/png"), 400, "FILE_TOO_LARGE")
    assert_error(upload(rest, p["id"], GIF, "image/png"), 400, "INVALID_FILE_TYPE")
    assert_error(upload(rest, p["id"], PNG, "image/jpeg"), 400, "INVALID_FILE_TYPE")
    assert_error(upload(rest, p["id"], b"hello", "text/plain"), 400, "INVALID_FILE_TYPE")
    err = assert_error(upload(rest, p["id"], EVIL_SVG, "image/svg+xml"), 400, "INVALID_FILE_TYPE")
    assert "script" in err["message"]
    resp = rest.client.post(f"{P}/personas/{p['id']}/avatar", headers=rest.auth())
    assert "file" in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]
    assert_error(rest.client.get(f"{P}/personas/{p['id']}/avatar"), 404, "NO_AVATAR")


# --- ScaiDrive and OpenAPI -------------------------------------------------


def test_scaidrive_with_neither_a_base_url_nor_indexed_shares_is_not_configured(
    rest: Rest,
) -> None:
    # seed 000: 503 when no ScaiDrive is configured; with indexed scaidrive knowledge
    # folders the embedded catalogue is its own ScaiDrive (tests/sync/test_knowledge_sync.py)
    resp = rest.client.get(f"{P}/scaidrive/shares", headers=rest.auth())
    err = assert_error(resp, 503, "SCAIDRIVE_NOT_CONFIGURED")
    assert "--scaidrive-url" in err["message"]


def test_scaidrive_configured_cannot_exchange_api_keys(sqlite_url: str) -> None:
    from starlette.testclient import TestClient

    app = create_app(sqlite_url, scaidrive_base_url="https://drive.example")
    key = make_key(app.state.engine, "acme")
    with TestClient(app) as client:
        resp = client.get(f"{P}/scaidrive/shares", headers={"Authorization": f"Bearer {key}"})
    assert_error(resp, 502, "SCAIDRIVE_TOKEN_EXCHANGE_FAILED")
    app.state.engine.dispose()


def test_openapi_document(rest: Rest) -> None:
    doc = rest.client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in (
        f"{P}/personas",
        f"{P}/personas/{{persona_id}}",
        f"{P}/personas/{{persona_id}}/publish",
        f"{P}/personas/{{persona_id}}/unpublish",
        f"{P}/personas/{{persona_id}}/sources",
        f"{P}/personas/{{persona_id}}/sources/{{source_id}}",
        f"{P}/personas/{{persona_id}}/avatar",
        f"{P}/scaidrive/shares",
        "/v1/models",
        "/v1/models/groups",
    ):
        assert path in paths
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
