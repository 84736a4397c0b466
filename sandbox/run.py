"""``run_persona`` / ``personas run``: one real call for the working tree's or a draft's
version of a persona (Prompt Studio's ``run``, ``reference/prompt-studio-api.txt``).

Nothing is published or persisted: the persona file is enriched as the catalogue's
pipeline would enrich its published model (``inference.enricher``) and sent to the
backends of the base model it wraps.

Retrieval runs over the knowledge folders of the tree the persona comes from (the
caller's ``retriever``, a ``sandbox.tree_retrieval.TreeRetrieval``), never over what
the catalogue last indexed.  The catalogue supplies the backends:

* the embedded catalogue: the call goes to the base model's backends (``mirror`` until
  ``[backends]`` configures one);
* a remote ScaiGrid: the enriched messages (the context included) go to its
  ``POST /v1/inference/chat`` with the base model, and the notes say that retrieval ran
  here and the remote's collections were not searched.

The result says which backend answered (provider, backend model, upstream model)
and carries the retrieval provenance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from personas_as_code.catalogue.backends import wanted_settings
from personas_as_code.catalogue.chat import prepare_persona_run
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.inference.chat import complete, provenance
from personas_as_code.inference.enricher import Retriever, enrich
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.loader.repo import LoadedPersona
from personas_as_code.sandbox.enrichment import REMOTE_RETRIEVAL, profile_of
from personas_as_code.sandbox.models import HistoryMessage, RetrievedRef
from personas_as_code.schemas.config import BackendSettings
from personas_as_code.schemas.errors import BackendBadResponse, ConfigError
from pydantic import BaseModel, Field, ValidationError

REMOTE_PROVIDER = "scaigrid"
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


class RunUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


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
    persisted: Literal[False] = False


class _RemoteAnswer(BaseModel):
    """The part of a remote ``/v1/inference/chat`` answer a run reads."""

    class _Choice(BaseModel):
        class _Message(BaseModel):
            content: str | None = None

        message: _Message
        finish_reason: str | None = None

    choices: list[_Choice] = Field(min_length=1)
    usage: RunUsage | None = None
    backend: RunBackend | None = None


def run_persona(
    persona: LoadedPersona,
    request: RunRequest,
    catalogue: Any,
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
    base = {
        "slug": persona.slug,
        "origin": origin,
        "draft_id": draft_id,
        "model": persona.spec.model,
    }
    if isinstance(catalogue, EmbeddedCatalogue):
        call = prepare_persona_run(
            catalogue.engine,
            catalogue.caller,
            profile_of(persona),
            persona.spec.model,
            messages,
            overrides,
            retriever=retriever,
            system_prompt_override=request.system_prompt_override,
            no_retrieval_reason=NO_RETRIEVER,
            backend_configs=tree_backend_configs(backends, root),
        )
        result = complete(call)
        enrichment = call.enrichment
        assert enrichment is not None
        return RunResult(
            **base,
            catalogue="embedded",
            answer=result.answer.content,
            finish_reason=result.answer.finish_reason,
            usage=RunUsage(**result.answer.usage.to_dict()),
            backend=RunBackend(**result.answer.backend.to_dict()),
            params=call.params,
            retrieval_ran=enrichment.retrieval_ran,
            retrieval=[RetrievedRef(**r) for r in provenance(enrichment)],
            notes=call.notes,
        )
    if catalogue is None or not hasattr(catalogue, "call"):
        raise ConfigError("personas run needs a catalogue (the embedded one or a remote ScaiGrid)")
    enrichment = enrich(
        profile_of(persona),
        messages,
        overrides,
        retriever,
        system_prompt_override=request.system_prompt_override,
        no_retrieval_reason=NO_RETRIEVER,
    )
    notes = list(enrichment.notes)
    if enrichment.retrieval_ran:
        notes.append(REMOTE_RETRIEVAL)
    body = {
        **enrichment.params,
        "model": persona.spec.model,
        "messages": [m.to_dict() for m in enrichment.messages],
    }
    extra = {"headers": dict(request.headers)} if request.headers else {}
    answer = catalogue.call("POST", "/v1/inference/chat", json=body, parse=remote_answer, **extra)
    choice = answer.choices[0]
    usage = answer.usage or RunUsage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
    return RunResult(
        **base,
        catalogue="remote",
        answer=choice.message.content or "",
        finish_reason=choice.finish_reason,
        usage=usage,
        backend=answer.backend or RunBackend(provider=REMOTE_PROVIDER, backend_model=None),
        params=enrichment.params,
        retrieval_ran=enrichment.retrieval_ran,
        retrieval=[RetrievedRef(**r) for r in provenance(enrichment)],
        notes=notes,
    )


def tree_backend_configs(
    backends: Mapping[str, BackendSettings] | None, root: Path | None
) -> dict[str, dict[str, Any]]:
    """A tree's ``[backends]`` as the provider settings the catalogue would store
    (``root``: the repo folder relative ``local`` model paths are under)."""
    if not backends:
        return {}
    return {
        slug: wanted_settings(settings, root=root, backend_model=slug)
        for slug, settings in backends.items()
    }


def remote_answer(resp: httpx.Response) -> _RemoteAnswer:
    """The answer of a remote catalogue's ``POST /v1/inference/chat`` response."""
    try:
        return _RemoteAnswer.model_validate(resp.json()["data"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise BackendBadResponse(
            "the remote catalogue's /v1/inference/chat answered something that is not a chat "
            "completion"
        ) from exc


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
