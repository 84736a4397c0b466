"""The persona enricher: what a published persona adds to a call before dispatch.

As ScaiGrid's pipeline does (``reference/scaipersona-api.txt``, "Invoking a
published persona"), in this order:

1. the persona's system prompt, as the first system message;
2. when RAG is enabled, retrieval over the persona's *active* sources (disabled
   ones are skipped and named in the notes) for the last user message, with the
   earlier user messages as history, honouring ``top_k``, ``min_score``,
   per-source ``weight`` and ``search_type`` and the ``strategy``; the chunks,
   each headed by its provenance, are rendered through ``context_template``
   (``$context``; ``DEFAULT_CONTEXT_TEMPLATE`` when the persona has none) into a
   second system message -- none when nothing was retrieved;
3. the caller's messages, unchanged;
4. params: the persona's ``default_params`` under the request's params (a
   request value wins; a request ``None`` leaves the default).

The provenance of every chunk is kept (``Enrichment.retrieval``) so the answer,
``personas run`` and the preview can say where the context came from; when retrieval
ran, the persona's status messages (``inference.status_messages``) are in
``Enrichment.status``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from string import Template
from typing import TYPE_CHECKING, Any

from personas_as_code.inference.messages import ChatMessage
from personas_as_code.inference.status_messages import StatusMessage, status_messages

if TYPE_CHECKING:  # the retrieval module (numpy, SQLAlchemy) loads where retrieval runs
    from personas_as_code.knowledge_index.retrieval import Retrieval, RetrievedChunk, SourceRef

DEFAULT_CONTEXT_TEMPLATE = "Use the following context to answer:\n$context"

Retriever = Callable[..., "Retrieval"]
"""``retriever(sources, query, *, top_k, min_score, strategy, history) -> Retrieval``:
``knowledge_index.retrieval.retrieve`` with the database and tenant already bound."""


@dataclass(frozen=True)
class RagSettings:
    """A persona's retrieval settings (the ``rag`` block of its file)."""

    enabled: bool = False
    strategy: str = "single_step"
    top_k: int = 5
    min_score: float | None = None
    context_template: str | None = None
    status_mode: str = "standard"
    status_messages: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PersonaProfile:
    """What the enricher needs of a persona, from a catalogue row or a repo file."""

    slug: str
    system_prompt: str
    rag: RagSettings = field(default_factory=RagSettings)
    sources: tuple[SourceRef, ...] = ()
    default_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Enrichment:
    """The messages and params a backend gets, and how they came about."""

    messages: list[ChatMessage]
    params: dict[str, Any]
    retrieval: list[RetrievedChunk] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    context: str | None = None
    retrieval_ran: bool = False
    notes: list[str] = field(default_factory=list)
    status: list[StatusMessage] = field(default_factory=list)


def merge_params(defaults: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` under ``request``: a request value wins, a request ``None`` does not."""
    merged = {k: v for k, v in defaults.items() if v is not None}
    merged.update({k: v for k, v in request.items() if v is not None})
    return merged


def render_context(chunks: Sequence[RetrievedChunk]) -> str:
    """The retrieved chunks as context text, each headed by its provenance."""
    parts = [
        f"[{number}] {chunk.source_type}:{chunk.source_id} · {chunk.document} "
        f"(chunk {chunk.chunk}, score {chunk.score:.3f})\n{chunk.text.strip()}"
        for number, chunk in enumerate(chunks, 1)
    ]
    return "\n\n".join(parts)


def render_context_block(template: str | None, context: str) -> str:
    """``context`` put into the persona's ``context_template`` (or the default one)."""
    return Template(template or DEFAULT_CONTEXT_TEMPLATE).safe_substitute(context=context)


def retrieval_query(messages: Sequence[ChatMessage]) -> tuple[str | None, list[str]]:
    """The query (the last user message) and the history (the user messages before it)."""
    users = [m.content for m in messages if m.role == "user"]
    if not users:
        return None, []
    return users[-1], users[:-1]


def enrich(
    persona: PersonaProfile,
    messages: Sequence[ChatMessage],
    params: Mapping[str, Any],
    retriever: Retriever | None,
    *,
    system_prompt_override: str | None = None,
    no_retrieval_reason: str = "no knowledge index is reachable from here",
) -> Enrichment:
    """Enrich one call for ``persona`` (see the module docstring for the order).

    ``retriever`` None means retrieval cannot run here; the notes then say so,
    with ``no_retrieval_reason``.
    """
    notes: list[str] = []
    prompt = persona.system_prompt if system_prompt_override is None else system_prompt_override
    if system_prompt_override is not None:
        notes.append("system prompt overridden")
    out: list[ChatMessage] = [ChatMessage("system", prompt)] if prompt else []
    result = Enrichment(messages=out, params=merge_params(persona.default_params, params))
    rag = persona.rag
    if rag.enabled:
        _retrieve(persona, messages, retriever, no_retrieval_reason, result, notes)
        if result.retrieval_ran:
            result.status = status_messages(rag.status_mode, rag.status_messages, result.retrieval)
    out.extend(messages)
    result.notes = notes
    return result


def _why_no_retrieval(persona: PersonaProfile, messages: Sequence[ChatMessage]) -> str | None:
    """Why a persona with RAG enabled runs no retrieval for ``messages`` whatever the
    retriever (None: it runs one when it has a retriever)."""
    if not any(s.status == "active" for s in persona.sources):
        return "rag is enabled but no source is active"
    if retrieval_query(messages)[0] is None:
        return "the conversation has no user message to search for"
    return None


def retrieves(persona: PersonaProfile, messages: Sequence[ChatMessage]) -> bool:
    """Whether ``enrich`` runs retrieval for ``messages`` (given a retriever): what lets a
    stream announce its ``searching`` step before the retrieval has run."""
    return persona.rag.enabled and _why_no_retrieval(persona, messages) is None


def _retrieve(
    persona: PersonaProfile,
    messages: Sequence[ChatMessage],
    retriever: Retriever | None,
    no_retrieval_reason: str,
    result: Enrichment,
    notes: list[str],
) -> None:
    rag = persona.rag
    active = [s for s in persona.sources if s.status == "active"]
    skipped = [s for s in persona.sources if s.status != "active"]
    if skipped:
        notes.append(
            "skipped disabled source(s): "
            + ", ".join(f"{s.source_type}:{s.source_id}" for s in skipped)
        )
    query, history = retrieval_query(messages)
    why_not = _why_no_retrieval(persona, messages)
    if why_not is None and retriever is None:
        why_not = no_retrieval_reason
    if why_not is not None or query is None or retriever is None:
        notes.append(f"retrieval not run: {why_not}")
        return
    found = retriever(
        active,
        query,
        top_k=rag.top_k,
        min_score=rag.min_score,
        strategy=rag.strategy,
        history=history,
    )
    result.retrieval_ran = True
    result.retrieval = list(found.chunks)
    result.queries = list(found.queries)
    if found.note:
        notes.append(found.note)
    if not found.chunks:
        floor = f" at min_score {rag.min_score}" if rag.min_score is not None else ""
        notes.append(f"retrieval found no chunk{floor}; no context was added")
        return
    result.context = render_context_block(rag.context_template, render_context(found.chunks))
    if rag.context_template is None:
        notes.append("no rag.context_template; the default template was used")
    result.messages.append(ChatMessage("system", result.context))
