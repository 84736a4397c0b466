"""The ``mirror`` backend: a deterministic account of exactly what it received."""

from __future__ import annotations

from personas_as_code.inference.backends import make_backend
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.inference.mirror import MirrorBackend

MESSAGES = [
    ChatMessage("system", "You are terse.\nNever guess."),
    ChatMessage("user", "What is $context? [bold]x[/bold]"),
]


def test_the_account_holds_every_message_verbatim_and_the_params() -> None:
    answer = MirrorBackend("openai/gpt-4o").complete(MESSAGES, {"temperature": 0.2, "seed": 1})
    text = answer.content
    assert text.startswith("[mirror backend for openai/gpt-4o: no model was called")
    assert 'params: {"seed": 1, "temperature": 0.2}' in text
    assert "--- message 1 (system) ---\nYou are terse.\nNever guess.\n" in text
    assert "--- message 2 (user) ---\nWhat is $context? [bold]x[/bold]\n" in text
    assert answer.finish_reason == "stop" and answer.usage.total_tokens > 0
    assert answer.backend.provider == "mirror"


def test_the_stream_is_the_same_account() -> None:
    backend = MirrorBackend("openai/gpt-4o")
    deltas = list(backend.stream(MESSAGES, {}))
    assert "".join(d.content for d in deltas) == backend.complete(MESSAGES, {}).content
    assert deltas[-1].finish_reason == "stop" and deltas[-1].usage is not None


def test_no_config_or_no_provider_means_mirror() -> None:
    assert make_backend("openai/gpt-4o", None).info.provider == "mirror"
    assert make_backend("vllm/llama-3.1-8b", {"model": "llama-3.1-8b"}).info.provider == "mirror"
