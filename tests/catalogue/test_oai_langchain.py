"""``/oai/v1`` through a second real client library: LangChain's ``ChatOpenAI``
(``langchain-openai``), invoked and streamed, status chunks included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from tests.catalogue.oai_kit import MODEL, PROMPT, QUESTION, OaiServer, oai_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OaiServer]:
    with oai_server(f"sqlite:///{tmp_path_factory.mktemp('oai') / 'c.db'}") as running:
        yield running


def chat(server: OaiServer, **options: object) -> ChatOpenAI:
    return ChatOpenAI(
        model=MODEL,
        base_url=server.base_url,
        api_key=server.key,
        max_retries=0,
        **options,
    )


def test_invoke_answers_through_the_persona(server: OaiServer) -> None:
    answer = chat(server, temperature=0.2).invoke(
        [SystemMessage("Be brief."), HumanMessage(QUESTION)]
    )
    text = str(answer.content)
    assert "--- message 1 (system) ---\n" + PROMPT in text  # the persona's prompt first
    assert "valid for 30 minutes" in text  # the retrieved context
    assert "--- message 3 (system) ---\nBe brief." in text and QUESTION in text
    assert '"temperature": 0.2' in text
    assert answer.usage_metadata is not None and answer.usage_metadata["total_tokens"] > 0


def test_stream_yields_the_answer_and_the_usage(server: OaiServer) -> None:
    pieces = list(chat(server, stream_usage=True).stream(QUESTION))
    assert all(isinstance(p, AIMessageChunk) for p in pieces)
    text = "".join(str(p.content) for p in pieces)
    assert PROMPT in text and "valid for 30 minutes" in text
    assert text == str(chat(server).invoke(QUESTION).content)  # the status chunks add nothing
    usage = [p.usage_metadata for p in pieces if p.usage_metadata]
    assert len(usage) == 1 and usage[0]["total_tokens"] > 0
