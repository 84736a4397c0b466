"""A published persona served on a real loopback server, for the ``/oai/v1`` tests: the
catalogue's REST app, tenant ``acme`` (its key) and ``globex``, persona ``helper`` with
knowledge indexed, on the offline ``mirror`` backend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from personas_as_code.catalogue.api import PersonaCreate, PersonaUpdate, SourceCreate
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from sqlalchemy import Engine

from tests.catalogue.conftest import Live, make_key, serve_live
from tests.inference.kb import HELP_DOCS, index_docs

MODEL = "tenant/acme/helper"
PROMPT = "You are the Acme helper. Cite the document you used."
QUESTION = "How do I reset my password?"


@dataclass
class OaiServer:
    """The server, its ``/oai/v1`` base URL and the keys of ``acme`` and ``globex``."""

    live: Live
    other_key: str

    @property
    def base_url(self) -> str:
        return self.live.base_url + "/oai/v1"

    @property
    def key(self) -> str:
        return self.live.key


def publish_helper(engine: Engine, tenant: str = "acme", **fields: Any) -> str:
    """Publish persona ``helper`` (RAG over indexed ``col_help``) for ``tenant``."""
    cat = EmbeddedCatalogue(engine, tenant)
    persona = cat.create_persona(
        PersonaCreate(
            name="Helper",
            slug="helper",
            model_slug="scaigrid/gpt-4o",
            system_prompt=PROMPT,
            rag_enabled=True,
            rag_top_k=2,
            rag_context_template="Answer from this context:\n$context",
            **fields,
        )
    )
    cat.add_source(persona.id, SourceCreate(source_type="collection", source_id="col_help"))
    cat.publish_persona(persona.id)
    index_docs(engine, cat.caller.tenant_id, {"col_help": HELP_DOCS})
    return f"tenant/{tenant}/helper"


def set_status_messages(engine: Engine, mode: str, messages: dict[str, str] | None) -> None:
    """Change ``acme``'s ``helper`` status messages in the catalogue."""
    cat = EmbeddedCatalogue(engine, "acme")
    persona = next(p for p in cat.iter_personas() if p.slug == "helper")
    update = PersonaUpdate(status_messages_mode=mode, rag_status_messages=messages)
    cat.update_persona(persona.id, update)


@contextlib.contextmanager
def oai_server(database_url: str, **app_options: Any) -> Iterator[OaiServer]:
    """The app on a loopback port with ``helper`` published for ``acme``."""
    with serve_live(database_url, **app_options) as live:
        other = make_key(live.engine, "globex")
        publish_helper(live.engine)
        yield OaiServer(live, other)
