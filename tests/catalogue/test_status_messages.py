"""Seed 000's status messages (``status_messages_mode``, ``rag_status_messages``) in the
streams of ``POST /v1/inference/chat`` and ``/oai/v1/chat/completions``: none, the
standard texts, or the persona's templates, as chunks OpenAI clients skip safely."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from personas_as_code.inference.status_messages import MAX_STATUS_CHARS

from tests.catalogue.oai_kit import (
    MODEL,
    PROMPT,
    QUESTION,
    OaiServer,
    oai_server,
    set_status_messages,
)


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
