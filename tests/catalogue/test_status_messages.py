"""Seed 000's status messages (``status_messages_mode``, ``rag_status_messages``) in the
streams of ``POST /v1/inference/chat`` and ``/oai/v1/chat/completions``: none, the
standard texts, or the persona's templates, as chunks OpenAI clients skip safely."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from personas_as_code.catalogue import chat as chat_module
from personas_as_code.catalogue.backends import configure_backend
from personas_as_code.inference.status_messages import MAX_STATUS_CHARS

from tests.catalogue.oai_kit import (
    MODEL,
    PROMPT,
    QUESTION,
    OaiServer,
    oai_server,
    set_status_messages,
)
from tests.inference.hostile import serve_hostile
from tests.inference.upstream import serve_upstream


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OaiServer]:
    with oai_server(f"sqlite:///{tmp_path_factory.mktemp('oai') / 'c.db'}") as running:
        yield running


def v1_stream(server: OaiServer, model: str = MODEL) -> list[dict[str, Any]]:
    """The JSON events of a ``/v1/inference/chat`` stream."""
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    resp = server.live.client.post("/v1/inference/chat", json=body, headers=server.live.auth())
    assert resp.status_code == 200, resp.text
    blocks = [b.removeprefix("data: ") for b in resp.text.split("\n\n") if b.startswith("data: ")]
    assert blocks[-1] == "[DONE]"
    return [json.loads(b) for b in blocks[:-1]]


def statuses(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["status"] for e in events if "status" in e]


def test_standard_mode_sends_the_built_in_steps(server: OaiServer) -> None:
    set_status_messages(server.live.engine, "standard", None)
    events = v1_stream(server)
    assert statuses(events) == [
        {"key": "searching", "message": "Searching the knowledge base…"},
        {"key": "reading", "message": "Reading 2 documents…", "count": 2},
        {"key": "answering", "message": "Writing the answer…"},
    ]
    # the steps first, as they happen; then the first event of the answer and its text
    status_events, (first, *rest) = events[:3], events[3:]
    assert [e["status"]["key"] for e in status_events] == ["searching", "reading", "answering"]
    assert "retrieval" in first and first["choices"][0]["delta"]["role"] == "assistant"
    assert first["backend"]["backend_model"] and len(first["retrieval"]) == 2
    empty = [{"index": 0, "delta": {}, "finish_reason": None}]  # no text, no end
    assert all(e["choices"] == empty and e["id"] == first["id"] for e in status_events)
    assert all(e["created"] == first["created"] for e in events)
    assert not any("status" in e for e in rest)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in rest)
    assert PROMPT in text


def test_none_mode_sends_nothing(server: OaiServer) -> None:
    set_status_messages(server.live.engine, "none", None)
    assert statuses(v1_stream(server)) == []
    assert statuses(v1_stream(server, "scaigrid/gpt-4o")) == []  # a plain model never does


def test_custom_mode_sends_the_templates_literally_and_bounded(server: OaiServer) -> None:
    templates = {
        "searching": "Looking through {0.__class__} {count",
        "reading": "Reading {count} documents ({count}) $count %s",
        "answering": "A" * 1000,
        "unknown-step": "never sent",
    }
    set_status_messages(server.live.engine, "custom", templates)
    sent = statuses(v1_stream(server))
    assert [s["key"] for s in sent] == ["searching", "reading", "answering"]
    assert sent[0]["message"] == "Looking through {0.__class__} {count"
    assert sent[1]["message"] == "Reading 2 documents (2) $count %s"
    assert len(sent[2]["message"]) == MAX_STATUS_CHARS and sent[2]["message"].endswith("…")
    set_status_messages(server.live.engine, "custom", {"reading": "Got {count}."})
    assert statuses(v1_stream(server)) == [{"key": "reading", "message": "Got 2.", "count": 2}]


def test_openai_clients_get_them_and_ignore_them_safely(server: OaiServer) -> None:
    set_status_messages(
        server.live.engine, "custom", {"searching": "Hunting…", "answering": "Typing…"}
    )
    sdk = openai.OpenAI(base_url=server.base_url, api_key=server.key, max_retries=0)
    chunks = list(
        sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    extra = [c.model_extra["status"] for c in chunks if c.model_extra and "status" in c.model_extra]
    assert extra == [
        {"key": "searching", "message": "Hunting…"},
        {"key": "answering", "message": "Typing…"},
    ]
    # a naive loop over choices[0] of every chunk reads them as chunks without text
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    plain = sdk.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}]
    )
    assert text == plain.choices[0].message.content  # the status chunks add no text
    # the SDK's accumulating helper, whose snapshot starts from the first (status) chunk
    with sdk.chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}]
    ) as helper:
        final = helper.get_final_completion()
    message = final.choices[0].message
    assert message.role == "assistant" and message.content == text


# --- live: each step is sent when it happens ------------------------------------------------

WAIT = 5.0
"""How long a client waits for an event (the old code sent none before the first token)."""


@pytest.fixture
def own_server(sqlite_url: str) -> Iterator[OaiServer]:
    """A server of its own: these tests repoint ``helper``'s backend."""
    with oai_server(sqlite_url) as running:
        yield running


def point(server: OaiServer, base_url: str, model: str = "m") -> None:
    """``helper``'s backend (``openai/gpt-4o``) is the upstream at ``base_url``."""
    settings = {"provider": "openai", "base_url": base_url, "model": model, "max_retries": 0}
    configure_backend(
        server.live.engine, "openai/gpt-4o", {**settings, "timeout_seconds": 20}, managed_by="t"
    )


def v1_events_as_they_come(
    server: OaiServer, on_event: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    """A ``/v1/inference/chat`` stream read event by event, ``on_event`` called on each
    as it arrives (a client that waits ``WAIT`` at most for each)."""
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    events: list[dict[str, Any]] = []
    with (
        httpx.Client(base_url=server.live.base_url, timeout=WAIT) as client,
        client.stream("POST", "/v1/inference/chat", json=body, headers=server.live.auth()) as resp,
    ):
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                events.append(json.loads(line.removeprefix("data: ")))
                on_event(events[-1])
    return events


def test_searching_and_reading_arrive_before_a_slow_upstream_s_first_token(
    own_server: OaiServer,
) -> None:
    with serve_hostile("gated") as upstream:
        point(own_server, upstream.base_url)
        seen: list[tuple[str, bool]] = []  # (what, had the upstream answered yet)

        def on_event(event: dict[str, Any]) -> None:
            seen.append((event.get("status", {}).get("key", "answer"), upstream.gate.is_set()))
            if "status" in event and event["status"]["key"] == "reading":
                upstream.gate.set()  # only now does the upstream send its first token

        try:
            events = v1_events_as_they_come(own_server, on_event)
        finally:
            upstream.gate.set()
    assert seen[:2] == [("searching", False), ("reading", False)]
    assert [what for what, _ in seen[2:4]] == ["answering", "answer"]  # after the first token
    assert all(answered for _, answered in seen[2:])
    assert events[3]["backend"]["provider"] == "openai" and len(events[3]["retrieval"]) == 2
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events) == "Hello there"


def test_searching_arrives_while_the_retrieval_still_runs(
    own_server: OaiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = threading.Event()
    real = chat_module.retrieve

    def gated_retrieve(*args: Any, **kwargs: Any) -> Any:  # the real retrieval, held
        assert released.wait(WAIT * 2)
        return real(*args, **kwargs)

    monkeypatch.setattr(chat_module, "retrieve", gated_retrieve)
    seen: list[tuple[str, bool]] = []

    def on_event(event: dict[str, Any]) -> None:
        seen.append((event.get("status", {}).get("key", "answer"), released.is_set()))
        released.set()  # the retrieval ends once the first event is in

    try:
        events = v1_events_as_they_come(own_server, on_event)
    finally:
        released.set()
    assert seen[0] == ("searching", False)
    assert [what for what, _ in seen[:4]] == ["searching", "reading", "answering", "answer"]
    assert statuses(events)[1] == {"key": "reading", "message": "Reading 2 documents…", "count": 2}


def test_the_sdk_gets_the_steps_before_a_slow_upstream_s_first_token(
    own_server: OaiServer,
) -> None:
    sdk = openai.OpenAI(
        base_url=own_server.base_url, api_key=own_server.key, max_retries=0, timeout=WAIT
    )
    with serve_hostile("gated") as upstream:
        point(own_server, upstream.base_url)
        seen: list[tuple[str, bool]] = []
        try:
            stream = sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": QUESTION}], stream=True
            )
            text = ""
            for chunk in stream:
                status = (chunk.model_extra or {}).get("status")
                seen.append((status["key"] if status else "answer", upstream.gate.is_set()))
                if status and status["key"] == "reading":
                    upstream.gate.set()
                text += chunk.choices[0].delta.content or "" if chunk.choices else ""
        finally:
            upstream.gate.set()
    assert seen[:3] == [("searching", False), ("reading", False), ("answering", True)]
    assert text == "Hello there"


@pytest.mark.parametrize("path", ["/v1/inference/chat", "/oai/v1/chat/completions"])
def test_a_backend_refusal_after_the_steps_is_the_stream_s_error_event(
    own_server: OaiServer, path: str
) -> None:
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with serve_upstream() as upstream:
        point(own_server, upstream.base_url, "refuse")
        resp = own_server.live.client.post(path, json=body, headers=own_server.live.auth())
    assert resp.status_code == 200  # the stream had begun: the steps were sent
    blocks = [b.removeprefix("data: ") for b in resp.text.split("\n\n") if b.startswith("data: ")]
    assert blocks[-1] == "[DONE]"
    *steps, error = [json.loads(b) for b in blocks[:-1]]
    assert [s["status"]["key"] for s in steps] == ["searching", "reading"]
    if path.startswith("/v1"):
        assert error["error"]["code"] == "BACKEND_ERROR"
    else:  # OpenAI's error object, as the SDK raises it
        assert set(error["error"]) == {"message", "type", "param", "code"}
        assert error["error"]["code"] == "backend_error"


def test_the_sdk_raises_a_refusal_after_the_steps(own_server: OaiServer) -> None:
    sdk = openai.OpenAI(
        base_url=own_server.base_url, api_key=own_server.key, max_retries=0, timeout=WAIT
    )
    keys: list[str] = []
    with serve_upstream() as upstream:
        point(own_server, upstream.base_url, "refuse")
        with pytest.raises(openai.APIError) as caught:
            for chunk in sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": QUESTION}], stream=True
            ):
                keys.append((chunk.model_extra or {})["status"]["key"])
    assert keys == ["searching", "reading"]
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "backend_error"


def test_an_unknown_or_foreign_model_is_still_answered_404_before_any_step(
    server: OaiServer,
) -> None:
    set_status_messages(server.live.engine, "standard", None)
    ask = [{"role": "user", "content": QUESTION}]
    for model in ("tenant/acme/nobody", "tenant/globex/helper"):
        body = {"model": model, "stream": True, "messages": ask}
        v1 = server.live.client.post("/v1/inference/chat", json=body, headers=server.live.auth())
        assert v1.status_code == 404 and v1.json()["error"]["code"] == "PERSONA_MODEL_NOT_FOUND"
        oai = server.live.client.post(
            "/oai/v1/chat/completions", json=body, headers=server.live.auth()
        )
        assert oai.status_code == 404 and oai.json()["error"]["code"] == "model_not_found"
    # another tenant's key does not see acme's persona either
    body = {"model": MODEL, "stream": True, "messages": ask}
    other = server.live.client.post(
        "/v1/inference/chat", json=body, headers=server.live.auth(server.other_key)
    )
    assert other.status_code == 404
