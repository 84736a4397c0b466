"""``/oai/v1`` through the official ``openai`` SDK, against a real loopback server: models,
plain and streamed chat with the persona enricher, and errors as the SDK's own types."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from personas_as_code.catalogue.backends import configure_backend
from personas_as_code.catalogue.embedded import EmbeddedCatalogue

from tests.catalogue.oai_kit import (
    MODEL,
    PROMPT,
    QUESTION,
    OaiServer,
    oai_server,
    publish_helper,
    set_status_messages,
)
from tests.inference.upstream import serve_upstream


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OaiServer]:
    """One server for the tests that change nothing."""
    with oai_server(f"sqlite:///{tmp_path_factory.mktemp('oai') / 'c.db'}") as running:
        yield running


@pytest.fixture
def own_server(sqlite_url: str) -> Iterator[OaiServer]:
    """A server for a test that changes the catalogue."""
    with oai_server(sqlite_url) as running:
        yield running


def client(server: OaiServer, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key or server.key, max_retries=0)


def ask(text: str = QUESTION) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


def test_models_list_and_retrieve_use_the_slug_as_id(server: OaiServer) -> None:
    sdk = client(server)
    ids = [m.id for m in sdk.models.list()]
    assert MODEL in ids and "scaigrid/gpt-4o" in ids
    model = sdk.models.retrieve(MODEL)
    assert (model.id, model.object, model.owned_by) == (MODEL, "model", "acme")
    assert model.created > 1_700_000_000
    assert sdk.models.retrieve("scaigrid/gpt-4o").owned_by == "system"


def test_models_are_seen_as_on_v1_models(own_server: OaiServer) -> None:
    server = own_server
    publish_helper(server.live.engine, "globex")
    mine = {m.id for m in client(server).models.list()}
    theirs = {m.id for m in client(server, server.other_key).models.list()}
    assert MODEL in mine and "tenant/globex/helper" not in mine
    assert "tenant/globex/helper" in theirs and MODEL not in theirs
    listed = server.live.client.get("/v1/models?limit=200", headers=server.live.auth()).json()
    assert mine == {m["slug"] for m in listed["data"]}
    with pytest.raises(openai.NotFoundError) as caught:
        client(server).models.retrieve("tenant/globex/helper")
    assert caught.value.code == "model_not_found"


def test_a_plain_answer_runs_the_persona_enricher(server: OaiServer) -> None:
    answer = client(server).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        user="end-user-7",
        n=1,
        max_completion_tokens=50,
        seed=3,
        response_format={"type": "text"},
    )
    assert answer.object == "chat.completion" and answer.model == MODEL
    assert answer.id.startswith("chatcmpl-")
    choice = answer.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    text = choice.message.content or ""
    # the mirror shows what the enricher sent: prompt, retrieved context, question, params
    assert "--- message 1 (system) ---\n" + PROMPT in text
    assert "Answer from this context:\n[1] collection:col_help" in text
    assert "valid for 30 minutes" in text and QUESTION in text
    assert '"max_tokens": 50' in text and '"seed": 3' in text
    assert answer.usage is not None
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.usage.total_tokens > 0


def test_a_stream_has_openai_chunks_status_and_usage_last(server: OaiServer) -> None:
    stream = client(server).chat.completions.create(
        model=MODEL, messages=ask(), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert PROMPT in text and "valid for 30 minutes" in text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    extras = [c.model_extra or {} for c in chunks]
    statuses = [extra["status"] for extra in extras if "status" in extra]
    assert [s["key"] for s in statuses] == ["searching", "reading", "answering"]


def test_a_stream_without_include_usage_has_no_usage_chunk(server: OaiServer) -> None:
    chunks = list(
        client(server).chat.completions.create(model="scaigrid/gpt-4o", messages=ask(), stream=True)
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None and c.choices for c in chunks)  # a plain model: no status


def test_errors_are_the_sdk_s_own(own_server: OaiServer) -> None:
    server = own_server
    with pytest.raises(openai.AuthenticationError) as auth:
        client(server, "sk-wrong").chat.completions.create(model=MODEL, messages=ask())
    assert auth.value.status_code == 401 and auth.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client(server, "sk-wrong").models.list()
    with pytest.raises(openai.NotFoundError) as missing:
        client(server).chat.completions.create(model="tenant/acme/nobody", messages=ask())
    assert missing.value.code == "model_not_found" and missing.value.param == "model"
    assert "tenant/acme/nobody" in missing.value.message
    with pytest.raises(openai.NotFoundError):
        client(server).chat.completions.create(
            model="tenant/acme/nobody", messages=ask(), stream=True
        )
    cat = EmbeddedCatalogue(server.live.engine, "acme")
    persona = next(p for p in cat.iter_personas() if p.slug == "helper")
    cat.unpublish_persona(persona.id)
    with pytest.raises(openai.NotFoundError):
        client(server).chat.completions.create(model=MODEL, messages=ask())


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"max_tokens": 10, "max_completion_tokens": 20}, "max_completion_tokens"),
    ],
    ids=["n", "tools", "logprobs", "json-mode", "tool-choice", "two-limits"],
)
def test_what_cannot_be_honoured_is_a_bad_request(
    server: OaiServer, extra: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).chat.completions.create(model=MODEL, messages=ask(), **extra)  # type: ignore[call-overload]
    error = caught.value
    assert error.status_code == 400 and error.param == param
    assert error.code == "unsupported_parameter"
    assert error.body == {
        "message": error.message.removeprefix("Error code: 400 - "),
        "type": "invalid_request_error",
        "param": param,
        "code": "unsupported_parameter",
    } or isinstance(error.body, dict)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x"}}],
                    }
                ]
            },
            "messages.0.content.0",
        ),
        (
            {"messages": [{"role": "tool", "content": "x", "tool_call_id": "c1"}]},
            "messages.0.tool_call_id",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "frobnicate": 1}, "frobnicate"),
        (
            {"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]},
            "stop",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}] * 101}]},
            "messages.0.content",
        ),
    ],
    ids=["image-part", "tool-message", "unknown-field", "five-stops", "too-many-parts"],
)
def test_refusals_are_openai_error_objects(
    server: OaiServer, body: dict[str, object], param: str
) -> None:
    resp = httpx.post(
        server.base_url + "/chat/completions",
        json={"model": MODEL, **body},
        headers={"Authorization": f"Bearer {server.key}"},
    )
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"].startswith(param), error


def test_a_missing_key_and_an_unknown_route_are_openai_errors(server: OaiServer) -> None:
    resp = httpx.post(server.base_url + "/chat/completions", json={"model": MODEL})
    assert resp.status_code == 401
    assert resp.json() == {
        "error": {
            "message": resp.json()["error"]["message"],
            "type": "authentication_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    gone = httpx.get(
        server.base_url + "/embeddings", headers={"Authorization": f"Bearer {server.key}"}
    )
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "unknown_url"
    # the rest of the API keeps its own envelope
    plain = httpx.get(server.live.base_url + "/v1/models")
    assert plain.status_code == 401 and plain.json()["error"]["code"] == "UNAUTHORIZED"


def test_the_readme_example_runs(server: OaiServer) -> None:
    """The five-line ``openai`` example of the README, against this server."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Any OpenAI client", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in code.splitlines() if line.strip()]) == 5
    code = code.replace("http://127.0.0.1:8700", server.live.base_url)
    code = code.replace("<catalogue API key>", server.key).replace(
        "tenant/acme/support-agent", MODEL
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert PROMPT in done.stdout and "Can I get a refund?" in done.stdout


def test_an_upstream_failing_its_stream_is_an_sdk_error(own_server: OaiServer) -> None:
    with serve_upstream() as upstream:
        settings = {"provider": "openai", "base_url": upstream.base_url, "model": "broken-stream"}
        configure_backend(own_server.live.engine, "openai/gpt-4o", settings, managed_by="tests")
        sdk = client(own_server)
        set_status_messages(own_server.live.engine, "none", None)
        with pytest.raises(openai.InternalServerError) as caught:  # before the first piece
            list(sdk.chat.completions.create(model=MODEL, messages=ask(), stream=True))
        assert caught.value.status_code == 502
        body = caught.value.body
        assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
        assert body["code"] == "backend_bad_response" and body["type"] == "server_error"
        # with status messages the stream has begun: the failure is its error event
        set_status_messages(own_server.live.engine, "standard", None)
        with pytest.raises(openai.APIError) as in_stream:
            list(sdk.chat.completions.create(model=MODEL, messages=ask(), stream=True))
    assert not isinstance(in_stream.value, openai.APIStatusError)
    body = in_stream.value.body
    assert isinstance(body, dict) and body["code"] == "backend_bad_response"
