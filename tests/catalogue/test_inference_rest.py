"""``POST /v1/inference/chat`` over real loopback HTTP: the persona enricher with a real
knowledge index, the ``mirror`` backend, and the ``openai`` backend against a real
OpenAI-compatible server (``tests.inference.upstream``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from personas_as_code.catalogue.api import PersonaCreate, SourceCreate, SourceUpdate
from personas_as_code.catalogue.backends import configure_backend
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from sqlalchemy import Engine

from tests.catalogue.conftest import Live, make_key, serve_live
from tests.catalogue.rawhttp import chunked, endless, exchange, head
from tests.inference.kb import HELP_DOCS, SECRET_DOCS, index_docs
from tests.inference.upstream import Upstream, serve_upstream

CHAT = "/v1/inference/chat"
QUESTION = "How do I reset my password?"
PROMPT = "You are the Acme helper. Cite the document you used."


def publish_helper(engine: Engine, tenant: str = "acme", *, rag: bool = True) -> str:
    """Publish persona ``helper`` (knowledge indexed) for ``tenant``; its model slug."""
    cat = EmbeddedCatalogue(engine, tenant)
    persona = cat.create_persona(
        PersonaCreate(
            name="Helper",
            slug="helper",
            model_slug="scaigrid/gpt-4o",
            system_prompt=PROMPT,
            rag_enabled=rag,
            rag_top_k=2,
            rag_context_template="Answer from this context:\n$context",
            default_params={"temperature": 0.3, "max_tokens": 800},
        )
    )
    cat.add_source(persona.id, SourceCreate(source_type="collection", source_id="col_help"))
    secret = cat.add_source(
        persona.id, SourceCreate(source_type="collection", source_id="col_secret", weight=10)
    )
    cat.update_source(persona.id, secret.id, SourceUpdate(status="disabled"))
    cat.publish_persona(persona.id)
    index_docs(engine, cat.caller.tenant_id, {"col_help": HELP_DOCS, "col_secret": SECRET_DOCS})
    return f"tenant/{tenant}/helper"


def ask(live: Live, model: str, **body: Any) -> Any:
    payload = {"model": model, "messages": [{"role": "user", "content": QUESTION}], **body}
    return live.client.post(CHAT, json=payload, headers=live.auth())


def sse(text: str) -> list[Any]:
    """The ``data:`` payloads of a server-sent event stream (``[DONE]`` as a string)."""
    events = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            payload = block[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with serve_upstream() as server:
        yield server


def point(live: Live, upstream: Upstream, model: str, **settings: Any) -> None:
    """Configure backend ``openai/gpt-4o`` to call the test upstream with ``model``."""
    configure_backend(
        live.engine,
        "openai/gpt-4o",
        {"provider": "openai", "base_url": upstream.base_url, "model": model, **settings},
        managed_by="tests",
    )


# --- the persona enricher on the mirror ------------------------------------------------


def test_a_published_persona_answers_with_its_prompt_and_knowledge(live: Live) -> None:
    model = publish_helper(live.engine)
    resp = ask(live, model, temperature=0.9)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["model"] == model and data["id"].startswith("chatcmpl-")
    choice = data["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    # the mirror shows what the enricher sent: prompt, context, question, merged params
    assert "--- message 1 (system) ---\n" + PROMPT in content
    assert "--- message 2 (system) ---\nAnswer from this context:\n[1] collection:col_help" in (
        content
    )
    assert "valid for 30 minutes" in content
    assert "on-call engineer" not in content  # the disabled source is skipped
    assert "--- message 3 (user) ---\n" + QUESTION in content
    assert '"max_tokens": 800' in content and '"temperature": 0.9' in content
    assert data["retrieval"][0] == {
        "source_type": "collection",
        "source_id": "col_help",
        "document": "knowledge/col_help/password.md",
        "chunk": 0,
        "score": data["retrieval"][0]["score"],
    }
    assert len(data["retrieval"]) == 2  # rag_top_k
    assert data["backend"]["provider"] == "mirror"
    assert data["backend"]["backend_model"] == "openai/gpt-4o"
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_a_frontend_model_dispatches_directly(live: Live) -> None:
    publish_helper(live.engine)
    data = ask(live, "scaigrid/gpt-4o").json()["data"]
    content = data["choices"][0]["message"]["content"]
    assert "messages: 1\n" in content and PROMPT not in content
    assert data["retrieval"] == [] and data["model"] == "scaigrid/gpt-4o"


def test_streaming_sends_provenance_first_and_done_last(live: Live) -> None:
    model = publish_helper(live.engine)
    with live.client.stream(
        "POST",
        CHAT,
        json={"model": model, "stream": True, "messages": [{"role": "user", "content": QUESTION}]},
        headers=live.auth(),
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = sse(resp.read().decode())
    assert events[-1] == "[DONE]"
    # status_messages_mode standard: the persona's progress first, in chunks without text
    assert [e["status"]["key"] for e in events[:3]] == ["searching", "reading", "answering"]
    first, *middle, last = events[3:-1]
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["retrieval"][0]["document"] == "knowledge/col_help/password.md"
    assert first["backend"]["provider"] == "mirror"
    assert not any("status" in e for e in middle)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in middle)
    assert PROMPT in text and "valid for 30 minutes" in text
    assert last["choices"][0]["finish_reason"] == "stop" and last["usage"]["total_tokens"] > 0


# --- model resolution and validation ------------------------------------------------------


def test_unknown_unpublished_and_foreign_models_are_404(live: Live) -> None:
    model = publish_helper(live.engine)
    make_key(live.engine, "globex")
    publish_helper(live.engine, "globex")
    for slug in ("tenant/acme/nobody", "scaigrid/gpt-5", "tenant/globex/helper"):
        resp = ask(live, slug)
        assert resp.status_code == 404, slug
        error = resp.json()["error"]
        assert error["code"] == "PERSONA_MODEL_NOT_FOUND" and slug in error["message"]
        assert resp.json()["meta"]["request_id"].startswith("req_")
    cat = EmbeddedCatalogue(live.engine, "acme")
    persona = next(p for p in cat.iter_personas() if p.slug == "helper")
    cat.unpublish_persona(persona.id)
    assert ask(live, model).json()["error"]["code"] == "PERSONA_MODEL_NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "scaigrid/gpt-4o", "messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "scaigrid/gpt-4o", "messages": [{"role": "tool", "content": "x"}]}, "role"),
        ({"model": "scaigrid/gpt-4o", "messages": [{"role": "user"}]}, "content"),
        (
            {"model": "scaigrid/gpt-4o", "messages": [{"role": "user", "content": "x" * 300_000}]},
            "content",
        ),
        (
            {"model": "scaigrid/gpt-4o", "messages": [{"role": "user", "content": "a\x00b"}]},
            "content",
        ),
        ({"model": "scaigrid/gpt-4o", "messages": [{"role": "user", "content": "x"}], "n": 3}, "n"),
        (
            {
                "model": "scaigrid/gpt-4o",
                "messages": [{"role": "user", "content": "x"}],
                "top_p": 2,
            },
            "top_p",
        ),
        (
            {
                "model": "scaigrid/gpt-4o",
                "messages": [{"role": "user", "content": "x"}],
                "stop": [f"s{i}" for i in range(100)],
            },
            "stop",
        ),
    ],
    ids=[
        "empty",
        "no-model",
        "role",
        "no-content",
        "huge",
        "nul",
        "unknown-param",
        "range",
        "stop-list",
    ],
)
def test_invalid_requests_are_400(sqlite_url: str, body: dict[str, Any], field: str) -> None:
    with serve_live(sqlite_url) as live:
        resp = live.client.post(CHAT, json=body, headers=live.auth())
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert any(field in f for f in error["details"]["fields"]), error


def test_no_body_byte_is_read_before_authentication(sqlite_url: str) -> None:
    with serve_live(sqlite_url) as live:
        framing = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        resp = exchange(
            live.address,
            head("POST", CHAT, framing),
            chunked(endless(b'{"model": "scaigrid/gpt-4o", "messages": [{"content": "')),
            budget=16 * 1024 * 1024,
        )
        assert resp.status == 401 and resp.json()["error"]["code"] == "UNAUTHORIZED"
        wrong = live.client.post(
            CHAT, json={"model": "scaigrid/gpt-4o"}, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401


# --- the openai backend over loopback ------------------------------------------------------


def test_an_openai_backend_gets_the_enriched_call(sqlite_url: str, upstream: Upstream) -> None:
    with serve_live(sqlite_url) as live:
        model = publish_helper(live.engine)
        point(live, upstream, "echo")
        data = ask(live, model, max_tokens=20).json()["data"]
    assert data["choices"][0]["message"]["content"] == "echo: " + QUESTION
    assert data["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    assert data["backend"] == {
        "provider": "openai",
        "backend_model": "openai/gpt-4o",
        "upstream_model": "echo",
        "base_url": upstream.base_url,
    }
    sent = upstream.calls[0].body
    assert [m["role"] for m in sent["messages"]] == ["system", "system", "user"]
    assert sent["messages"][0]["content"] == PROMPT
    assert "knowledge/col_help/password.md" in sent["messages"][1]["content"]
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 20 and sent["model"] == "echo"


def test_an_openai_backend_streams(sqlite_url: str, upstream: Upstream) -> None:
    with serve_live(sqlite_url) as live:
        model = publish_helper(live.engine)
        point(live, upstream, "echo")
        resp = ask(live, model, stream=True)
    events = [e for e in sse(resp.text) if "status" not in e]  # the answer's own events
    assert events[-1] == "[DONE]"
    assert events[0]["backend"]["upstream_model"] == "echo" and events[0]["retrieval"]
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[1:-1])
    assert text == "echo: " + QUESTION
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert upstream.calls[0].body["stream"] is True


def test_429_with_retry_after_then_success(sqlite_url: str, upstream: Upstream) -> None:
    with serve_live(sqlite_url) as live:
        point(live, upstream, "limited-once")
        resp = ask(live, "scaigrid/gpt-4o")
    assert resp.status_code == 200
    assert resp.json()["data"]["choices"][0]["message"]["content"] == "echo: " + QUESTION
    first, second = upstream.calls
    assert second.at - first.at >= 0.95  # Retry-After: 1 was honoured


@pytest.mark.parametrize(
    ("upstream_model", "settings", "status", "code"),
    [
        ("down", {"max_retries": 1}, 503, "BACKEND_UNAVAILABLE"),
        ("slow", {"timeout_seconds": 0.3}, 504, "BACKEND_TIMEOUT"),
        ("malformed", {}, 502, "BACKEND_BAD_RESPONSE"),
        ("not-json", {}, 502, "BACKEND_BAD_RESPONSE"),
        ("refuse", {}, 502, "BACKEND_ERROR"),
    ],
)
def test_upstream_failures_are_clear_envelope_errors(
    sqlite_url: str,
    upstream: Upstream,
    upstream_model: str,
    settings: dict[str, Any],
    status: int,
    code: str,
) -> None:
    with serve_live(sqlite_url) as live:
        point(live, upstream, upstream_model, **settings)
        for stream in (False, True):
            resp = ask(live, "scaigrid/gpt-4o", stream=stream)
            assert resp.status_code == status, resp.text
            body = resp.json()
            assert body["error"]["code"] == code
            assert "openai/gpt-4o" in body["error"]["message"]
        if upstream_model == "down":  # retried once, as configured, per request
            assert len(upstream.calls) == 4
            assert body["meta"]["request_id"] == resp.headers["x-request-id"]


def test_a_missing_api_key_variable_is_named(sqlite_url: str, upstream: Upstream) -> None:
    with serve_live(sqlite_url) as live:
        point(live, upstream, "echo", api_key_env="PERSONAS_TEST_UNSET_KEY")
        resp = ask(live, "scaigrid/gpt-4o")
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "BACKEND_NOT_CONFIGURED"
    assert "PERSONAS_TEST_UNSET_KEY" in resp.json()["error"]["message"]
    assert upstream.calls == []


def test_a_broken_stream_is_an_error_envelope(sqlite_url: str, upstream: Upstream) -> None:
    with serve_live(sqlite_url) as live:
        point(live, upstream, "broken-stream")
        resp = ask(live, "scaigrid/gpt-4o", stream=True)
    assert resp.status_code == 502
    assert resp.json()["error"]["code"] == "BACKEND_BAD_RESPONSE"


def test_the_api_key_is_sent_and_never_shown(
    sqlite_url: str, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-" + "q" * 40
    monkeypatch.setenv("PERSONAS_TEST_UPSTREAM_KEY", secret)
    with serve_live(sqlite_url) as live:
        point(live, upstream, "echo", api_key_env="PERSONAS_TEST_UPSTREAM_KEY")
        ok = ask(live, "scaigrid/gpt-4o")
        point(live, upstream, "refuse", api_key_env="PERSONAS_TEST_UPSTREAM_KEY")
        refused = ask(live, "scaigrid/gpt-4o")
        model = live.client.get("/v1/models/scaigrid/gpt-4o", headers=live.auth())
    assert upstream.calls[0].headers["authorization"] == f"Bearer {secret}"
    assert ok.status_code == 200 and refused.status_code == 502 and model.status_code == 200
    for resp in (ok, refused, model):
        assert secret not in resp.text


def test_a_refused_model_call_through_a_remote_catalogue_is_sent_once(
    sqlite_url: str, upstream: Upstream
) -> None:
    """The server answered (502 BACKEND_ERROR: its backend refused): a model call is not
    idempotent, so the client reports the backend's error instead of sending it again."""
    from personas_as_code.catalogue.calls import ModelCall
    from personas_as_code.catalogue.client import HttpCatalogue
    from personas_as_code.catalogue.http_transport import RetryPolicy
    from personas_as_code.inference.messages import ChatMessage
    from personas_as_code.schemas.errors import BackendError

    with serve_live(sqlite_url) as live:
        point(live, upstream, "refuse")
        remote = HttpCatalogue(
            live.base_url, live.key, retry=RetryPolicy(max_attempts=5, backoff_base=0.01)
        )
        with pytest.raises(BackendError) as refused:
            remote.call_model(
                ModelCall(model="scaigrid/gpt-4o", messages=[ChatMessage("user", "hi")])
            )
        remote.close()
    assert refused.value.code == "BACKEND_ERROR"
    assert len(upstream.calls) == 1
