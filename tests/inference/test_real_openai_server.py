"""The ``openai`` backend against a real OpenAI-compatible server that is not ours:
llama.cpp's own (``python -m llama_cpp.server``, the ``[local]`` extra's ``[server]``),
serving SmolLM2-135M-Instruct on a loopback port.  Called through ``make_backend`` as
the catalogue calls it, and through ``personas run`` in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from personas_as_code.inference.backends import make_backend
from personas_as_code.inference.local_llama import THREADS
from personas_as_code.inference.messages import ChatMessage

from tests.inference.realmodel import (
    QUESTION,
    add_backend,
    assert_model_answer,
    personas,
    require_model,
)
from tests.loopback import free_port
from tests.repos import copy_examples

ALIAS = "smollm2-135m"
SYSTEM = "You are a geography teacher. Answer in one short sentence."
ASK = [ChatMessage("system", SYSTEM), ChatMessage("user", "What is the capital of France?")]
GREEDY = {"temperature": 0, "max_tokens": 40}
BACKEND = "openai/gpt-4o"
START_TIMEOUT = 120.0

pytestmark = [pytest.mark.model, pytest.mark.slow]


@dataclass(frozen=True)
class LlamaServer:
    """llama.cpp's OpenAI-compatible server, running."""

    base_url: str  # the API root: .../v1
    log: Path

    def config(self) -> dict[str, str]:
        """A ``connection_config`` pointing backend ``openai/gpt-4o`` at it."""
        return {"provider": "openai", "base_url": self.base_url, "model": ALIAS}


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """``python -m llama_cpp.server`` on a free port, ready (``/v1/models`` answers);
    stopped, whatever happened, when the module's tests are done."""
    model = require_model()
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", ALIAS,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
        "--n_threads", str(THREADS), "--n_threads_batch", str(THREADS),  # as ours: fewer waits
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({process.returncode}):\n{log.read_text()}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready in {START_TIMEOUT:g}s:\n{log.read_text()}")
            time.sleep(0.2)
        yield LlamaServer(base_url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_the_server_is_llama_cpp_and_not_ours(llama_server: LlamaServer) -> None:
    models = httpx.get(f"{llama_server.base_url}/models", timeout=5).json()
    assert [m["id"] for m in models["data"]] == [ALIAS]
    assert models["data"][0]["owned_by"] == "me"  # llama_cpp.server's own listing


def test_the_openai_backend_gets_a_real_answer(llama_server: LlamaServer) -> None:
    backend = make_backend(BACKEND, llama_server.config())
    answer = backend.complete(ASK, GREEDY)
    assert_model_answer(answer.content, SYSTEM, ASK[1].content)
    assert "Paris" in answer.content
    assert answer.backend.provider == "openai"
    assert answer.backend.upstream_model == ALIAS
    assert answer.backend.base_url == llama_server.base_url
    assert answer.usage.prompt_tokens > 10 and 0 < answer.usage.completion_tokens <= 40


def test_the_openai_backend_streams_a_real_answer(llama_server: LlamaServer) -> None:
    backend = make_backend(BACKEND, llama_server.config())
    deltas = list(backend.stream(ASK, GREEDY))
    pieces = [d.content for d in deltas if d.content]
    assert len(pieces) > 1  # server-sent events, token by token
    text = "".join(pieces)
    assert_model_answer(text, SYSTEM, ASK[1].content)
    assert "Paris" in text
    assert [d.finish_reason for d in deltas[:-1]] == [None] * (len(deltas) - 1)
    assert deltas[-1].finish_reason in ("stop", "length")
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens > 0


def test_max_tokens_reaches_the_server(llama_server: LlamaServer) -> None:
    backend = make_backend(BACKEND, llama_server.config())
    story = [ChatMessage("user", "Write a long story about a dragon.")]
    answer = backend.complete(story, {"temperature": 0, "max_tokens": 5})
    assert answer.finish_reason == "length"
    assert answer.usage.completion_tokens == 5


def test_personas_run_answers_through_the_server(llama_server: LlamaServer, tmp_path: Path) -> None:
    repo = copy_examples(tmp_path / "examples")
    add_backend(
        repo,
        f'provider = "openai"\nbase_url = "{llama_server.base_url}"\nmodel = "{ALIAS}"\n',
    )
    applied = personas("apply", "--auto-approve", cwd=repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"openai {llama_server.base_url} (model {ALIAS})" in applied.stdout

    ran = personas("run", "support-agent", QUESTION, "--max-tokens", "60", "-f", "json", cwd=repo)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads(ran.stdout)
    assert result["backend"] == {
        "provider": "openai",
        "backend_model": BACKEND,
        "upstream_model": ALIAS,
        "base_url": llama_server.base_url,
    }
    prompt = (repo / "personas" / "support-agent.yaml").read_text()
    refunds = (repo / "knowledge" / "col_product_docs" / "refunds.md").read_text()
    assert_model_answer(result["answer"], prompt, refunds, QUESTION)
    assert 0 < result["usage"]["completion_tokens"] <= 60
    assert result["retrieval"]  # the persona's knowledge went with the question
