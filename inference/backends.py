"""The backend a catalogue's backend model names, built from its ``connection_config``.

``connection_config`` holds ``provider`` (``mirror`` | ``openai`` | ``local``;
``mirror`` when absent) and, for ``openai``, ``base_url``, ``model``, ``api_key_env``
(the NAME of an environment variable, read at call time) and ``timeout_seconds``; for
``local``, ``model_path`` (absent: the ``[local]`` extra's model), ``n_ctx`` and
``timeout_seconds`` -- the fields of ``schemas.config.BackendSettings``, which is what
``personas apply`` stores.  ``BackendInfo.provider`` of an answer says whether a model
was called: ``mirror`` means none was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from personas_as_code.inference.messages import Answer, BackendInfo, ChatMessage, Delta
from personas_as_code.schemas.config import BackendSettings
from personas_as_code.schemas.errors import BackendNotConfigured
from pydantic import ValidationError

DEFAULT_PROVIDER = "mirror"
SETTING_KEYS = (
    "provider",
    "base_url",
    "model",
    "api_key_env",
    "model_path",
    "n_ctx",
    "timeout_seconds",
    "max_retries",
    "stream_total_seconds",
    "max_concurrent_calls",
)
"""The keys of a ``connection_config`` that are provider settings (the rest are kept)."""


class Backend(Protocol):
    """A model endpoint: one whole answer, or the answer as a stream of deltas."""

    info: BackendInfo
    slots: int
    """Calls of this backend model a server runs at once (``max_concurrent_calls``)."""

    def complete(self, messages: list[ChatMessage], params: dict[str, Any]) -> Answer:
        """The whole answer."""
        ...

    def stream(self, messages: list[ChatMessage], params: dict[str, Any]) -> Iterator[Delta]:
        """The answer piece by piece; the last delta has a ``finish_reason``."""
        ...


def settings_from_config(slug: str, config: Mapping[str, Any] | None) -> BackendSettings:
    """The stored ``connection_config`` of backend model ``slug`` as settings.

    Keys other than the settings' own (``managed_by``, a starter's ``model`` on a
    mirror) are ignored; an unreadable config is ``BackendNotConfigured``.
    """
    config = dict(config or {})
    provider = config.get("provider") or DEFAULT_PROVIDER
    if provider == "mirror":
        return BackendSettings(provider="mirror")
    wanted = {k: config[k] for k in SETTING_KEYS if k != "provider" and config.get(k) is not None}
    try:
        return BackendSettings.model_validate({"provider": provider, **wanted})
    except ValidationError as exc:
        reason = "; ".join(e["msg"] for e in exc.errors()[:3])
        raise BackendNotConfigured(
            f"backend model {slug!r} has an unusable configuration ({reason}); set it in "
            "[backends] of personas.toml and run `personas apply`",
            details={"backend_model": slug},
        ) from exc


def make_backend(
    slug: str,
    config: Mapping[str, Any] | None,
    *,
    env: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> Backend:
    """The backend for backend model ``slug`` (``env`` supplies the API key variable;
    ``root``, the repo a relative ``model_path`` of a ``local`` backend is under).
    Nothing is loaded or connected here: a backend fails, typed, when called."""
    settings = settings_from_config(slug, config)
    if settings.provider == "mirror":
        from personas_as_code.inference.mirror import MirrorBackend

        return MirrorBackend(slug)
    if settings.provider == "local":
        from personas_as_code.inference.local_llama import LocalLlamaBackend

        return LocalLlamaBackend(slug, settings, root=root)
    from personas_as_code.inference.openai_compat import OpenAIBackend

    return OpenAIBackend(slug, settings, env=os.environ if env is None else env)
