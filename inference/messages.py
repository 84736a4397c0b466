"""The values that travel through a chat call: messages, params, answers, usage."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")

PARAM_KEYS: tuple[str, ...] = (
    "temperature",
    "top_p",
    "max_tokens",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "seed",
)
"""Request params a caller may set; persona ``default_params`` may carry others too."""

TOKEN_ESTIMATOR = "approx: max(chars/4, words*1.3) + 4 per message"


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation."""

    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        """The message as the OpenAI wire format has it."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Usage:
    """Token counts of one call (the backend's, or estimated when it gives none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class BackendInfo:
    """Which backend answered: its provider, the catalogue's backend model, the upstream model."""

    provider: str
    backend_model: str
    upstream_model: str | None = None
    base_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "backend_model": self.backend_model,
            "upstream_model": self.upstream_model,
            "base_url": self.base_url,
        }

    def describe(self) -> str:
        """One line for people: ``openai http://… (model llama3.1) for openai/gpt-4o``."""
        where = f" {self.base_url}" if self.base_url else ""
        model = f" (model {self.upstream_model})" if self.upstream_model else ""
        return f"{self.provider}{where}{model} as backend {self.backend_model}"


@dataclass(frozen=True)
class Answer:
    """A whole answer of a backend."""

    content: str
    finish_reason: str | None
    usage: Usage
    backend: BackendInfo


@dataclass(frozen=True)
class Delta:
    """One piece of a streamed answer; the last one carries ``finish_reason`` (and usage)."""

    content: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass
class Params:
    """Inference params after the merge, split into what is sent and where each came from."""

    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)


def estimate_tokens(text: str) -> int:
    """An approximate token count (no tokenizer is available offline)."""
    if not text:
        return 0
    return max(math.ceil(len(text) / 4), math.ceil(len(text.split()) * 1.3))


def estimate_prompt_tokens(messages: list[ChatMessage]) -> int:
    """Approximate prompt tokens of ``messages``: their text plus 4 per message."""
    return sum(estimate_tokens(m.content) + 4 for m in messages)
