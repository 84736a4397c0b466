"""The ``openai`` backend against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from personas_as_code.inference.backends import make_backend
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.inference.openai_compat import OpenAIBackend
from personas_as_code.inference.retry import RetryPolicy, parse_retry_after
from personas_as_code.schemas.config import BackendSettings
from personas_as_code.schemas.errors import (
    BackendBadResponse,
    BackendError,
    BackendNotConfigured,
    BackendTimeout,
    BackendUnavailable,
)

from tests.inference.upstream import Upstream

ASK = [ChatMessage("system", "Be brief."), ChatMessage("user", "hello there")]
FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.02)


def backend(
    upstream: Upstream,
    model: str,
    *,
    env: dict[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **settings: Any,
) -> OpenAIBackend:
    config = BackendSettings(provider="openai", base_url=upstream.base_url, model=model, **settings)
    return OpenAIBackend("openai/gpt-4o", config, env=env or {}, retry=FAST, sleep=sleep)


def test_plain_answer_sends_messages_params_and_key(upstream: Upstream) -> None:
    b = backend(upstream, "echo", api_key_env="TEST_UPSTREAM_KEY", env={"TEST_UPSTREAM_KEY": "k1"})
    answer = b.complete(ASK, {"temperature": 0.2, "max_tokens": 50})
    assert answer.content == "echo: hello there"
    assert answer.finish_reason == "stop"
    assert answer.usage.to_dict() == {
        "prompt_tokens": 11,
        "completion_tokens": 7,
        "total_tokens": 18,
    }
    assert answer.backend.upstream_model == "echo"
    call = upstream.calls[0]
    assert call.headers["authorization"] == "Bearer k1"
    assert call.body["messages"] == [m.to_dict() for m in ASK]
    assert call.body["temperature"] == 0.2 and call.body["stream"] is False


def test_streaming_yields_the_words_then_the_finish(upstream: Upstream) -> None:
    deltas = list(backend(upstream, "echo").stream(ASK, {}))
    assert "".join(d.content for d in deltas) == "echo: hello there"
    assert deltas[-1].finish_reason == "stop"
    assert deltas[-1].usage is not None  # estimated: the server sends none
    assert all(d.finish_reason is None for d in deltas[:-1])


def test_429_with_retry_after_is_waited_for_then_succeeds(upstream: Upstream) -> None:
    slept: list[float] = []
    b = backend(upstream, "limited-once", sleep=slept.append)  # records the wait instead
    assert b.complete(ASK, {}).content == "echo: hello there"
    assert slept == [1.0]  # the server's Retry-After, not the 0.01 s backoff
    assert b.attempts == 2


def test_persistent_5xx_is_unavailable_after_the_retries(upstream: Upstream) -> None:
    b = backend(upstream, "down")
    with pytest.raises(BackendUnavailable) as caught:
        b.complete(ASK, {})
    assert b.attempts == 3 and len(upstream.calls) == 3
    assert "HTTP 503" in caught.value.message and "overloaded" in caught.value.message
    assert caught.value.details["upstream_status"] == 503


@pytest.mark.slow  # waits for a backend's timeout and the slow answer
def test_timeout_is_a_typed_error_and_not_retried(upstream: Upstream) -> None:
    b = backend(upstream, "slow", timeout_seconds=0.3)
    with pytest.raises(BackendTimeout, match=r"did not answer within 0.3s"):
        b.complete(ASK, {})
    assert b.attempts == 1


@pytest.mark.parametrize("model", ["malformed", "not-json"])
def test_a_malformed_answer_is_a_bad_response(upstream: Upstream, model: str) -> None:
    with pytest.raises(BackendBadResponse, match="not an OpenAI-compatible chat completion"):
        backend(upstream, model).complete(ASK, {})


def test_a_broken_stream_is_a_bad_response(upstream: Upstream) -> None:
    deltas = backend(upstream, "broken-stream").stream(ASK, {})
    with pytest.raises(BackendBadResponse):
        list(deltas)


def test_an_upstream_4xx_is_a_backend_error_with_its_message(upstream: Upstream) -> None:
    with pytest.raises(BackendError) as caught:
        backend(upstream, "refuse").complete(ASK, {})
    assert caught.value.code == "BACKEND_ERROR"
    assert "model 'refuse' not found" in caught.value.message
    assert len(upstream.calls) == 1


def test_a_missing_key_variable_is_named_and_nothing_is_sent(upstream: Upstream) -> None:
    b = backend(upstream, "echo", api_key_env="NO_SUCH_VARIABLE_SET")
    with pytest.raises(BackendNotConfigured, match="NO_SUCH_VARIABLE_SET"):
        b.complete(ASK, {})
    assert upstream.calls == []


def test_an_unreachable_endpoint_is_unavailable() -> None:
    config = {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "x"}
    b = make_backend("openai/gpt-4o", config, env={})
    b.retry = FAST  # type: ignore[attr-defined]
    with pytest.raises(BackendUnavailable, match="failed after 3 attempt"):
        b.complete(ASK, {})


def test_an_unusable_stored_config_is_not_configured() -> None:
    with pytest.raises(BackendNotConfigured, match="unusable configuration"):
        make_backend("openai/gpt-4o", {"provider": "openai"}, env={})
    with pytest.raises(BackendNotConfigured):
        make_backend("openai/gpt-4o", {"provider": "carrier-pigeon"}, env={})


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert RetryPolicy(max_retry_after=5).delay(1, "600") == 5
