"""``generate-image`` both ways: a deterministic local portrait, and a real
OpenAI-compatible image server on loopback configured as the project's endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from personas_as_code.catalogue import simulated_user_images as images
from personas_as_code.catalogue.identity import caller_for_tenant
from personas_as_code.catalogue.simulated_user_service import set_project_image_settings
from personas_as_code.loader.avatar import check_avatar, svg_problems
from personas_as_code.schemas.simulated_user_config import ImageSettings
from sqlalchemy.orm import Session

from tests.catalogue.conftest import Live, serve_live
from tests.catalogue.image_server import ImageServer, image_server

BASE = "/api/projects/demo/personas"
KEY_ENV = "PERSONAS_TEST_IMAGE_KEY"


def test_the_local_portrait_is_deterministic_and_passes_the_avatar_checks() -> None:
    one = images.local_portrait("impatient-user", "You are an impatient user.")
    assert one == images.local_portrait("impatient-user", "You are an impatient user.")
    assert check_avatar(one.data, one.content_type) == "image/svg+xml"
    assert one.data.startswith(b"<svg") and b"<circle" in one.data and b">IU</text>" in one.data
    other = images.local_portrait("impatient-user", "You are a patient user.")
    assert other.data != one.data  # the prompt is part of the picture


@pytest.mark.parametrize(
    "name",
    ["<script>alert(1)</script>", "]]> & <!-- x", "Zoë\u202e\u0000", "😀", "", "a" * 300],
)
def test_any_name_gives_a_safe_svg(name: str) -> None:
    portrait = images.local_portrait(name, "A user who <b>shouts</b> & ]]> quits.")
    assert svg_problems(portrait.data) == []
    check_avatar(portrait.data, "image/svg+xml")


def test_the_prompt_sets_the_mood() -> None:
    assert images.mood_of("You are an impatient user") == "impatient"
    assert images.mood_of("A first-time user, confused by the jargon") == "confused"
    assert images.mood_of("A friendly regular") == "happy"
    assert images.mood_of("A user") == "neutral"
    assert images.initials("confused beginner") == "CB" and images.initials("!!") == "?"


@pytest.fixture
def upstream() -> Iterator[ImageServer]:
    with image_server() as server:
        yield server


def _configure(live: Live, settings: ImageSettings | None, project: str = "demo") -> None:
    with Session(live.engine) as session:
        caller = caller_for_tenant(session, "acme")
        set_project_image_settings(session, caller, project, settings, managed_by=None)


def _persona(live: Live) -> dict:
    body = {"name": "impatient-user", "systemPrompt": "You are an impatient user."}
    return live.client.post(BASE, json=body, headers=live.auth()).json()


@pytest.fixture
def live(sqlite_url: str) -> Iterator[Live]:
    with serve_live(sqlite_url) as server:
        yield server


def test_a_configured_endpoint_is_asked_and_its_png_stored(
    live: Live, upstream: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-image-key")
    _configure(
        live, ImageSettings(base_url=upstream.base_url, model="dall-e-3", api_key_env=KEY_ENV)
    )
    persona = _persona(live)
    answer = live.client.post(f"{BASE}/{persona['id']}/generate-image", headers=live.auth())
    assert answer.status_code == 200, answer.text
    image_id = answer.json()["imageUrl"]
    assert image_id.endswith(".png")
    served = live.client.get(f"/api/projects/demo/images/{image_id}", headers=live.auth())
    assert served.headers["content-type"] == "image/png"
    assert served.content.startswith(b"\x89PNG") and check_avatar(served.content, "image/png")

    (headers, body) = upstream.calls[0]
    assert headers["authorization"] == "Bearer sk-image-key"
    assert body["model"] == "dall-e-3" and body["n"] == 1 and body["size"] == "1024x1024"
    assert body["response_format"] == "b64_json"
    assert "impatient-user" in body["prompt"] and "impatient user" in body["prompt"]
    assert len(body["prompt"]) <= images.MAX_IMAGE_PROMPT_CHARS


def test_gpt_image_models_are_not_sent_a_response_format(live: Live, upstream: ImageServer) -> None:
    _configure(live, ImageSettings(base_url=upstream.base_url, model="gpt-image-1"))
    persona = _persona(live)
    assert live.client.post(
        f"{BASE}/{persona['id']}/generate-image", headers=live.auth()
    ).is_success
    (headers, body) = upstream.calls[0]
    assert "response_format" not in body and "authorization" not in headers


@pytest.mark.parametrize(
    ("model", "status", "code", "says"),
    [
        ("url-only", 502, "IMAGE_GENERATION_FAILED", "without b64_json"),
        ("not-an-image", 502, "IMAGE_GENERATION_FAILED", "not a PNG"),
        ("down", 502, "IMAGE_GENERATION_FAILED", "HTTP 500"),
        ("slow", 502, "IMAGE_GENERATION_FAILED", "did not answer within"),
    ],
)
def test_a_failing_endpoint_is_a_clear_error_and_nothing_is_stored(
    live: Live, upstream: ImageServer, model: str, status: int, code: str, says: str
) -> None:
    _configure(live, ImageSettings(base_url=upstream.base_url, model=model, timeout_seconds=0.5))
    persona = _persona(live)
    answer = live.client.post(f"{BASE}/{persona['id']}/generate-image", headers=live.auth())
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code and says in answer.json()["error"]["message"]
    assert "imageUrl" not in live.client.get(f"{BASE}/{persona['id']}", headers=live.auth()).json()


def test_a_missing_key_variable_is_400(
    live: Live, upstream: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    _configure(live, ImageSettings(base_url=upstream.base_url, api_key_env=KEY_ENV))
    persona = _persona(live)
    answer = live.client.post(f"{BASE}/{persona['id']}/generate-image", headers=live.auth())
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "IMAGE_PROVIDER_NOT_CONFIGURED"
    assert KEY_ENV in answer.json()["error"]["message"]
    assert upstream.calls == []


def test_settings_are_per_project(live: Live, upstream: ImageServer) -> None:
    _configure(live, ImageSettings(base_url=upstream.base_url), project="elsewhere")
    persona = _persona(live)
    answer = live.client.post(f"{BASE}/{persona['id']}/generate-image", headers=live.auth())
    assert answer.json()["imageUrl"].endswith(".svg") and upstream.calls == []
