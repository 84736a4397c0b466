"""A persona's RAG status messages (seed 000's ``status_messages_mode`` and
``rag_status_messages``): what a user is shown while the answer is prepared.

When retrieval runs for a call, three steps are reported, in order:

* ``searching`` -- the knowledge is being searched;
* ``reading`` -- ``{count}`` documents were found (distinct documents of the chunks put
  into the context; 0 when none matched);
* ``answering`` -- the model is writing the answer.

Per ``status_messages_mode``: ``none`` reports nothing, ``standard`` the texts of
``STANDARD_MESSAGES``, ``custom`` the persona's ``rag_status_messages`` templates (a step
the map leaves out is not reported).  ``{count}`` is the only placeholder: it is replaced
literally (no format string is evaluated), and a message is cut at
``MAX_STATUS_CHARS``.  A call that ran no retrieval reports nothing.

In a stream (``POST /v1/inference/chat`` and ``/oai/v1/chat/completions``) each step is
sent when it happens (``searching`` before the retrieval, ``reading`` after it,
``answering`` once the backend's first piece is in; ``catalogue.rest_inference``), before
the answer's first event, as one ``chat.completion.chunk`` whose one choice has an empty
``delta`` (no text, no ``finish_reason``) beside a ``status`` object (``status_chunk``).
A client that knows nothing of it sees a chunk without text -- as OpenAI's own last
chunk is -- and adds nothing: the official SDK keeps the object
(``chunk.model_extra["status"]``), LangChain and a loop over
``choices[0].delta.content`` skip it.  (A chunk with empty ``choices``,
as the usage chunk is, would break the many clients that read ``choices[0]``.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from personas_as_code.knowledge_index.retrieval import RetrievedChunk

STATUS_STEPS = ("searching", "reading", "answering")
STANDARD_MESSAGES: Mapping[str, str] = {
    "searching": "Searching the knowledge base…",
    "reading": "Reading {count} documents…",
    "answering": "Writing the answer…",
}
MAX_STATUS_CHARS = 300


@dataclass(frozen=True)
class StatusMessage:
    """One step reported to the user: its key, its text and (``reading``) the count."""

    key: str
    message: str
    count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``status`` object of a stream chunk."""
        out: dict[str, Any] = {"key": self.key, "message": self.message}
        if self.count is not None:
            out["count"] = self.count
        return out


def _render(template: str, count: int | None) -> str:
    text = template if count is None else template.replace("{count}", str(count))
    return text if len(text) <= MAX_STATUS_CHARS else text[: MAX_STATUS_CHARS - 1] + "…"


def status_step(
    mode: str, custom: Mapping[str, str] | None, key: str, count: int | None = None
) -> StatusMessage | None:
    """Step ``key`` per ``mode`` (None when it is not reported), ``{count}`` filled with
    ``count`` (left as it is while the count is not known)."""
    if mode == "none":
        return None
    templates = STANDARD_MESSAGES if mode == "standard" else (custom or {})
    template = templates.get(key)
    if not isinstance(template, str):
        return None
    return StatusMessage(key, _render(template, count), count if key == "reading" else None)


def status_messages(
    mode: str, custom: Mapping[str, str] | None, chunks: Sequence[RetrievedChunk] | None
) -> list[StatusMessage]:
    """The steps to report for a call whose retrieval found ``chunks``, per ``mode``;
    ``chunks`` None (retrieval has not run: a preview) leaves ``{count}`` unfilled."""
    count = (
        None if chunks is None else len({(c.source_type, c.source_id, c.document) for c in chunks})
    )
    steps = (status_step(mode, custom, key, count) for key in STATUS_STEPS)
    return [step for step in steps if step is not None]


def status_chunk(answer: Mapping[str, Any], status: StatusMessage) -> dict[str, Any]:
    """``status`` as a stream chunk of the answer whose chunks have ``answer``'s ``id``,
    ``created`` and ``model``."""
    return {
        "id": answer["id"],
        "object": "chat.completion.chunk",
        "created": answer["created"],
        "model": answer["model"],
        "choices": [{"index": 0, "delta": {}, "finish_reason": None}],
        "status": status.to_dict(),
    }
