"""The shapes of ``/oai/v1/chat/completions``: OpenAI's request body, and our chat answer
turned into OpenAI's unwrapped ``chat.completion`` and ``chat.completion.chunk``.

What a request may hold (the rest of ``POST /v1/inference/chat``'s rules apply):

* honoured: ``model``, ``messages`` (``system``, ``developer`` -- sent as ``system`` --,
  ``user`` and ``assistant``; content a string or a list of ``text`` parts), ``stream``,
  ``stream_options.include_usage``, ``temperature``, ``top_p``, ``max_tokens`` and
  ``max_completion_tokens`` (the same limit), ``frequency_penalty``,
  ``presence_penalty``, ``stop``, ``seed``, ``n: 1``, ``response_format: {"type": "text"}``;
* accepted and ignored, as they change nothing in the answer: ``user``, ``store``,
  ``metadata``, ``service_tier``, ``safety_identifier``, ``prompt_cache_key``,
  ``parallel_tool_calls``, ``logprobs: false``, ``tool_choice: "none"``,
  ``stream_options.include_obfuscation``, a message's ``name``;
* refused with 400 ``unsupported_parameter`` (they would change the answer and no
  backend here honours them): ``tools``, ``functions``, ``function_call``, another
  ``tool_choice``, ``n`` > 1, ``logprobs: true``, ``top_logprobs``, ``logit_bias``,
  ``audio``, ``modalities`` other than text, ``prediction``, ``reasoning_effort``,
  ``verbosity``, ``web_search_options``, a JSON ``response_format``, image, audio or file
  content parts, ``tool`` and ``function`` messages;
* anything else is refused (400), as OpenAI refuses an unrecognised argument.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from personas_as_code.catalogue.chat import ChatRequest
from personas_as_code.catalogue.rest_inference import MAX_MESSAGE_CHARS, MAX_MESSAGES, MAX_STOP
from personas_as_code.inference.messages import ChatMessage, Role
from personas_as_code.schemas.errors import UnsupportedParameter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_PARTS = 100
MAX_IGNORED_CHARS = 4096

StopText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Ignored = Annotated[str, StringConstraints(max_length=MAX_IGNORED_CHARS)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TextPart(_Body):
    """A content part; only ``text`` parts can be sent to the backends here."""

    type: Annotated[str, StringConstraints(max_length=40)]
    text: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    # the other part kinds, recognised so they are refused by name
    image_url: Any = None
    input_audio: Any = None
    file: Any = None
    refusal: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)


class OaiMessage(_Body):
    """One message as OpenAI's clients send it."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: (
        Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]
        | Annotated[list[TextPart], Field(max_length=MAX_PARTS)]
        | None
    ) = None
    name: Ignored | None = None
    tool_calls: Any = None
    function_call: Any = None
    tool_call_id: Any = None
    refusal: Any = None
    audio: Any = None


class StreamOptions(_Body):
    """``stream_options``: ``include_usage`` adds a last chunk with the usage."""

    include_usage: bool = False
    include_obfuscation: bool | None = None


class ResponseFormat(_Body):
    """``response_format``; only ``text`` is honoured."""

    type: Annotated[str, StringConstraints(max_length=40)]
    json_schema: Any = None


class OaiChatBody(_Body):
    """Body of ``POST /oai/v1/chat/completions`` (OpenAI's ``chat.completions.create``)."""

    model: str = Field(min_length=1, max_length=300, description="Frontend model slug.")
    messages: list[OaiMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    stop: StopText | Annotated[list[StopText], Field(max_length=MAX_STOP)] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    n: int | None = Field(default=None, ge=1, le=128)
    response_format: ResponseFormat | None = None
    # accepted, ignored
    user: Ignored | None = None
    store: bool | None = None
    metadata: dict[str, Ignored] | None = Field(default=None, max_length=16)
    service_tier: Ignored | None = None
    safety_identifier: Ignored | None = None
    prompt_cache_key: Ignored | None = None
    parallel_tool_calls: bool | None = None
    logprobs: bool | None = None
    tool_choice: Any = None
    # recognised, refused when set
    tools: Any = None
    functions: Any = None
    function_call: Any = None
    top_logprobs: Any = None
    logit_bias: Any = None
    audio: Any = None
    modalities: Any = None
    prediction: Any = None
    reasoning_effort: Any = None
    verbosity: Any = None
    web_search_options: Any = None

    def include_usage(self) -> bool:
        """Whether the stream ends with a usage chunk."""
        return bool(self.stream_options and self.stream_options.include_usage)


_REFUSED_WHEN_SET = (
    "tools",
    "functions",
    "function_call",
    "top_logprobs",
    "audio",
    "prediction",
    "reasoning_effort",
    "verbosity",
    "web_search_options",
)


def _unsupported(field: str, why: str) -> UnsupportedParameter:
    return UnsupportedParameter(f"{field}: {why}", details={"fields": [field]})


def _check_body(body: OaiChatBody) -> None:
    """Refuse what the body asks and this server cannot honour."""
    for name in _REFUSED_WHEN_SET:
        if getattr(body, name) is not None:
            raise _unsupported(name, "not supported by this server (no tool or audio calls)")
    if body.logit_bias:
        raise _unsupported("logit_bias", "not supported by this server")
    if body.logprobs:
        raise _unsupported("logprobs", "log probabilities are not available here")
    if body.tool_choice not in (None, "none"):
        raise _unsupported("tool_choice", "no tools can be called here")
    if body.modalities is not None and body.modalities != ["text"]:
        raise _unsupported("modalities", "only text answers are produced here")
    if body.n is not None and body.n > 1:
        raise _unsupported("n", "only one choice (n = 1) is produced here")
    if body.response_format is not None and body.response_format.type != "text":
        raise _unsupported("response_format", "only {'type': 'text'} is honoured here")
    limits = {body.max_tokens, body.max_completion_tokens} - {None}
    if len(limits) > 1:
        raise _unsupported(
            "max_completion_tokens", "differs from max_tokens; give one limit (or the same)"
        )


def _text_of(message: OaiMessage, index: int) -> str:
    where = f"messages.{index}"
    for name in ("tool_calls", "function_call", "tool_call_id", "audio"):
        if getattr(message, name) is not None:
            raise _unsupported(f"{where}.{name}", "tool and audio messages are not supported")
    if message.role in ("tool", "function"):
        raise _unsupported(f"{where}.role", f"{message.role} messages are not supported")
    if message.content is None:
        raise _unsupported(f"{where}.content", "a message needs text content")
    if isinstance(message.content, str):
        return message.content
    texts = []
    for number, part in enumerate(message.content):
        if part.type != "text" or part.text is None:
            raise _unsupported(
                f"{where}.content.{number}", "only text content parts can be sent here"
            )
        texts.append(part.text)
    text = "".join(texts)
    if len(text) > MAX_MESSAGE_CHARS:
        raise _unsupported(f"{where}.content", f"longer than {MAX_MESSAGE_CHARS} characters")
    return text


_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


def chat_request(body: OaiChatBody) -> ChatRequest:
    """The chat call ``body`` asks for, as ``POST /v1/inference/chat`` takes it."""
    _check_body(body)
    messages = []
    for index, message in enumerate(body.messages):
        text = _text_of(message, index)  # refuses tool and function messages
        role = _ROLES[message.role]
        messages.append(ChatMessage(role, text))
    params: dict[str, Any] = {
        "temperature": body.temperature,
        "top_p": body.top_p,
        "max_tokens": body.max_tokens or body.max_completion_tokens,
        "frequency_penalty": body.frequency_penalty,
        "presence_penalty": body.presence_penalty,
        "stop": body.stop,
        "seed": body.seed,
    }
    return ChatRequest(
        model=body.model,
        messages=messages,
        params={k: v for k, v in params.items() if v is not None},
    )


def completion_out(data: dict[str, Any]) -> dict[str, Any]:
    """Our ``chat.completion`` (the ``data`` of ``/v1/inference/chat``) as OpenAI's."""
    return {
        "id": data["id"],
        "object": "chat.completion",
        "created": data["created"],
        "model": data["model"],
        "system_fingerprint": None,
        "choices": [
            {
                "index": choice["index"],
                "message": {**choice["message"], "refusal": None},
                "finish_reason": choice["finish_reason"],
                "logprobs": None,
            }
            for choice in data["choices"]
        ],
        "usage": data["usage"],
    }


_OURS = frozenset(("retrieval", "backend", "usage"))
"""What our chunks carry beyond OpenAI's: left out (``usage`` comes in its own chunk)."""


def chunk_out(event: dict[str, Any], *, include_usage: bool) -> dict[str, Any]:
    """One chunk of our stream as OpenAI's: without our provenance; ``usage`` null on
    every chunk when the caller asked for usage (it comes in the last one), else absent.
    A chunk with nothing to change (most of them) is sent as it is."""
    if _OURS.isdisjoint(event) and not include_usage:
        return event
    out = {key: value for key, value in event.items() if key not in _OURS}
    if include_usage:
        out["usage"] = None
    return out


def usage_chunk(event: dict[str, Any], usage: dict[str, Any] | None) -> dict[str, Any]:
    """The last chunk of ``stream_options.include_usage``: no choices, the usage."""
    return {
        **{key: event[key] for key in ("id", "object", "created", "model")},
        "choices": [],
        "usage": usage,
    }


MODEL_OWNER_GLOBAL = "system"


def model_out(slug: str, created: int, tenant_slug: str | None) -> dict[str, Any]:
    """One model as ``GET /oai/v1/models`` lists it: the slug is the id."""
    return {
        "id": slug,
        "object": "model",
        "created": created,
        "owned_by": tenant_slug or MODEL_OWNER_GLOBAL,
    }
