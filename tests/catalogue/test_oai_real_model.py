"""``/oai/v1`` with a real model behind the persona: SmolLM2-135M in-process through
llama.cpp (the ``[local]`` extra; skipped without it, a failure in CI), called by the
official ``openai`` SDK, plain and streamed."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from personas_as_code.catalogue.backends import configure_backend

from tests.catalogue.oai_kit import MODEL, PROMPT, oai_server
from tests.inference.realmodel import assert_model_answer, require_model

pytestmark = [pytest.mark.model, pytest.mark.slow]

ASK = "What is the capital of France? Answer in one short sentence."


def test_a_real_model_answers_through_the_openai_sdk(tmp_path: Path) -> None:
    require_model()
    with oai_server(f"sqlite:///{tmp_path / 'c.db'}") as server:
        configure_backend(
            server.live.engine, "openai/gpt-4o", {"provider": "local"}, managed_by="tests"
        )
        sdk = openai.OpenAI(
            base_url=server.base_url, api_key=server.key, max_retries=0, timeout=300
        )
        answer = sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": ASK}], temperature=0, max_tokens=40
        )
        text = answer.choices[0].message.content or ""
        assert_model_answer(text, PROMPT, ASK)
        assert answer.usage is not None and answer.usage.completion_tokens > 0
        chunks = list(
            sdk.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": ASK}],
                temperature=0,
                max_tokens=40,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert_model_answer(streamed, PROMPT, ASK)
    assert streamed.strip() == text.strip()  # temperature 0: the same answer, in pieces
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
