"""REST hardening over real HTTP on SQLite and PostgreSQL: values that are not
strict JSON are refused with nothing stored, rows stored around the API cannot
poison a listing, every malformed cursor is a 400, concurrent unpublish /
delete / publish have one winner, and the OpenAPI document says what the
server answers."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from personas_as_code.catalogue.api import PersonaCreate
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import is_postgres
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.schemas.errors import ValidationFailed
from sqlalchemy import text

from tests.catalogue.conftest import FAST_RETRY, Live
from tests.catalogue.test_contract import PNG
from tests.catalogue.test_rest import assert_error

P = "/v1/modules/scaipersona"
BASE = '"name": "Bad", "model_slug": "scaigrid/gpt-4o"'
DEEP = "[" * 900 + "]" * 900


def post_raw(live: Live, path: str, raw: str) -> httpx.Response:
    """POST a JSON text as is (lone surrogate escapes and ``Infinity`` survive)."""
    headers = {**live.auth(), "Content-Type": "application/json"}
    return live.client.post(path, content=raw.encode(), headers=headers)


def personas(live: Live) -> list[dict[str, Any]]:
    resp = live.client.get(f"{P}/personas", headers=live.auth())
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def create(live: Live, **extra: Any) -> dict[str, Any]:
    body = {"name": "Good", "model_slug": "scaigrid/gpt-4o", **extra}
    resp = live.client.post(f"{P}/personas", json=body, headers=live.auth())
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


# --- values that are not strict JSON (items 5 and 6) ---------------------

BAD_PERSONA_FIELDS = [
    ('"metadata": {"a": "\\ud800"}', "metadata.a", "lone surrogate"),
    ('"metadata": {"\\udfff": 1}', "metadata.\\udfff", "lone surrogate"),
    ('"metadata": {"a": "nul\\u0000"}', "metadata.a", "NUL"),
    (f'"metadata": {{"a": {DEEP}}}', "metadata.a." + ".".join(["0"] * 32), "deeper than 32"),
    (f'"default_params": {{"a": {DEEP}}}', "default_params.a." + ".".join(["0"] * 32), "deeper"),
    ('"default_params": {"t": Infinity}', "default_params.t", "not a JSON number"),
    ('"default_params": {"t": -Infinity}', "default_params.t", "not a JSON number"),
    ('"default_params": {"t": NaN}', "default_params.t", "not a JSON number"),
    ('"default_params": {"t": 1e400}', "default_params.t", "not a JSON number"),
    ('"default_params": {"n": 99999999999999999999}', "default_params.n", "64-bit"),
    ('"rag_status_messages": {"k": "\\ud800"}', "rag_status_messages.k", "lone surrogate"),
    ('"rag_min_score": NaN', "rag_min_score", "finite"),
    ('"system_prompt": "\\ud800"', "system_prompt", "lone surrogate"),
    ('"system_prompt": "a\\u0000b"', "system_prompt", "NUL"),
    ('"rag_context_template": "\\udc00 $context"', "rag_context_template", "lone surrogate"),
]


def test_bad_values_are_refused_naming_the_field_and_nothing_is_stored(live: Live) -> None:
    kept = create(live, metadata={"keep": 1}, default_params={"temperature": 0.3})
    for fragment, field, reason in BAD_PERSONA_FIELDS:
        resp = post_raw(live, f"{P}/personas", f"{{{BASE}, {fragment}}}")
        error = assert_error(resp, 400, "VALIDATION_ERROR")
        assert field in error["details"]["fields"], (fragment, error)
        assert reason in error["message"], (fragment, error["message"])
        resp = live.client.request(
            "PUT",
            f"{P}/personas/{kept['id']}",
            content=("{" + fragment + "}").encode(),
            headers={**live.auth(), "Content-Type": "application/json"},
        )
        assert field in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]
    [only] = personas(live)
    assert only["id"] == kept["id"] and only["updated_at"] == kept["updated_at"]
    assert only["metadata"] == {"keep": 1} and only["default_params"] == {"temperature": 0.3}


def test_errors_quoting_unencodable_keys_still_answer_in_the_envelope(live: Live) -> None:
    for fragment, named in [
        ('"rag_status_messages": {"\\udfff": 5}', "rag_status_messages.\ufffd"),
        ('"\\udfff": 1', "body"),  # pydantic refuses such a key before naming it
    ]:
        resp = post_raw(live, f"{P}/personas", f"{{{BASE}, {fragment}}}")
        resp.content.decode("utf-8")  # strict UTF-8 on the wire
        [field] = assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]
        assert field.startswith(named), field
    assert personas(live) == []


def test_bad_source_values_are_refused_and_nothing_is_stored(live: Live) -> None:
    pid = create(live)["id"]
    url = f"{P}/personas/{pid}/sources"
    ident = '"source_type": "collection", "source_id": "docs"'
    source = live.client.post(
        url, json={"source_type": "collection", "source_id": "kept"}, headers=live.auth()
    ).json()["data"]
    for fragment, field in [
        ('"search_config": {"q": "\\ud800"}', "search_config.q"),
        (f'"search_config": {{"q": {DEEP}}}', "search_config.q." + ".".join(["0"] * 32)),
        ('"search_config": {"k": Infinity}', "search_config.k"),
        ('"weight": NaN', "weight"),
        ('"source_name": "\\ud800"', "source_name"),
    ]:
        resp = post_raw(live, url, f"{{{ident}, {fragment}}}")
        assert field in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]
        if fragment.startswith('"source_name"'):
            continue  # not updatable
        resp = live.client.put(
            f"{url}/{source['id']}",
            content=("{" + fragment + "}").encode(),
            headers={**live.auth(), "Content-Type": "application/json"},
        )
        assert field in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]
    sources = live.client.get(url, headers=live.auth()).json()["data"]
    assert [(s["source_id"], s["search_config"]) for s in sources] == [("kept", None)]


def test_a_body_changed_after_validation_is_still_refused(live: Live) -> None:
    cat = EmbeddedCatalogue(live.engine, "acme")
    body = PersonaCreate(name="Later", model_slug="scaigrid/gpt-4o")
    body.default_params = {"t": float("inf")}  # pydantic does not validate assignments
    with pytest.raises(ValidationFailed) as caught:
        cat.create_persona(body)
    assert caught.value.details["fields"] == ["default_params.t"]
    assert personas(live) == []


# --- rows stored around the API (item 5) -----------------------------------


def _poison(live: Live, table: str, column: str, value: str, row_id: str) -> None:
    cast = "CAST(:v AS json)" if is_postgres(live.engine) else ":v"
    with live.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {table} SET {column} = {cast} WHERE id = :id"), {"v": value, "id": row_id}
        )


def test_one_bad_stored_row_does_not_poison_the_listing(live: Live) -> None:
    healthy = create(live, name="Healthy", metadata={"team": "support"})
    bad = create(live, name="Bad")
    source = live.client.post(
        f"{P}/personas/{bad['id']}/sources",
        json={"source_type": "collection", "source_id": "docs"},
        headers=live.auth(),
    ).json()["data"]
    _poison(live, "personas", "metadata", '{"a": "x\\ud800y", "deep": ' + DEEP + "}", bad["id"])
    _poison(live, "personas", "rag_status_messages", '{"k": 5}', bad["id"])
    _poison(live, "persona_sources", "search_config", '{"q": ' + DEEP + "}", source["id"])
    if not is_postgres(live.engine):  # PostgreSQL's json type refuses these itself
        _poison(live, "personas", "default_params", '{"t": Infinity, "n": NaN}', bad["id"])
    with live.engine.begin() as conn:
        conn.execute(
            text("UPDATE personas SET rag_strategy = 'psychic' WHERE id = :id"), {"id": bad["id"]}
        )

    listed = {p["id"]: p for p in personas(live)}
    assert listed[healthy["id"]]["metadata"] == {"team": "support"}
    served = listed[bad["id"]]
    assert served["metadata"]["a"] == "x\ufffdy"
    deep = served["metadata"]["deep"]
    for _ in range(31):
        deep = deep[0]
    assert deep == [None]  # cut at the strict-JSON depth
    assert served["rag_status_messages"] is None and served["rag_strategy"] == "single_step"
    if not is_postgres(live.engine):
        assert served["default_params"] == {"t": None, "n": None}
    assert served["sources"][0]["search_config"]["q"][0][0] is not None
    one = live.client.get(f"{P}/personas/{bad['id']}", headers=live.auth())
    assert one.status_code == 200 and one.json()["data"] == served
    assert (
        live.client.get(f"{P}/personas/{bad['id']}/sources", headers=live.auth()).status_code == 200
    )
    # what `personas plan` reads: every persona, through the HTTP client
    with HttpCatalogue(live.base_url, live.key, retry=FAST_RETRY) as cat:
        assert {p.id for p in cat.iter_personas()} == {healthy["id"], bad["id"]}


# --- cursors (item 7) --------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_CURSORS = [
    "eyJrIjp0cnVlLCJvIjoiYXNjIn0",  # {"k":true,"o":"asc"}, from the issue
    _b64(b'{"k":false,"o":"asc"}'),
    _b64(b'{"k":1.0,"o":"asc"}'),
    _b64(b'{"k":"1","o":"asc"}'),
    _b64(b'{"k":null,"o":"asc"}'),
    _b64(b'{"k":-1,"o":"asc"}'),
    _b64(b'{"k":9223372036854775808,"o":"asc"}'),
    _b64(b'{"k":[1],"o":"asc"}'),
    _b64(b'{"k":1,"o":"sideways"}'),
    _b64(b'{"k":1,"o":"asc","x":1}'),
    _b64(b'{"k":1}'),
    _b64(b"[1, 2]"),
    _b64(b'"k"'),
    _b64(b"7"),
    _b64(b"null"),
    _b64(b"\xff\xfe not utf-8"),
    _b64(b"[" * 300),
    _b64(b'{"k":1,"o":"asc"'),
    "%%%",
    "\u00e9t\u00e9",
    "a",
]


def test_every_malformed_cursor_is_a_400(live: Live) -> None:
    create(live)
    for cursor in BAD_CURSORS:
        resp = live.client.get(f"{P}/personas", params={"cursor": cursor}, headers=live.auth())
        error = assert_error(resp, 400, "VALIDATION_ERROR")
        assert error["details"]["fields"] == ["cursor"], cursor
    good = _b64(b'{"k":0,"o":"asc"}')
    resp = live.client.get(f"{P}/personas", params={"cursor": good}, headers=live.auth())
    assert resp.status_code == 200 and len(resp.json()["data"]) == 1


# --- races (item 8) ----------------------------------------------------------


def _together(live: Live, n: int, call: Callable[[httpx.Client], httpx.Response]) -> list[int]:
    """Run ``call`` from ``n`` threads released at once; their status codes, sorted."""
    start = threading.Barrier(n)

    def one(_: int) -> tuple[int, dict[str, Any] | None]:
        with httpx.Client(base_url=live.base_url, headers=live.auth(), timeout=60) as client:
            start.wait()
            resp = call(client)
            return resp.status_code, resp.json() if resp.content else None

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    for status, body in results:
        if status >= 400:
            assert body is not None and body["error"]["code"] in (
                "PERSONA_NOT_PUBLISHED",
                "PERSONA_NOT_FOUND",
            ), body
    return sorted(status for status, _ in results)


def _model_slugs(live: Live) -> list[str]:
    models = live.client.get("/v1/models", headers=live.auth()).json()["data"]
    return [m["slug"] for m in models if m["slug"].startswith("tenant/acme/")]


@pytest.mark.slow  # many concurrent requests, several seconds
def test_concurrent_publish_unpublish_and_delete_have_one_winner(live: Live) -> None:
    pid = create(live, name="Racer")["id"]
    n = 20
    statuses = _together(live, n, lambda c: c.post(f"{P}/personas/{pid}/publish"))
    assert statuses == [200] * n  # publish is idempotent
    assert _model_slugs(live) == ["tenant/acme/racer"]

    statuses = _together(live, n, lambda c: c.post(f"{P}/personas/{pid}/unpublish"))
    assert statuses == [200] + [409] * (n - 1)
    assert _model_slugs(live) == []
    assert personas(live)[0]["published"] is False

    live.client.post(f"{P}/personas/{pid}/publish", headers=live.auth())
    statuses = _together(live, n, lambda c: c.delete(f"{P}/personas/{pid}"))
    assert statuses == [204] + [404] * (n - 1)
    assert personas(live) == [] and _model_slugs(live) == []


def test_concurrent_first_avatar_uploads_all_succeed(live: Live) -> None:
    pid = create(live, name="Pictured")["id"]
    png = PNG

    def upload(client: httpx.Client) -> httpx.Response:
        return client.post(
            f"{P}/personas/{pid}/avatar", files={"file": ("a.png", png, "image/png")}
        )

    assert _together(live, 10, upload) == [200] * 10
    assert live.client.get(f"{P}/personas/{pid}/avatar").content == png


# --- errors and the OpenAPI document (item 9) -----------------------------


def test_a_body_with_thousands_of_bad_fields_gets_a_short_answer(live: Live) -> None:
    fields = {f"unknown_{i}": 1 for i in range(5000)}
    body = {"name": "x", "model_slug": "scaigrid/gpt-4o", "k" * 100_000: 1, **fields}
    resp = live.client.post(f"{P}/personas", json=body, headers=live.auth())
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert len(error["details"]["errors"]) == 50 and error["details"]["more_errors"] == 4951
    assert len(resp.content) < 20_000
    assert personas(live) == []


def test_bodies_that_cannot_be_parsed_are_validation_errors(live: Live) -> None:
    pid = create(live)["id"]
    deep = "[" * 100_000 + "]" * 100_000
    for raw in (deep, '{"name": ' + deep + "}"):
        error = assert_error(post_raw(live, f"{P}/personas", raw), 400, "VALIDATION_ERROR")
        assert error["details"]["fields"] == ["body"]
    url = f"{P}/personas/{pid}/avatar"
    for content_type, body in [
        ("multipart/form-data", b"--x\r\nbroken"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n"),
        ("multipart/form-data; boundary=x", b"--x\r\nbroken"),
    ]:
        resp = live.client.post(
            url, content=body, headers={**live.auth(), "Content-Type": content_type}
        )
        assert_error(resp, 400, "VALIDATION_ERROR")
    assert live.client.get(url).json()["error"]["code"] == "NO_AVATAR"


def test_openapi_promises_only_what_the_server_answers(live: Live) -> None:
    doc = live.client.get("/openapi.json").json()
    assert "422" not in json.dumps(doc)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            responses = op["responses"]
            takes_body = "requestBody" in op
            has_query = any(p["in"] == "query" for p in op.get("parameters", []))
            assert ("400" in responses) == (takes_body or has_query), where
            assert ("401" in responses) == bool(op.get("security")), where
            json_body = "application/json" in op.get("requestBody", {}).get("content", {})
            assert ("413" in responses) == json_body, where
    for path in (f"{P}/personas/{{persona_id}}", "/v1/models/{model_slug}"):
        assert "404" in doc["paths"][path]["get"]["responses"], path
    avatar = doc["paths"][f"{P}/personas/{{persona_id}}/avatar"]
    assert "security" not in avatar["get"] and "security" in avatar["post"]


def test_405_allow_names_every_method_the_document_lists(live: Live) -> None:
    doc = live.client.get("/openapi.json").json()
    checked = 0
    for path, item in doc["paths"].items():
        served = {m.upper() for m in item}
        url = path.replace("{persona_id}", "per_x").replace("{source_id}", "src_x")
        url = url.replace("{model_slug}", "scaigrid/gpt-4o").replace("{model_id}", "scaigrid/x")
        for method in sorted({"GET", "POST", "PUT", "DELETE", "PATCH"} - served):
            resp = live.client.request(method, url, headers=live.auth())
            if path.startswith("/oai/"):  # OpenAI's error object there
                assert resp.status_code == 405, (method, path)
                assert resp.json()["error"]["code"] == "method_not_allowed"
            else:
                assert_error(resp, 405, "METHOD_NOT_ALLOWED")
            assert set(resp.headers["allow"].split(", ")) == served, (method, path)
            checked += 1
    assert checked >= 20


def test_one_bad_stored_model_does_not_poison_the_model_listing(live: Live) -> None:
    pid = create(live, name="Modelled")["id"]
    model_id = live.client.post(f"{P}/personas/{pid}/publish", headers=live.auth()).json()["data"][
        "published_model_id"
    ]
    _poison(live, "frontend_models", "metadata", '{"a": "\\udc00", "d": ' + DEEP + "}", model_id)
    resp = live.client.get("/v1/models", headers=live.auth())
    assert resp.status_code == 200, resp.text
    [model] = [m for m in resp.json()["data"] if m["id"] == model_id]
    assert model["metadata"]["a"] == "\ufffd"
    one = live.client.get("/v1/models/tenant/acme/modelled", headers=live.auth())
    assert one.status_code == 200 and one.json()["data"]["metadata"] == model["metadata"]
