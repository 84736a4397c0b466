"""The ``local`` backend: a real model (SmolLM2-135M-Instruct, the ``[local]`` extra's)
run in-process by llama.cpp, called through ``make_backend`` as the catalogue calls it,
and through ``personas apply`` / ``personas run`` in fresh processes.

The model is loaded once for the module (the backend shares it per process).  The
typed failures (no extra, no file, a path out of the repo) run without the model."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from personas_as_code.inference.backends import make_backend
from personas_as_code.inference.local_llama import DEFAULT_MODEL_FILE, LocalLlamaBackend
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.schemas.config import BackendSettings
from personas_as_code.schemas.errors import BackendError, BackendNotConfigured

from tests.inference.realmodel import (
    QUESTION,
    add_backend,
    assert_model_answer,
    personas,
    require_model,
)
from tests.repos import copy_examples

SYSTEM = "You are a geography teacher. Answer in one short sentence."
ASK = [ChatMessage("system", SYSTEM), ChatMessage("user", "What is the capital of France?")]
GREEDY = {"temperature": 0, "max_tokens": 40}
BACKEND = "openai/gpt-4o"

model = pytest.mark.model


@pytest.fixture(scope="module")
def local() -> LocalLlamaBackend:
    """The local backend with the default model, loaded (once) by a first call."""
    require_model()
    backend = make_backend(BACKEND, {"provider": "local"})
    assert isinstance(backend, LocalLlamaBackend)
    backend.complete([ChatMessage("user", "Hi")], {"max_tokens": 1})
    return backend


@model
def test_a_real_model_answers(local: LocalLlamaBackend) -> None:
    answer = local.complete(ASK, GREEDY)
    assert_model_answer(answer.content, SYSTEM, ASK[1].content)
    assert "Paris" in answer.content  # knowledge no prompt carried: a model produced it
    assert answer.backend.provider == "local"
    assert answer.backend.upstream_model == DEFAULT_MODEL_FILE
    assert answer.backend.backend_model == BACKEND
    assert answer.finish_reason in ("stop", "length")
    assert answer.usage.prompt_tokens > 10 and answer.usage.completion_tokens > 0


@model
def test_temperature_zero_is_deterministic(local: LocalLlamaBackend) -> None:
    first = local.complete(ASK, GREEDY)
    local.complete([ChatMessage("user", "Tell me a joke.")], GREEDY)  # another call between
    second = local.complete(ASK, GREEDY)
    assert first.content == second.content
    assert first.usage == second.usage


@model
def test_the_stream_is_the_whole_answer_in_pieces(local: LocalLlamaBackend) -> None:
    whole = local.complete(ASK, GREEDY)
    deltas = list(local.stream(ASK, GREEDY))
    pieces = [d.content for d in deltas if d.content]
    assert len(pieces) > 1  # token by token, not one block
    assert "".join(pieces) == whole.content
    assert [d.finish_reason for d in deltas[:-1]] == [None] * (len(deltas) - 1)
    assert deltas[-1].finish_reason == whole.finish_reason
    assert deltas[-1].usage == whole.usage


@model
def test_max_tokens_and_stop_are_honoured(local: LocalLlamaBackend) -> None:
    short = local.complete(
        [ChatMessage("user", "Write a long story about a dragon.")], GREEDY | {"max_tokens": 5}
    )
    assert 0 < short.usage.completion_tokens <= 5
    assert short.finish_reason == "length"
    free = local.complete(ASK, GREEDY)
    word = free.content.split()[1]
    cut = local.complete(ASK, GREEDY | {"stop": [word]})
    assert word not in cut.content
    assert free.content.startswith(cut.content)


@model
def test_a_relative_model_path_is_read_from_the_repo(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    shutil.copy(require_model(), tmp_path / "models" / "smol.gguf")
    config = {"provider": "local", "model_path": "models/smol.gguf", "n_ctx": 1024}
    backend = make_backend(BACKEND, config, root=tmp_path)
    answer = backend.complete(ASK, GREEDY)
    assert_model_answer(answer.content, SYSTEM)
    assert answer.backend.upstream_model == "smol.gguf"


@model
def test_a_file_that_is_not_a_model_is_a_typed_error(tmp_path: Path) -> None:
    require_model()
    (tmp_path / "fake.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    backend = make_backend(
        BACKEND, {"provider": "local", "model_path": str(tmp_path / "fake.gguf")}
    )
    with pytest.raises(BackendNotConfigured, match=r"cannot load fake\.gguf as a GGUF model"):
        backend.complete(ASK, GREEDY)


@model
def test_a_prompt_past_the_context_window_is_refused(tmp_path: Path) -> None:
    require_model()
    backend = make_backend(BACKEND, {"provider": "local", "n_ctx": 128})
    with pytest.raises(BackendError, match="exceed context window"):
        backend.complete([ChatMessage("user", "word " * 400)], GREEDY)


# --- typed failures that need no model ------------------------------------------------


def test_a_missing_model_file_is_not_configured(tmp_path: Path) -> None:
    backend = make_backend(BACKEND, {"provider": "local", "model_path": str(tmp_path / "no.gguf")})
    assert backend.info.provider == "local" and backend.info.upstream_model == "no.gguf"
    with pytest.raises(BackendNotConfigured, match=r"the model file .*no\.gguf does not exist"):
        backend.complete(ASK, GREEDY)
    with pytest.raises(BackendNotConfigured):
        list(backend.stream(ASK, GREEDY))


def test_without_llama_cpp_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # what an absent package does
    backend = make_backend(BACKEND, {"provider": "local", "model_path": str(tmp_path / "m.gguf")})
    with pytest.raises(BackendNotConfigured) as caught:
        backend.complete(ASK, GREEDY)
    assert 'pip install "personas-as-code[local]"' in caught.value.message


def test_a_relative_model_path_may_not_leave_the_repo(tmp_path: Path) -> None:
    outside = tmp_path / "outside.gguf"
    outside.write_bytes(b"GGUF")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "inside.gguf").symlink_to(outside)
    backend = make_backend(BACKEND, {"provider": "local", "model_path": "inside.gguf"}, root=repo)
    with pytest.raises(BackendNotConfigured, match="leaves the repo"):
        backend.complete(ASK, GREEDY)
    with pytest.raises(ValueError, match="must stay inside the repo"):
        BackendSettings(provider="local", model_path="../outside.gguf")
    # without a repo to resolve it against, a relative path is refused, not guessed
    backend = make_backend(BACKEND, {"provider": "local", "model_path": "inside.gguf"})
    with pytest.raises(BackendNotConfigured, match="is relative"):
        backend.complete(ASK, GREEDY)


def test_unusable_params_are_refused_before_any_model_is_loaded(tmp_path: Path) -> None:
    backend = make_backend(BACKEND, {"provider": "local", "model_path": str(tmp_path / "x.gguf")})
    with pytest.raises(BackendError, match="unusable params"):
        backend.complete(ASK, {"temperature": "hot"})


# --- the CLI, end to end ----------------------------------------------------------------


@model
@pytest.mark.slow
def test_personas_run_answers_from_the_local_model(tmp_path: Path) -> None:
    require_model()
    repo = copy_examples(tmp_path / "examples")
    add_backend(repo, 'provider = "local"\n')
    planned = personas("plan", cwd=repo)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert f"mirror → local {DEFAULT_MODEL_FILE} (the [local] extra's model)" in planned.stdout
    applied = personas("apply", "--auto-approve", cwd=repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert personas("plan", "--detailed-exitcode", cwd=repo).returncode == 0  # stored as planned

    ran = personas("run", "support-agent", QUESTION, "--max-tokens", "48", cwd=repo)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr and "Exception ignored" not in ran.stderr, ran.stderr
    assert f"answered by: local (model {DEFAULT_MODEL_FILE}) as backend {BACKEND}" in ran.stdout
    assert "knowledge/col_product_docs/refunds.md" in ran.stdout  # retrieval went with it
    answer = ran.stdout.split("--- answer ---\n", 1)[1].split("\n--- end ---", 1)[0]
    prompt = (repo / "personas" / "support-agent.yaml").read_text()
    refunds = (repo / "knowledge" / "col_product_docs" / "refunds.md").read_text()
    assert_model_answer(answer, prompt, refunds, QUESTION)
    tokens = re.search(r"^tokens: (\d+) prompt \+ (\d+) completion", ran.stdout, re.MULTILINE)
    assert tokens, ran.stdout
    assert int(tokens[1]) > 100 and 0 < int(tokens[2]) <= 48
