"""What the inference pipeline would send for a persona: ordered, prioritised blocks.

Follows Prompt Studio's preview (``reference/prompt-studio-api.txt``): the
persona's system prompt (priority 100), the RAG context rendered through
``rag.context_template`` exactly as the persona enricher renders it
(``inference.enricher``), history (priority falling with age) and the trigger
(priority 0).  Retrieval really runs for the trigger over the knowledge folders of
the tree previewed (the working tree or a draft's commit: ``sandbox.tree_retrieval``),
and the block holds the chunks with their provenance (source, document path, chunk,
score; also in ``Preview.retrieval``).  Where it cannot run -- no trigger, no
retrieval given, a source with no knowledge folder in the tree -- the block says
``[retrieval not run: <why>]`` and lists what would be searched.
Blocks are trimmed lowest priority first (oldest first among equals); the system
prompt and the trigger are never trimmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from personas_as_code.application.models import HistoryMessage, Preview, PreviewBlock, RetrievedRef
from personas_as_code.application.tokens import (
    BUILTIN_CONTEXT_WINDOWS,
    DEFAULT_CONTEXT_WINDOW,
    DEFAULT_REPLY_RESERVATION,
    TOKEN_ESTIMATOR,
    estimate_tokens,
)
from personas_as_code.inference.chat import provenance
from personas_as_code.inference.enricher import (
    Enrichment,
    Retriever,
    enrich,
    render_context_block,
)
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.inference.status_messages import status_messages
from personas_as_code.loader.repo import LoadedPersona
from personas_as_code.sandbox.enrichment import profile_of

NOT_REQUESTED = "this preview was built without the tree's knowledge"
SYSTEM_PRIORITY = 100
RAG_PRIORITY = 80
HISTORY_TOP_PRIORITY = 60
UNTRIMMABLE = ("system:persona", "trigger")
PARAM_KEYS = ("temperature", "top_p", "max_tokens", "frequency_penalty", "presence_penalty")


@dataclass(frozen=True)
class RetrievalAccess:
    """The tree's retrieval for previews, or (``retriever`` None) why there is none."""

    retriever: Retriever | None
    reason: str = ""


@dataclass
class PreviewRequest:
    """Overrides and conversation for one preview."""

    system_prompt_override: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    history: list[HistoryMessage] = field(default_factory=list)
    trigger_text: str | None = None


def context_window(
    model: str, catalogue_windows: dict[str, int] | None
) -> tuple[int, Literal["catalogue", "builtin", "default"]]:
    """The model's context window: catalogue first, then the built-in table, then 8192."""
    if catalogue_windows and catalogue_windows.get(model):
        return catalogue_windows[model], "catalogue"
    if model in BUILTIN_CONTEXT_WINDOWS:
        return BUILTIN_CONTEXT_WINDOWS[model], "builtin"
    return DEFAULT_CONTEXT_WINDOW, "default"


def _would_search(persona: LoadedPersona, headline: str) -> str:
    rag = persona.spec.rag
    active = [s for s in persona.spec.sources if s.status == "active"]
    skipped = [s for s in persona.spec.sources if s.status != "active"]
    score = f", min_score={rag.min_score}" if rag.min_score is not None else ""
    lines = [headline, f"Would search (strategy={rag.strategy}, top_k={rag.top_k}{score}):"]
    for source in active:
        search_type = (source.search_config or {}).get("search_type")
        extra = f", {search_type}" if search_type else ""
        label = f' "{source.name}"' if source.name else ""
        lines.append(f"- {source.type}:{source.id}{label} (weight {source.weight}{extra})")
    if skipped:
        lines.append("Skipped (disabled):")
        lines += [f"- {s.type}:{s.id}" + (f' "{s.name}"' if s.name else "") for s in skipped]
    return "\n".join(lines)


def _status_messages(persona: LoadedPersona, found: Enrichment | None) -> list[str]:
    """The persona's status messages as a stream would show them (``{count}`` unfilled
    when retrieval did not run here)."""
    rag = persona.spec.rag
    if not rag.enabled:
        return []
    if found is not None and found.retrieval_ran:
        return [s.message for s in found.status]
    config = rag.status_messages
    return [s.message for s in status_messages(config.mode, config.messages, None)]


def _rag_block(
    persona: LoadedPersona,
    request: PreviewRequest,
    retrieval: RetrievalAccess,
    notes: list[str],
    shown: list[Enrichment],
) -> tuple[str | None, list[RetrievedRef]]:
    """The RAG block and its provenance: retrieved chunks, or why retrieval did not run
    (the enrichment made, if any, is appended to ``shown``)."""
    rag = persona.spec.rag
    if not rag.enabled:
        return None, []
    if rag.status_messages.mode != "none":
        notes.append(f"status messages: {rag.status_messages.mode} (shown to the user, not sent)")
    if not any(s.status == "active" for s in persona.spec.sources):
        notes.append("rag is enabled but no source is active: retrieval would return nothing")
        return None, []
    if rag.context_template is None:
        notes.append("no rag.context_template; the default template was used")
    conversation = [ChatMessage(m.role, m.content) for m in request.history]
    if request.trigger_text is not None:
        conversation.append(ChatMessage("user", request.trigger_text))
    reason = retrieval.reason
    if retrieval.retriever is not None and request.trigger_text is None:
        reason = "no trigger_text to search for"
    found = None
    if reason == "":
        found = enrich(profile_of(persona), conversation, {}, retrieval.retriever)
        shown.append(found)
        notes += [n for n in found.notes if not n.startswith("no rag.context_template")]
        if found.context is not None:
            return found.context, [RetrievedRef(**r) for r in provenance(found)]
        missing = next((n for n in found.notes if n.startswith("no knowledge folder")), None)
        if missing and not found.retrieval:
            reason = missing
    if found is not None and reason == "":
        headline = "[retrieval ran and found nothing" + (
            f" at min_score {rag.min_score}]" if rag.min_score is not None else "]"
        )
    else:
        headline = f"[retrieval not run: {reason}]"
    context = _would_search(persona, headline)
    return render_context_block(rag.context_template, context), []


def build_preview(
    persona: LoadedPersona,
    request: PreviewRequest,
    *,
    origin: Literal["repo", "draft"] = "repo",
    draft_id: str | None = None,
    catalogue_windows: dict[str, int] | None = None,
    retrieval: RetrievalAccess | None = None,
) -> Preview:
    """Render the blocks, estimate tokens and decide what would be trimmed.

    ``retrieval`` is the tree's knowledge retrieval (or why there is none); without it
    retrieval is not run and the RAG block says so.
    """
    notes: list[str] = []
    blocks: list[PreviewBlock] = []

    def add(role: Any, source: str, priority: int, content: str) -> None:
        blocks.append(
            PreviewBlock(
                role=role,
                source=source,
                priority=priority,
                content=content,
                tokens=estimate_tokens(content),
            )
        )

    prompt = request.system_prompt_override
    if prompt is None:
        prompt = persona.system_prompt
    else:
        notes.append("system prompt overridden")
    add("system", "system:persona", SYSTEM_PRIORITY, prompt)
    enriched: list[Enrichment] = []
    rag, retrieved = _rag_block(
        persona, request, retrieval or RetrievalAccess(None, NOT_REQUESTED), notes, enriched
    )
    if rag is not None:
        add("system", "rag:context", RAG_PRIORITY, rag)
    count = len(request.history)
    for index, message in enumerate(request.history):
        age = count - 1 - index
        add(message.role, f"history:{index}", max(1, HISTORY_TOP_PRIORITY - age), message.content)
    if request.trigger_text is not None:
        add("user", "trigger", 0, request.trigger_text)

    params = persona.spec.default_params.model_dump(exclude_none=True)
    params.update({k: v for k, v in request.overrides.items() if v is not None})
    window, window_source = context_window(persona.spec.model, catalogue_windows)
    reservation = int(params.get("max_tokens") or DEFAULT_REPLY_RESERVATION)
    if "max_tokens" not in params:
        notes.append(f"no max_tokens; {DEFAULT_REPLY_RESERVATION} tokens reserved for the reply")
    budget = max(0, window - reservation)
    total = sum(b.tokens for b in blocks)
    trimmed = _trimmed(blocks, budget, notes)
    return Preview(
        slug=persona.slug,
        origin=origin,
        draft_id=draft_id,
        model=persona.spec.model,
        messages=blocks,
        params=params,
        estimated_tokens=total,
        context_window=window,
        context_window_source=window_source,
        reply_reservation=reservation,
        budget=budget,
        would_be_trimmed=trimmed,
        token_estimator=TOKEN_ESTIMATOR,
        notes=notes,
        retrieval=retrieved,
        status_messages=_status_messages(persona, enriched[0] if enriched else None),
    )


def _trimmed(blocks: list[PreviewBlock], budget: int, notes: list[str]) -> list[str]:
    """The sources of the blocks trimmed to fit ``budget``, lowest priority (then the
    oldest) first; the system prompt and the trigger are never trimmed."""
    trimmed: list[str] = []
    remaining = sum(b.tokens for b in blocks)
    candidates = sorted(
        (i for i, b in enumerate(blocks) if b.source not in UNTRIMMABLE),
        key=lambda i: (blocks[i].priority, i),
    )
    for i in candidates:
        if remaining <= budget:
            break
        trimmed.append(blocks[i].source)
        remaining -= blocks[i].tokens
    if remaining > budget:
        notes.append("the system prompt and the trigger alone exceed the budget")
    return trimmed


def render_text(preview: Preview) -> str:
    """A human-readable rendering for ``personas preview``."""
    lines = [
        f"persona {preview.slug} ({preview.origin}"
        + (f" {preview.draft_id}" if preview.draft_id else "")
        + f") model {preview.model}",
        f"params: {preview.params}",
        "",
    ]
    for block in preview.messages:
        lines.append(
            f"--- {block.role} · {block.source} · priority {block.priority} · ~{block.tokens} tok"
        )
        lines.append(block.content.rstrip("\n"))
        lines.append("")
    lines.append(
        f"estimated tokens: {preview.estimated_tokens} / budget {preview.budget} "
        f"(window {preview.context_window} [{preview.context_window_source}] "
        f"- reply {preview.reply_reservation})"
    )
    lines.append("would be trimmed: " + (", ".join(preview.would_be_trimmed) or "nothing"))
    lines += [f"status message: {m}" for m in preview.status_messages]
    lines += [f"note: {n}" for n in preview.notes]
    lines.append(f"estimator: {preview.token_estimator}")
    return "\n".join(lines)
