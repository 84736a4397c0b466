"""``mirror``: the built-in offline backend.  It answers with a readable account of
exactly what it received -- every message, in order, and the params -- so the demo,
the tests and a user without any model can see what the persona enricher sent.

The account is deterministic: the same messages and params give the same text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from personas_as_code.inference.messages import (
    Answer,
    BackendInfo,
    ChatMessage,
    Delta,
    Usage,
    estimate_prompt_tokens,
    estimate_tokens,
)
from personas_as_code.schemas.config import DEFAULT_CONCURRENT_CALLS

PROVIDER = "mirror"


def account(backend_model: str, messages: list[ChatMessage], params: dict[str, Any]) -> str:
    """The mirror's answer: a header, the params as JSON, then each message verbatim."""
    shown = json.dumps(params, sort_keys=True, ensure_ascii=False) if params else "(none)"
    lines = [
        f"[mirror backend for {backend_model}: no model was called; this is what it received]",
        f"params: {shown}",
        f"messages: {len(messages)}",
    ]
    for number, message in enumerate(messages, 1):
        lines += ["", f"--- message {number} ({message.role}) ---", message.content]
    return "\n".join(lines) + "\n"


class MirrorBackend:
    """The offline backend of one backend model."""

    def __init__(self, backend_model: str) -> None:
        self.info = BackendInfo(provider=PROVIDER, backend_model=backend_model)
        self.slots = DEFAULT_CONCURRENT_CALLS

    def complete(self, messages: list[ChatMessage], params: dict[str, Any]) -> Answer:
        """The account of ``messages`` and ``params`` as one answer."""
        text = account(self.info.backend_model, messages, params)
        usage = Usage(estimate_prompt_tokens(messages), estimate_tokens(text))
        return Answer(content=text, finish_reason="stop", usage=usage, backend=self.info)

    def stream(self, messages: list[ChatMessage], params: dict[str, Any]) -> Iterator[Delta]:
        """The same account, one line per delta."""
        answer = self.complete(messages, params)
        for line in answer.content.splitlines(keepends=True):
            yield Delta(content=line)
        yield Delta(finish_reason="stop", usage=answer.usage)
