"""The test-personas API (seed ``reference/test-personas-api.txt``) over real loopback
HTTP, on SQLite and PostgreSQL: its routes, camelCase fields, statuses and error cases."""

from __future__ import annotations

import re
import threading
from typing import Any

import httpx
import pytest
from personas_as_code.loader.avatar import check_avatar

from tests.catalogue.conftest import Live, make_key

BASE = "/api/projects/demo/personas"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
IMPATIENT = {
    "name": "impatient-user",
    "description": "A user who wants quick answers",
    "systemPrompt": "You are an impatient user who values brevity and expects quick answers.",
    "headers": {"X-User-Language": "en"},
}


def create(live: Live, body: dict[str, Any], path: str = BASE) -> httpx.Response:
    return live.client.post(path, json=body, headers=live.auth())


def test_create_list_get_update_delete_in_the_seed_shape(live: Live) -> None:
    created = create(live, IMPATIENT)
    assert created.status_code == 201
    persona = created.json()
    assert {k: persona[k] for k in IMPATIENT} == IMPATIENT
    assert TIMESTAMP.match(persona["createdAt"]) and TIMESTAMP.match(persona["updatedAt"])
    assert "imageUrl" not in persona  # absent optional fields are omitted, as in the seed

    listed = live.client.get(BASE, headers=live.auth())
    assert listed.status_code == 200 and listed.json() == [persona]  # a bare array
    got = live.client.get(f"{BASE}/{persona['id']}", headers=live.auth())
    assert got.status_code == 200 and got.json() == persona

    new_prompt = "You are a technical user who expects detailed, accurate responses."
    updated = live.client.put(
        f"{BASE}/{persona['id']}", json={"systemPrompt": new_prompt}, headers=live.auth()
    )
    assert updated.status_code == 200
    body = updated.json()
    assert body["systemPrompt"] == new_prompt
    assert body["name"] == IMPATIENT["name"] and body["headers"] == IMPATIENT["headers"]
    assert body["createdAt"] == persona["createdAt"] and body["updatedAt"] >= persona["updatedAt"]

    deleted = live.client.delete(f"{BASE}/{persona['id']}", headers=live.auth())
    assert deleted.status_code == 204 and deleted.content == b""
    assert live.client.get(BASE, headers=live.auth()).json() == []


@pytest.mark.parametrize("body", [{}, {"description": "no name"}, {"name": ""}, {"name": "  "}])
def test_create_without_a_name_is_400_name_is_required(live: Live, body: dict) -> None:
    answer = create(live, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "VALIDATION_ERROR",
        "message": "Name is required",
        "details": {"fields": ["name"]},
    }
    assert live.client.get(BASE, headers=live.auth()).json() == []


def test_unknown_ids_are_404_persona_not_found(live: Live) -> None:
    for method in ("GET", "PUT", "DELETE"):
        kwargs = {"json": {"name": "x"}} if method == "PUT" else {}
        answer = live.client.request(method, f"{BASE}/nope", headers=live.auth(), **kwargs)
        assert answer.status_code == 404, method
        assert answer.json()["error"]["code"] == "TEST_PERSONA_NOT_FOUND"
        assert answer.json()["error"]["message"] == "Persona not found"
    generate = live.client.post(f"{BASE}/nope/generate-image", headers=live.auth())
    assert generate.status_code == 404


def test_a_duplicate_name_is_409_on_create_and_on_rename(live: Live) -> None:
    first = create(live, IMPATIENT).json()
    again = create(live, {"name": IMPATIENT["name"]})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "TEST_PERSONA_NAME_CONFLICT"
    assert again.json()["error"]["message"] == "Persona with name already exists"

    other = create(live, {"name": "confused-beginner"}).json()
    renamed = live.client.put(
        f"{BASE}/{other['id']}", json={"name": first["name"]}, headers=live.auth()
    )
    assert renamed.status_code == 409
    names = sorted(p["name"] for p in live.client.get(BASE, headers=live.auth()).json())
    assert names == ["confused-beginner", "impatient-user"]
    # a name is unique per project, not per server
    assert (
        create(live, {"name": IMPATIENT["name"]}, "/api/projects/other/personas").status_code == 201
    )


def test_concurrent_creates_of_one_name_one_201_the_rest_409(live: Live) -> None:
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def attempt() -> None:
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            barrier.wait()
            status = client.post(BASE, json={"name": "racer"}, headers=live.auth()).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 7
    assert [p["name"] for p in live.client.get(BASE, headers=live.auth()).json()] == ["racer"]


def test_projects_belong_to_the_keys_tenant(live: Live) -> None:
    mine = create(live, IMPATIENT).json()
    other_key = make_key(live.engine, "globex")
    other = {"Authorization": f"Bearer {other_key}"}
    assert live.client.get(BASE, headers=other).json() == []
    assert live.client.get(f"{BASE}/{mine['id']}", headers=other).status_code == 404
    assert live.client.delete(f"{BASE}/{mine['id']}", headers=other).status_code == 404
    # the same project name in another tenant is another project
    assert create(live, IMPATIENT, BASE).status_code == 409
    taken = live.client.post(BASE, json=IMPATIENT, headers=other)
    assert taken.status_code == 201


def test_auth_comes_before_the_body(live: Live) -> None:
    assert live.client.get(BASE).status_code == 401
    answer = live.client.post(BASE, content=b"{" * 10_000, headers={"Content-Type": "x"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "headers": {"Authorization": "Bearer abc"}}, "headers.Authorization"),
        ({"name": "x", "headers": {"Cookie": "a=b"}}, "headers.Cookie"),
        ({"name": "x", "headers": {"Content-Length": "1"}}, "headers.Content-Length"),
        ({"name": "x", "headers": {"Bad Name": "v"}}, "headers.Bad Name"),
        ({"name": "x", "headers": {"X-A": "line\r\nInjected: 1"}}, "headers.X-A"),
        ({"name": "x", "headers": {f"X-{i}": "v" for i in range(33)}}, "headers"),
        ({"name": "x", "unknownField": 1}, "unknownField"),
        ({"name": "x" * 201}, "name"),
        ({"name": "x", "systemPrompt": "a\x00b"}, "systemPrompt"),
        (None, "metadata"),  # {"metadata": {"deep": NaN}}: not strict JSON
    ],
)
def test_bad_bodies_are_400_naming_the_field_and_store_nothing(
    live: Live, body: dict | None, field: str
) -> None:
    if body is None:  # NaN cannot be sent by a JSON encoder: send the bytes
        answer = live.client.post(
            BASE,
            content=b'{"name": "x", "metadata": {"deep": NaN}}',
            headers={**live.auth(), "Content-Type": "application/json"},
        )
    else:
        answer = create(live, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert any(f.startswith(field) for f in error["details"]["fields"]), error
    assert live.client.get(BASE, headers=live.auth()).json() == []


def test_a_bad_project_name_is_400(live: Live) -> None:
    answer = live.client.get("/api/projects/..%2Fetc/personas", headers=live.auth())
    assert answer.status_code in (400, 404)
    assert live.client.get("/api/projects/a%20b/personas", headers=live.auth()).status_code == 400


def test_metadata_is_kept_and_put_ignores_nulls(live: Live) -> None:
    persona = create(live, {**IMPATIENT, "metadata": {"owner": {"team": "qa"}}}).json()
    assert persona["metadata"] == {"owner": {"team": "qa"}}
    updated = live.client.put(
        f"{BASE}/{persona['id']}",
        json={"description": None, "systemPrompt": None, "headers": None},
        headers=live.auth(),
    ).json()
    assert updated["description"] == IMPATIENT["description"]
    assert updated["systemPrompt"] == IMPATIENT["systemPrompt"]
    assert updated["metadata"] == {"owner": {"team": "qa"}}


def test_generate_image_draws_a_portrait_stores_it_and_serves_it(live: Live) -> None:
    persona = create(live, IMPATIENT).json()
    first = live.client.post(f"{BASE}/{persona['id']}/generate-image", headers=live.auth())
    assert first.status_code == 200
    body = first.json()
    assert body["id"] == persona["id"] and body["imageUrl"].endswith(".svg")
    image = live.client.get(f"/api/projects/demo/images/{body['imageUrl']}", headers=live.auth())
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/svg+xml"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert check_avatar(image.content, "image/svg+xml") == "image/svg+xml"
    assert live.client.get(BASE, headers=live.auth()).json()[0]["imageUrl"] == body["imageUrl"]

    # the same persona gets the same picture; the old image is dropped
    second = live.client.post(f"{BASE}/{persona['id']}/generate-image", headers=live.auth())
    again = live.client.get(
        f"/api/projects/demo/images/{second.json()['imageUrl']}", headers=live.auth()
    )
    assert again.content == image.content
    gone = live.client.get(f"/api/projects/demo/images/{body['imageUrl']}", headers=live.auth())
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "IMAGE_NOT_FOUND"
    # images are the project's: another project cannot read them
    other = live.client.get(
        f"/api/projects/other/images/{second.json()['imageUrl']}", headers=live.auth()
    )
    assert other.status_code == 404


def test_generate_image_without_a_system_prompt_is_400(live: Live) -> None:
    persona = create(live, {"name": "silent"}).json()
    answer = live.client.post(f"{BASE}/{persona['id']}/generate-image", headers=live.auth())
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Persona has no system prompt"


def test_put_image_url_must_name_a_stored_image_of_the_project(live: Live) -> None:
    a = create(live, IMPATIENT).json()
    b = create(live, {"name": "twin", "systemPrompt": "You are a twin."}).json()
    refused = live.client.put(f"{BASE}/{b['id']}", json={"imageUrl": "x.png"}, headers=live.auth())
    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["fields"] == ["imageUrl"]
    image_id = live.client.post(f"{BASE}/{a['id']}/generate-image", headers=live.auth()).json()[
        "imageUrl"
    ]
    shared = live.client.put(f"{BASE}/{b['id']}", json={"imageUrl": image_id}, headers=live.auth())
    assert shared.status_code == 200 and shared.json()["imageUrl"] == image_id
    # deleting one user of the image keeps it for the other
    assert live.client.delete(f"{BASE}/{a['id']}", headers=live.auth()).status_code == 204
    kept = live.client.get(f"/api/projects/demo/images/{image_id}", headers=live.auth())
    assert kept.status_code == 200


def test_the_openapi_document_lists_the_routes(live: Live) -> None:
    paths = live.client.get("/openapi.json").json()["paths"]
    personas = paths["/api/projects/{project}/personas"]
    assert set(personas) == {"get", "post"}
    assert "409" in personas["post"]["responses"] and "401" in personas["post"]["responses"]
    one = paths["/api/projects/{project}/personas/{persona_id}"]
    assert set(one) == {"get", "put", "delete"}
    assert "/api/projects/{project}/personas/{persona_id}/generate-image" in paths
