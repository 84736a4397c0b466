"""The offline embedder leaves the process's logging as it found it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

_PROBE = """
import logging, sys
root = logging.getLogger()
{setup}
before = (list(root.handlers), root.level)
from personas_as_code.knowledge_index.embeddings import WordLlamaEmbedder
vectors = WordLlamaEmbedder().embed(["is the root logger untouched?"])
assert vectors.shape == (1, 256), vectors.shape
after = (list(root.handlers), root.level)
print("same" if before == after else f"changed: {{before}} -> {{after}}")
logging.getLogger("httpx").info("HTTP Request: GET http://leak.example")
"""


def _run(setup: str) -> subprocess.CompletedProcess[str]:
    # a fresh interpreter: wordllama configures logging when first imported, which
    # this test process may already have done
    return subprocess.run(
        [sys.executable, "-c", _PROBE.format(setup=setup)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_loading_wordllama_leaves_an_unconfigured_root_logger_alone() -> None:
    result = _run("")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "same"
    assert "INFO" not in result.stderr and "leak.example" not in result.stderr


def test_loading_wordllama_keeps_the_applications_own_logging() -> None:
    result = _run("logging.basicConfig(level=logging.WARNING, format='app: %(message)s')")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "same"
    assert "leak.example" not in result.stderr


_RACE = """
import logging, threading, time
done = threading.Event()

def chatter():  # another case's HTTP calls, while this one's retrieval loads wordllama
    while not done.is_set():
        logging.getLogger("httpx").info("HTTP Request: POST http://leak.example")
        time.sleep(0.001)

thread = threading.Thread(target=chatter)
thread.start()
from personas_as_code.knowledge_index.embeddings import WordLlamaEmbedder
WordLlamaEmbedder().embed(["while another thread logs"])
done.set()
thread.join()
logging.getLogger("x").warning("a warning still shows")
"""


def test_other_threads_log_nothing_while_wordllama_loads() -> None:
    """``personas test`` runs cases at once: while one loads the embedder, another's
    ``INFO:httpx`` lines must not reach stderr (they did, during wordllama's import)."""
    result = subprocess.run(
        [sys.executable, "-c", _RACE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "leak.example" not in result.stderr
    assert result.stderr.strip() == "a warning still shows"


def test_an_endpoint_repeating_the_key_in_its_error_is_redacted() -> None:
    """Issue 19: the embeddings endpoint's error text reaches plan/apply output, so the key
    sent to it (an opaque value) and every secret shape are redacted first."""
    from personas_as_code.knowledge_index.embeddings import EmbeddingError, OpenAIEmbedder

    from tests.inference.hostile import LEAKED, serve_hostile

    key = "opaque-embeddings-credential-3Wd8"
    with serve_hostile("echo-key") as upstream:
        embedder = OpenAIEmbedder(
            upstream.base_url, "m", api_key_env="EMB_KEY", env={"EMB_KEY": key}, retries=0
        )
        with pytest.raises(EmbeddingError) as caught:
            embedder.embed(["hello"])
    assert "HTTP 401" in caught.value.message and "[REDACTED]" in caught.value.message
    assert key not in str(caught.value) and LEAKED not in str(caught.value)
