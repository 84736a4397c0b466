"""Embedders: text -> unit vectors, offline (wordllama) or over an OpenAI-compatible API.

An embedder has an ``identity``: plain JSON that names it completely (provider, model,
endpoint, the *name* of the environment variable holding the API key -- never the key).
The identity is stored with every index, and ``embedder_for_identity`` rebuilds the
same embedder from it, so a process that only has the database (``personas catalogue
serve``) embeds queries exactly as the index was built.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from personas_as_code.loader.distributions import installed_version
from personas_as_code.schemas.config import EmbeddingsSettings
from personas_as_code.schemas.errors import PersonasError
from personas_as_code.untrusted.secrets import redact_upstream

if TYPE_CHECKING:  # imported where used: only this embedder needs an HTTP client
    import httpx
    import numpy as np  # imported where vectors are made: a plan only reads the identity

WORDLLAMA_MODEL = "l2_supercat_256"
OPENAI_BATCH = 64
MAX_EMBED_CHARS = 8000  # a chunk is far smaller; bounds what one input may cost upstream


class EmbeddingError(PersonasError):
    """Embeddings could not be computed (endpoint down, bad answer, missing API key)."""

    code = "EMBEDDING_FAILED"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    identity: dict[str, Any]
    requests: int  # embedding calls made (one per batch), for tests and benches

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` as an ``(n, dim)`` float32 array of unit rows."""
        ...


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as float32 rows of length 1 (zero rows stay zero)."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise EmbeddingError(f"embeddings must be a matrix, got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


# --- offline: wordllama ------------------------------------------------------

_WORDLLAMA_LOCK = threading.Lock()
_WORDLLAMA: Any = None


@contextmanager
def root_logging_preserved() -> Iterator[None]:
    """Undo, on exit, whatever the body did to the root logger's handlers and level.

    wordllama calls ``logging.basicConfig(level=INFO)`` when imported, which would
    print every library's INFO lines (``INFO:httpx:...``) to stderr from then on.
    Restoring afterwards is not enough when other threads log meanwhile (``personas
    test`` runs cases at once): a root without handlers gets a stand-in for the time of
    the body -- ``basicConfig`` leaves a root that has a handler alone -- which prints
    warnings as Python's last-resort handler would."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    if not handlers:
        stand_in = logging.StreamHandler()
        stand_in.setLevel(logging.WARNING)
        root.addHandler(stand_in)
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)


def _load_wordllama() -> Any:
    """The wordllama model from the files inside its wheel; never downloads.

    ``WordLlama.load()`` looks for the tokenizer config in a folder the wheel does not
    have and would fetch it from the network; pointing its cache at the package folder
    (where the wheel ships ``tokenizers/`` and ``weights/``) with downloads disabled
    loads the shipped files only.
    """
    global _WORDLLAMA
    with _WORDLLAMA_LOCK:
        if _WORDLLAMA is None:
            with root_logging_preserved():
                import wordllama
                from wordllama import WordLlama

                package = Path(wordllama.__file__).parent
                _WORDLLAMA = WordLlama.load(cache_dir=package, disable_download=True)
        return _WORDLLAMA


class WordLlamaEmbedder:
    """The offline default: wordllama's 256-dimension model, shipped inside its wheel."""

    def __init__(self) -> None:
        self.identity = {
            "provider": "wordllama",
            "model": WORDLLAMA_MODEL,
            "version": installed_version("wordllama"),
        }
        self.requests = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, 256), dtype=np.float32)
        model = _load_wordllama()
        self.requests += 1
        vectors = model.embed([t[:MAX_EMBED_CHARS] for t in texts], norm=False, batch_size=64)
        return normalise_rows(vectors)


# --- OpenAI-compatible /v1/embeddings ---------------------------------------


class OpenAIEmbedder:
    """Any OpenAI-compatible ``POST {base_url}/embeddings`` (OpenAI, Ollama, vLLM, LiteLLM).

    ``base_url`` ends before ``/embeddings`` (e.g. ``http://127.0.0.1:11434/v1``); the
    API key is read from the environment variable ``api_key_env`` at call time.  429 and
    5xx answers are retried (honouring ``Retry-After``, capped), then an
    ``EmbeddingError`` says what the endpoint answered.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        env: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.identity = {
            "provider": "openai",
            "base_url": self.base_url,
            "model": model,
            "api_key_env": api_key_env,
        }
        self.requests = 0
        self._retries = retries
        self._env = env
        import httpx

        self._client = httpx.Client(timeout=timeout, transport=transport)

    def _shown(self, text: str) -> str:
        """The endpoint's text made fit to show: the key sent and every secret shape
        redacted, at most 200 characters."""
        env = os.environ if self._env is None else self._env
        key = env.get(self.api_key_env) if self.api_key_env else None
        return redact_upstream(text, (key,) if key else (), limit=200)

    def _headers(self) -> dict[str, str]:
        if not self.api_key_env:
            return {}
        env = os.environ if self._env is None else self._env
        key = env.get(self.api_key_env)
        if not key:
            raise EmbeddingError(
                f"the embeddings API key variable {self.api_key_env} is not set in the environment"
            )
        return {"Authorization": f"Bearer {key}"}

    def _post(self, batch: list[str]) -> list[list[float]]:
        import httpx

        url = f"{self.base_url}/embeddings"
        body = {"model": self.model, "input": batch}
        for attempt in range(self._retries + 1):
            self.requests += 1
            try:
                response = self._client.post(url, json=body, headers=self._headers())
            except httpx.HTTPError as exc:
                if attempt < self._retries:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise EmbeddingError(
                    f"embeddings endpoint {url} unreachable: {self._shown(str(exc))}"
                ) from None
            retryable = response.status_code == 429 or response.status_code >= 500
            if retryable and attempt < self._retries:
                time.sleep(_retry_after(response, attempt))
                continue
            if response.status_code != 200:
                raise EmbeddingError(
                    f"embeddings endpoint {url} answered HTTP {response.status_code}: "
                    f"{self._shown(response.text[:4096])}"
                )
            return _parse_embeddings(response, len(batch), url)
        raise EmbeddingError(f"embeddings endpoint {url} kept failing")  # pragma: no cover

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        rows: list[list[float]] = []
        items = [t[:MAX_EMBED_CHARS] for t in texts]
        for start in range(0, len(items), OPENAI_BATCH):
            rows += self._post(items[start : start + OPENAI_BATCH])
        if not rows:
            return np.zeros((0, 1), dtype=np.float32)
        return normalise_rows(np.array(rows, dtype=np.float32))


def _retry_after(response: httpx.Response, attempt: int) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "")), 0.0), 10.0)
    except ValueError:
        return 0.5 * (attempt + 1)


def _parse_embeddings(response: httpx.Response, count: int, url: str) -> list[list[float]]:
    try:
        data = response.json()["data"]
        ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
        rows = [[float(x) for x in item["embedding"]] for item in ordered]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise EmbeddingError(f"embeddings endpoint {url} gave a malformed answer") from None
    if len(rows) != count or len({len(r) for r in rows}) > 1 or not rows or not rows[0]:
        raise EmbeddingError(
            f"embeddings endpoint {url} returned {len(rows)} vectors for {count} inputs"
        )
    return rows


# --- identity <-> embedder ---------------------------------------------------

_CACHE_LOCK = threading.Lock()
_CACHE: dict[str, Embedder] = {}


def identity_key(identity: Mapping[str, Any]) -> str:
    """A stable text form of an identity (a cache key, and part of the settings hash)."""
    return json.dumps(dict(identity), sort_keys=True, separators=(",", ":"))


def embedder_for_identity(identity: Mapping[str, Any]) -> Embedder:
    """The embedder an index was built with, rebuilt from its stored identity (cached)."""
    key = identity_key(identity)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        provider = identity.get("provider")
        embedder: Embedder
        if provider == "wordllama":
            embedder = WordLlamaEmbedder()
        elif provider == "openai":
            embedder = OpenAIEmbedder(
                str(identity["base_url"]),
                str(identity["model"]),
                api_key_env=identity.get("api_key_env"),
            )
        else:
            raise EmbeddingError(f"unknown embeddings provider {provider!r} in the index")
        _CACHE[key] = embedder
        return embedder


def embedder_for_settings(settings: EmbeddingsSettings) -> Embedder:
    """The embedder that ``[knowledge.embeddings]`` of ``personas.toml`` configures."""
    if settings.provider == "openai":
        assert settings.base_url and settings.model  # EmbeddingsSettings requires both
        return OpenAIEmbedder(
            settings.base_url,
            settings.model,
            api_key_env=settings.api_key_env,
            timeout=settings.timeout_seconds,
        )
    return WordLlamaEmbedder()
