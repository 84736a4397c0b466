"""``run_persona`` / ``personas run``: one real call for the working tree's or a draft's
version of a persona (Prompt Studio's ``run``, ``reference/prompt-studio-api.txt``).

Nothing is published or persisted: the persona file is enriched as the catalogue's
pipeline would enrich its published model (``inference.enricher``) and sent to the
backends of the base model it wraps.

Retrieval runs over the knowledge folders of the tree the persona comes from (the
caller's ``retriever``, a ``sandbox.tree_retrieval.TreeRetrieval``), never over what
the catalogue last indexed.  The catalogue makes the call (``Catalogue.run_persona``):
the embedded one on the base model's backends (``mirror`` until ``[backends]``
configures one), a remote ScaiGrid through its ``POST /v1/inference/chat``, whose notes
then say that its collections were not searched.

The result says which backend answered (provider, backend model, upstream model)
and carries the retrieval provenance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from personas_as_code.catalogue.calls import PersonaRun
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.inference.chat import provenance
from personas_as_code.inference.completion import ChatUsage
from personas_as_code.inference.enricher import Retriever
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.loader.repo import LoadedPersona
from personas_as_code.sandbox.enrichment import profile_of
from personas_as_code.sandbox.models import HistoryMessage, IgnoredArgument, RetrievedRef
from personas_as_code.schemas.config import BackendSettings
from personas_as_code.schemas.errors import ConfigError
from pydantic import BaseModel, Field

NO_RETRIEVER = "no knowledge of the tree under test was given to this run"


@dataclass
class RunRequest:
    """The message, the conversation before it and the overrides of one run."""

    message: str
    history: list[HistoryMessage] = field(default_factory=list)
    system_prompt_override: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    """HTTP headers merged into the request to a remote catalogue (they win over its
    defaults); a test persona's headers.  The embedded catalogue has no request to send."""


class RunBackend(BaseModel):
    """Which backend answered."""

    provider: str = Field(
        description="mirror (no model was called) | openai | local (a real model) | "
        "scaigrid (a remote catalogue)."
    )
    backend_model: str | None = Field(description="The catalogue's backend model.")
    upstream_model: str | None = None
    base_url: str | None = None


class RunUsage(ChatUsage):
    pass  # the chat answer's usage under the run's name (its schema keeps the name)


class RunResult(BaseModel):
    """The answer of one sandbox run (nothing published or persisted)."""

    slug: str
    origin: Literal["repo", "draft"]
    draft_id: str | None = None
    model: str = Field(description="The base model the persona wraps (what was called).")
    catalogue: Literal["embedded", "remote"]
    answer: str
    finish_reason: str | None = None
    usage: RunUsage
    backend: RunBackend
    params: dict[str, Any] = Field(description="default_params under the overrides.")
    retrieval_ran: bool
    retrieval: list[RetrievedRef] = Field(description="The chunks sent, with their provenance.")
    notes: list[str] = Field(default_factory=list)
    ignored: list[IgnoredArgument] = Field(
        default_factory=list,
        description="Arguments of the seed's run body that mean nothing for a persona here: "
        "accepted, not used, each with why.",
    )
    persisted: Literal[False] = False


def run_persona(
    persona: LoadedPersona,
    request: RunRequest,
    catalogue: Catalogue | None,
    *,
    origin: Literal["repo", "draft"] = "repo",
    draft_id: str | None = None,
    retriever: Retriever | None = None,
    backends: Mapping[str, BackendSettings] | None = None,
    root: Path | None = None,
) -> RunResult:
    """Enrich and send one message for ``persona`` through ``catalogue``'s backends,
    retrieving with ``retriever`` (the knowledge of the tree ``persona`` comes from).

    ``backends`` is that tree's ``[backends]``: on the embedded catalogue they decide
    where the base model's backend models send the call, applied or not (a fresh
    clone answers as the repo says, not as the catalogue was last applied); ``root`` is
    the repo folder a ``local`` backend's relative ``model_path`` is under."""
    messages = [ChatMessage(m.role, m.content) for m in request.history]
    messages.append(ChatMessage("user", request.message))
    overrides = {k: v for k, v in request.overrides.items() if v is not None}
    base: dict[str, Any] = {
        "slug": persona.slug,
        "origin": origin,
        "draft_id": draft_id,
        "model": persona.spec.model,
    }
    if catalogue is None:
        raise ConfigError("personas run needs a catalogue (the embedded one or a remote ScaiGrid)")
    answer = catalogue.run_persona(
        PersonaRun(
            profile=profile_of(persona),
            model=persona.spec.model,
            messages=messages,
            params=overrides,
            retriever=retriever,
            system_prompt_override=request.system_prompt_override,
            no_retrieval_reason=NO_RETRIEVER,
            backends=backends,
            root=root,
            headers=request.headers,
        )
    )
    enrichment = answer.enrichment
    assert enrichment is not None
    return RunResult(
        **base,
        catalogue=answer.catalogue,
        answer=answer.content,
        finish_reason=answer.finish_reason,
        usage=RunUsage(**answer.usage.model_dump()),
        backend=RunBackend(**answer.backend.model_dump()),
        params=answer.params,
        retrieval_ran=enrichment.retrieval_ran,
        retrieval=[RetrievedRef(**r) for r in provenance(enrichment)],
        notes=answer.notes,
    )


def render_text(result: RunResult) -> str:
    """A human-readable rendering for ``personas run``."""
    backend = result.backend
    where = f" {backend.base_url}" if backend.base_url else ""
    upstream = f" (model {backend.upstream_model})" if backend.upstream_model else ""
    origin = result.origin + (f" {result.draft_id}" if result.draft_id else "")
    lines = [
        f"persona {result.slug} ({origin}) on {result.model}, {result.catalogue} catalogue",
        f"answered by: {backend.provider}{where}{upstream}"
        + (f" as backend {backend.backend_model}" if backend.backend_model else ""),
        f"params: {result.params}",
    ]
    if result.retrieval:
        lines.append("retrieved:")
        lines += [
            f"  [{n}] {r.source_type}:{r.source_id} {r.document} "
            f"(chunk {r.chunk}, score {r.score:.3f})"
            for n, r in enumerate(result.retrieval, 1)
        ]
    lines += [f"note: {n}" for n in result.notes]
    lines += ["", "--- answer ---", result.answer.rstrip("\n"), "--- end ---"]
    usage = result.usage
    lines.append(
        f"tokens: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion "
        f"= {usage.total_tokens}; nothing was published or persisted"
    )
    return "\n".join(lines)
