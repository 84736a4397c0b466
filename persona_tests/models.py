"""Plain model calls a test makes besides the persona's own: the simulated user's turns
and the judge's grading.  Both go through the catalogue (``Catalogue.call_model``): the
embedded one calls a model's backends in priority order (``mirror`` until
``[backends]`` configures one), a remote ScaiGrid its ``POST /v1/inference/chat``, with
the test persona's headers merged in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from personas_as_code.catalogue.calls import ModelCall
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.inference.backends import Backend, make_backend
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.schemas.config import BackendSettings, RepoConfig
from personas_as_code.schemas.errors import ConfigError


def ask_model(
    catalogue: Catalogue | None,
    model: str,
    messages: Sequence[ChatMessage],
    *,
    headers: Mapping[str, str] | None = None,
    backends: Mapping[str, BackendSettings] | None = None,
    root: Path | None = None,
) -> tuple[str, str]:
    """One plain call to frontend model ``model``: the answer and the provider that gave it
    (on the embedded catalogue, through the tree's ``backends`` where it configures them)."""
    if catalogue is None:
        raise ConfigError("persona tests need a catalogue (the embedded one or a remote ScaiGrid)")
    answer = catalogue.call_model(
        ModelCall(
            model=model, messages=messages, backends=backends, root=root, headers=headers or {}
        )
    )
    return answer.content, answer.backend.provider


def judge_backend(
    config: RepoConfig, catalogue: Catalogue | None, root: Path | None = None
) -> tuple[Backend | None, str]:
    """The backend ``[tests] judge_backend`` names, or None and why there is none
    (``root``: the repo a ``local`` judge's relative ``model_path`` is under)."""
    slug = config.tests.judge_backend
    if slug is None:
        return None, "no judge model is configured ([tests] judge_backend in personas.toml)"
    settings = config.backends.get(slug)
    if settings is not None:
        backend = make_backend(slug, settings.model_dump(mode="json", exclude_none=True), root=root)
    elif catalogue is not None and (stored := catalogue.backend_models()) is not None:
        state = stored.state(slug)
        if state is None:
            return None, f"judge_backend {slug!r} is neither in [backends] nor in the catalogue"
        backend = make_backend(slug, state.settings)
    else:
        return None, f"judge_backend {slug!r} is not in [backends] of personas.toml"
    if backend.info.provider == "mirror":
        return None, f"the judge backend {slug!r} is the offline mirror, which cannot grade"
    return backend, ""
