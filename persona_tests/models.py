"""Plain model calls a test makes besides the persona's own: the simulated user's turns
and the judge's grading.  On the embedded catalogue they go to a model's backends in
priority order (``mirror`` until ``[backends]`` configures one); on a remote ScaiGrid
to its ``POST /v1/inference/chat``, with the test persona's headers merged in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from personas_as_code.catalogue.chat import model_backends, visible_model
from personas_as_code.catalogue.db import BackendModelRow
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.inference.backends import Backend, make_backend
from personas_as_code.inference.chat import ChatCall, complete
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.sandbox.run import remote_answer, tree_backend_configs
from personas_as_code.schemas.config import BackendSettings, RepoConfig
from personas_as_code.schemas.errors import ConfigError
from sqlalchemy import select
from sqlalchemy.orm import Session


def ask_model(
    catalogue: Any,
    model: str,
    messages: Sequence[ChatMessage],
    *,
    headers: Mapping[str, str] | None = None,
    backends: Mapping[str, BackendSettings] | None = None,
    root: Path | None = None,
) -> tuple[str, str]:
    """One plain call to frontend model ``model``: the answer and the provider that gave it
    (on the embedded catalogue, through the tree's ``backends`` where it configures them)."""
    if isinstance(catalogue, EmbeddedCatalogue):
        with Session(catalogue.engine) as session:
            row = visible_model(session, catalogue.caller, model)
            backends_ = model_backends(session, row, configs=tree_backend_configs(backends, root))
        result = complete(ChatCall(model, list(messages), {}, backends_))
        return result.answer.content, result.answer.backend.provider
    if catalogue is None or not hasattr(catalogue, "call"):
        raise ConfigError("persona tests need a catalogue (the embedded one or a remote ScaiGrid)")
    body = {"model": model, "messages": [m.to_dict() for m in messages]}
    extra = {"headers": dict(headers)} if headers else {}
    answer = catalogue.call("POST", "/v1/inference/chat", json=body, parse=remote_answer, **extra)
    provider = answer.backend.provider if answer.backend else "scaigrid"
    return answer.choices[0].message.content or "", provider


def judge_backend(
    config: RepoConfig, catalogue: Any, root: Path | None = None
) -> tuple[Backend | None, str]:
    """The backend ``[tests] judge_backend`` names, or None and why there is none
    (``root``: the repo a ``local`` judge's relative ``model_path`` is under)."""
    slug = config.tests.judge_backend
    if slug is None:
        return None, "no judge model is configured ([tests] judge_backend in personas.toml)"
    settings = config.backends.get(slug)
    if settings is not None:
        backend = make_backend(slug, settings.model_dump(mode="json", exclude_none=True), root=root)
    elif isinstance(catalogue, EmbeddedCatalogue):
        with Session(catalogue.engine) as session:
            row = session.execute(
                select(BackendModelRow).where(BackendModelRow.slug == slug)
            ).scalar_one_or_none()
        if row is None:
            return None, f"judge_backend {slug!r} is neither in [backends] nor in the catalogue"
        backend = make_backend(slug, row.connection_config)
    else:
        return None, f"judge_backend {slug!r} is not in [backends] of personas.toml"
    if backend.info.provider == "mirror":
        return None, f"the judge backend {slug!r} is the offline mirror, which cannot grade"
    return backend, ""
