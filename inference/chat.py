"""One chat call: enrich (for a persona), then dispatch through the backends in order.

``complete`` answers once; ``stream`` yields OpenAI-style ``chat.completion.chunk``
events.  The backends are tried in the order given (the model's backend links by
priority): a backend that is unreachable, overloaded, timing out or not
configured hands over to the next; one that refuses the call or answers
nonsense does not (the next would most likely do the same).  A stream hands over
only before its first piece.  The answer says which backend answered and carries
the retrieval provenance.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from personas_as_code.inference.backends import Backend
from personas_as_code.inference.completion import (
    BackendRef,
    ChatChoice,
    ChatChoiceMessage,
    ChatCompletion,
    ChatUsage,
    RetrievedRef,
)
from personas_as_code.inference.enricher import Enrichment
from personas_as_code.inference.messages import Answer, BackendInfo, ChatMessage, Delta
from personas_as_code.schemas.errors import (
    BackendBusy,
    BackendError,
    BackendNotConfigured,
    BackendRateLimited,
    BackendTimeout,
    BackendUnavailable,
)

HANDOVER = (
    BackendUnavailable,
    BackendTimeout,
    BackendRateLimited,
    BackendNotConfigured,
    BackendBusy,
)
"""The failures of one backend that hand the call over to the next."""


def new_completion_id() -> str:
    """A fresh completion id (``chatcmpl-`` + 24 hex digits)."""
    return "chatcmpl-" + secrets.token_hex(12)


def provenance(enrichment: Enrichment | None) -> list[dict[str, Any]]:
    """The retrieval provenance of an answer: source, document, chunk and score of each chunk."""
    if enrichment is None:
        return []
    return [
        {
            "source_type": c.source_type,
            "source_id": c.source_id,
            "document": c.document,
            "chunk": c.chunk,
            "score": round(c.score, 6),
        }
        for c in enrichment.retrieval
    ]


@dataclass
class ChatCall:
    """A resolved call: the model slug answered for, the messages and params to send,
    the enrichment that made them (None for a plain model) and the backends to try."""

    model: str
    messages: list[ChatMessage]
    params: dict[str, Any]
    backends: Sequence[Backend]
    enrichment: Enrichment | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ChatResult:
    """A whole answer with where it came from."""

    id: str
    created: int
    call: ChatCall
    answer: Answer

    def completion(self) -> ChatCompletion:
        """The answer as ``POST /v1/inference/chat`` sends it (its ``data``)."""
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.call.model,
            choices=[
                ChatChoice(
                    index=0,
                    message=ChatChoiceMessage(role="assistant", content=self.answer.content),
                    finish_reason=self.answer.finish_reason,
                )
            ],
            usage=ChatUsage(**self.answer.usage.to_dict()),
            retrieval=[RetrievedRef(**ref) for ref in provenance(self.call.enrichment)],
            backend=BackendRef(**self.answer.backend.to_dict()),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``data`` of ``POST /v1/inference/chat``, as plain JSON values."""
        return self.completion().model_dump()


def no_backend(call: ChatCall) -> BackendNotConfigured:
    """The error of a call whose model has no backend at all."""
    return BackendNotConfigured(
        f"model {call.model!r} has no backend to dispatch to", details={"model": call.model}
    )


def complete(call: ChatCall) -> ChatResult:
    """Dispatch ``call`` and return the whole answer (handing over on outages)."""
    last: BackendError | None = None
    for backend in call.backends:
        try:
            answer = backend.complete(call.messages, call.params)
        except HANDOVER as exc:
            last = exc
            continue
        return ChatResult(new_completion_id(), int(time.time()), call, answer)
    raise last or no_backend(call)


def _chunk(
    cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def stream(call: ChatCall) -> Iterator[dict[str, Any]]:
    """Dispatch ``call`` as a stream of ``chat.completion.chunk`` events.

    The first event carries the role, the retrieval provenance and the backend;
    the last one the ``finish_reason`` and ``usage``.  Errors before the first
    piece raise (the caller answers an error envelope); later ones propagate
    from the iterator.
    """
    deltas, info = _first_stream(call)
    chunks = ChunkMaker(call)
    yield chunks.first(info)
    for delta in deltas:
        yield from chunks.of(delta)


class ChunkMaker:
    """The ``chat.completion.chunk`` events of one streamed answer (one id, one time:
    ``ident``, when chunks were sent before the call was ready, else new ones)."""

    def __init__(self, call: ChatCall, ident: tuple[str, int] | None = None) -> None:
        self.call = call
        self.id, self.created = ident or (new_completion_id(), int(time.time()))

    def first(self, info: BackendInfo) -> dict[str, Any]:
        """The first event: the role, the retrieval provenance and the backend."""
        first = _chunk(
            self.id, self.created, self.call.model, {"role": "assistant", "content": ""}, None
        )
        first["retrieval"] = provenance(self.call.enrichment)
        first["backend"] = info.to_dict()
        return first

    def of(self, delta: Delta) -> list[dict[str, Any]]:
        """The events of one delta: its content, then the last event if it finishes."""
        out = []
        if delta.content:
            out.append(
                _chunk(self.id, self.created, self.call.model, {"content": delta.content}, None)
            )
        if delta.finish_reason is not None:
            last = _chunk(self.id, self.created, self.call.model, {}, delta.finish_reason)
            if delta.usage is not None:
                last["usage"] = delta.usage.to_dict()
            out.append(last)
        return out


def _first_stream(call: ChatCall) -> tuple[Iterator[Delta], BackendInfo]:
    """The first backend whose stream starts, with its first delta put back in front."""
    last: BackendError | None = None
    for backend in call.backends:
        deltas = iter(backend.stream(call.messages, call.params))
        try:
            head = next(deltas)
        except StopIteration:
            return iter(()), backend.info
        except HANDOVER as exc:
            last = exc
            continue
        return _prepend(head, deltas), backend.info
    raise last or no_backend(call)


def _prepend(head: Delta, rest: Iterator[Delta]) -> Iterator[Delta]:
    yield head
    yield from rest
