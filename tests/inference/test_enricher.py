"""The persona enricher: prompt, retrieved context, params, provenance (real index)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from personas_as_code.catalogue.chat import index_retriever
from personas_as_code.catalogue.db import make_engine
from personas_as_code.inference.enricher import (
    DEFAULT_CONTEXT_TEMPLATE,
    PersonaProfile,
    RagSettings,
    enrich,
    merge_params,
)
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.knowledge_index.retrieval import SourceRef
from sqlalchemy import Engine

from tests.inference.kb import HELP_DOCS, SECRET_DOCS, index_docs

TENANT = "ten_test"
ASK = [ChatMessage("user", "How do I reset my password?")]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    index_docs(engine, TENANT, {"col_help": HELP_DOCS, "col_secret": SECRET_DOCS})
    yield engine
    engine.dispose()


def profile(**rag: object) -> PersonaProfile:
    sources = rag.pop("sources", (SourceRef("collection", "col_help"),))
    return PersonaProfile(
        slug="helper",
        system_prompt="You are the Acme helper.",
        rag=RagSettings(enabled=True, **rag),  # type: ignore[arg-type]
        sources=sources,  # type: ignore[arg-type]
        default_params={"temperature": 0.3, "max_tokens": 800, "top_p": 0.9},
    )


def test_request_params_win_over_default_params() -> None:
    merged = merge_params(
        {"temperature": 0.3, "max_tokens": 800, "top_p": 0.9},
        {"temperature": 0.9, "max_tokens": None, "seed": 7},
    )
    assert merged == {"temperature": 0.9, "max_tokens": 800, "top_p": 0.9, "seed": 7}


def test_prompt_then_context_then_the_conversation(engine: Engine) -> None:
    out = enrich(
        profile(context_template="Answer only from this:\n$context\nEnd of context."),
        ASK,
        {"temperature": 0.1},
        index_retriever(engine, TENANT),
    )
    roles = [m.role for m in out.messages]
    assert roles == ["system", "system", "user"]
    assert out.messages[0].content == "You are the Acme helper."
    context = out.messages[1].content
    assert context.startswith("Answer only from this:\n[1] collection:col_help · ")
    assert context.endswith("End of context.")
    assert "knowledge/col_help/password.md" in context and "valid for 30 minutes" in context
    assert out.messages[2] == ASK[0]
    assert out.params == {"temperature": 0.1, "max_tokens": 800, "top_p": 0.9}
    assert out.retrieval[0].document == "knowledge/col_help/password.md"
    assert out.retrieval_ran and out.queries == [ASK[0].content]


def test_the_default_template_is_used_without_one(engine: Engine) -> None:
    out = enrich(profile(), ASK, {}, index_retriever(engine, TENANT))
    assert out.context is not None
    assert out.context.startswith(DEFAULT_CONTEXT_TEMPLATE.split("$")[0] + "[1] ")
    assert any("default template" in n for n in out.notes)


def test_disabled_sources_are_skipped(engine: Engine) -> None:
    sources = (
        SourceRef("collection", "col_help", search_type="keyword"),
        SourceRef("collection", "col_secret", weight=10.0, status="disabled"),
    )
    out = enrich(profile(sources=sources), ASK, {}, index_retriever(engine, TENANT))
    assert out.retrieval and {c.source_id for c in out.retrieval} == {"col_help"}
    assert "on-call engineer" not in (out.context or "")
    assert any("skipped disabled source(s): collection:col_secret" in n for n in out.notes)
    # enabled, the heavier source wins the top place: the filter is what kept it out
    sources = (sources[0], SourceRef("collection", "col_secret", weight=10.0))
    out = enrich(profile(sources=sources), ASK, {}, index_retriever(engine, TENANT))
    assert out.retrieval[0].source_id == "col_secret"


def test_min_score_drops_the_weaker_chunks(engine: Engine) -> None:
    everything = enrich(profile(top_k=10), ASK, {}, index_retriever(engine, TENANT)).retrieval
    scores = sorted({c.score for c in everything}, reverse=True)
    assert len(scores) >= 2
    floor = (scores[0] + scores[1]) / 2
    kept = enrich(profile(top_k=10, min_score=floor), ASK, {}, index_retriever(engine, TENANT))
    assert kept.retrieval and all(c.score >= floor for c in kept.retrieval)
    assert len(kept.retrieval) < len(everything)
    none = enrich(profile(min_score=scores[0] + 0.01), ASK, {}, index_retriever(engine, TENANT))
    assert none.retrieval == [] and none.context is None
    assert [m.role for m in none.messages] == ["system", "user"]
    assert any("no chunk" in n for n in none.notes)


def test_top_k_bounds_the_chunks(engine: Engine) -> None:
    out = enrich(profile(top_k=1), ASK, {}, index_retriever(engine, TENANT))
    assert len(out.retrieval) == 1


def test_without_a_retriever_the_notes_say_why() -> None:
    out = enrich(profile(), ASK, {}, None, no_retrieval_reason="the catalogue is remote")
    assert out.context is None and not out.retrieval_ran
    assert "retrieval not run: the catalogue is remote" in out.notes


def test_rag_disabled_or_nothing_to_search(engine: Engine) -> None:
    plain = PersonaProfile(slug="p", system_prompt="Hi.", default_params={})
    out = enrich(plain, ASK, {}, index_retriever(engine, TENANT))
    assert [m.role for m in out.messages] == ["system", "user"] and not out.retrieval_ran
    only_system = [ChatMessage("system", "be terse")]
    out = enrich(profile(), only_system, {}, index_retriever(engine, TENANT))
    assert any("no user message" in n for n in out.notes)


def test_system_prompt_override_replaces_the_prompt() -> None:
    out = enrich(profile(), ASK, {}, None, system_prompt_override="Speak like a pirate.")
    assert out.messages[0].content == "Speak like a pirate."
    assert "system prompt overridden" in out.notes
