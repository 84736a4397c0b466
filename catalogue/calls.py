"""What a model call through a catalogue takes and answers (``Catalogue.run_persona``,
``Catalogue.call_model``), and where a catalogue keeps its knowledge index.

Light on purpose: the enricher and the knowledge index are named for the type checker
only, so a command talking to a remote catalogue loads neither to know these shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from personas_as_code.inference.completion import ChatUsage
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.schemas.config import BackendSettings
from pydantic import BaseModel

if TYPE_CHECKING:
    from personas_as_code.inference.enricher import Enrichment, PersonaProfile, Retriever
    from sqlalchemy import Engine

NO_RETRIEVAL = "no knowledge retrieval was given for this run"


@dataclass(frozen=True, kw_only=True)
class ModelCall:
    """One plain call to a frontend model: no persona enrichment, no params."""

    model: str
    messages: Sequence[ChatMessage]
    backends: Mapping[str, BackendSettings] | None = None
    """A tree's ``[backends]``: where the model's backend models send the call, applied
    or not (a catalogue that calls no backends itself ignores them)."""
    root: Path | None = None
    """The repo folder a ``local`` backend's relative ``model_path`` is under."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """HTTP headers merged into a request to a remote catalogue (they win over its
    defaults); a catalogue that sends no request ignores them."""


@dataclass(frozen=True, kw_only=True)
class PersonaRun(ModelCall):
    """A call for a persona that need not be published (a repo file or a draft):
    enriched from ``profile`` and sent to the backends of its base model ``model``,
    retrieving with ``retriever`` (the knowledge of the tree the persona comes from)."""

    profile: PersonaProfile
    params: Mapping[str, Any] = field(default_factory=dict)
    retriever: Retriever | None = None
    system_prompt_override: str | None = None
    no_retrieval_reason: str = NO_RETRIEVAL


class AnsweredBy(BaseModel):
    """Which backend answered a call through a catalogue (a remote may not say which of
    its backend models it was)."""

    provider: str
    backend_model: str | None
    upstream_model: str | None = None
    base_url: str | None = None


@dataclass(frozen=True)
class CallAnswer:
    """What a call through a catalogue answered, and what went into it."""

    catalogue: Literal["embedded", "remote"]
    content: str
    finish_reason: str | None
    usage: ChatUsage
    backend: AnsweredBy
    params: dict[str, Any] = field(default_factory=dict)
    """The params sent (a persona's ``default_params`` under the overrides)."""
    enrichment: Enrichment | None = None
    """The persona enrichment that made the messages (None for a plain call)."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KnowledgeIndex:
    """Where a catalogue keeps its knowledge index: the database and the tenant's key."""

    engine: Engine
    tenant_id: str
