"""Backend models of the embedded catalogue: where each one sends its calls.

A backend model's ``connection_config`` holds its provider settings (the fields of
``schemas.config.BackendSettings``: ``provider``, and for ``openai`` ``base_url``,
``model``, ``api_key_env``, ``timeout_seconds``; for ``local`` ``model_path``,
``n_ctx``, ``timeout_seconds``) and ``managed_by``, the repo id of the
``personas.toml`` that set it.  No config, or no ``provider``, means ``mirror``.
The API key itself is never stored: only the name of the variable that holds it.
A ``local`` backend's relative ``model_path`` is stored absolute (the catalogue
does not know the repo it came from).

Backend models are global to a catalogue (shared by its tenants), as in ScaiGrid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personas_as_code.catalogue.db import BackendModelRow
from personas_as_code.inference.backends import SETTING_KEYS
from personas_as_code.inference.local_llama import DEFAULT_MODEL_FILE, absolute_model_path
from personas_as_code.schemas.config import BackendSettings
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col

MANAGED_BY = "managed_by"
DEFAULT_TIMEOUT = BackendSettings.model_fields["timeout_seconds"].default
DEFAULT_RETRIES = BackendSettings.model_fields["max_retries"].default


@dataclass(frozen=True)
class BackendState:
    """One backend model's provider settings as stored, and who set them."""

    slug: str
    settings: dict[str, Any]
    managed_by: str | None = None


def stored_settings(config: dict[str, Any] | None) -> dict[str, Any]:
    """The provider settings of a stored ``connection_config`` (``mirror`` when none)."""
    config = config or {}
    provider = config.get("provider") or "mirror"
    if provider == "mirror":
        return {"provider": "mirror"}
    return {k: config[k] for k in SETTING_KEYS if config.get(k) is not None}


LOCAL_KEYS = {"provider", "model_path", "n_ctx", "timeout_seconds"}


def wanted_settings(
    settings: BackendSettings, *, root: Path | None = None, backend_model: str = ""
) -> dict[str, Any]:
    """The provider settings a ``[backends]`` entry asks for, as they are stored: a
    ``local`` backend's relative ``model_path`` made absolute under ``root`` (the repo),
    ``BackendNotConfigured`` if it leaves the repo."""
    if settings.provider == "mirror":
        return {"provider": "mirror"}
    if settings.provider == "local":
        wanted = settings.model_dump(include=LOCAL_KEYS, exclude_none=True)
        if settings.model_path is not None:
            path = absolute_model_path(settings.model_path, root, backend_model)
            wanted["model_path"] = str(path)
        return wanted
    return settings.model_dump(include=set(SETTING_KEYS), exclude_none=True)


def tree_backend_configs(
    backends: Mapping[str, BackendSettings] | None, root: Path | None
) -> dict[str, dict[str, Any]]:
    """A tree's ``[backends]`` as the provider settings the catalogue would store
    (``root``: the repo folder relative ``local`` model paths are under)."""
    if not backends:
        return {}
    return {
        slug: wanted_settings(settings, root=root, backend_model=slug)
        for slug, settings in backends.items()
    }


def _state(row: BackendModelRow) -> BackendState:
    config = row.connection_config or {}
    return BackendState(row.slug, stored_settings(config), config.get(MANAGED_BY))


def list_backends(engine: Engine) -> list[BackendState]:
    """Every backend model of the catalogue, by slug."""
    with Session(engine) as session:
        rows = session.execute(select(BackendModelRow).order_by(BackendModelRow.slug)).scalars()
        return [_state(r) for r in rows]


def find_backend(engine: Engine, slug: str) -> BackendState | None:
    """Backend model ``slug`` of the catalogue, or None."""
    with Session(engine) as session:
        row = session.execute(
            select(BackendModelRow).where(col(BackendModelRow.slug) == slug)
        ).scalar_one_or_none()
        return None if row is None else _state(row)


def configure_backend(
    engine: Engine, slug: str, settings: dict[str, Any], *, managed_by: str | None
) -> None:
    """Store ``settings`` as backend model ``slug``'s provider (``KeyError`` if unknown).

    Keys of the config that are not provider settings are kept; ``managed_by``
    None means "no repo manages it" (the key is removed).
    """
    with Session(engine) as session:
        row = session.execute(
            select(BackendModelRow).where(col(BackendModelRow.slug) == slug)
        ).scalar_one_or_none()
        if row is None:
            raise KeyError(slug)
        config = {
            k: v
            for k, v in (row.connection_config or {}).items()
            if k not in SETTING_KEYS and k != MANAGED_BY
        }
        config.update(settings)
        if managed_by is not None:
            config[MANAGED_BY] = managed_by
        row.connection_config = config
        session.add(row)
        session.commit()


@dataclass(frozen=True)
class BackendModels:
    """The backend models of an embedded catalogue's database (``Catalogue.backend_models``)."""

    engine: Engine

    def states(self) -> list[BackendState]:
        """Every backend model, by slug."""
        return list_backends(self.engine)

    def state(self, slug: str) -> BackendState | None:
        """Backend model ``slug``, or None."""
        return find_backend(self.engine, slug)

    def configure(self, slug: str, settings: dict[str, Any], *, managed_by: str | None) -> None:
        """Store ``settings`` as ``slug``'s provider (``configure_backend``)."""
        configure_backend(self.engine, slug, settings, managed_by=managed_by)


def describe(settings: dict[str, Any]) -> str:
    """Provider settings for people: ``mirror``, ``openai http://… (model llama3.1)`` or
    ``local SmolLM2-135M-Instruct.Q4_1.gguf (the [local] extra's model)``."""
    if settings.get("provider", "mirror") == "mirror":
        return "mirror"
    if settings["provider"] == "local":
        text = f"local {settings.get('model_path') or DEFAULT_MODEL_FILE}"
        extras = [] if settings.get("model_path") else ["the [local] extra's model"]
        if settings.get("n_ctx"):
            extras.append(f"n_ctx {settings['n_ctx']}")
    else:
        text = f"{settings['provider']} {settings.get('base_url', '?')}"
        extras = [f"model {settings.get('model', '?')}"]
    if settings.get("api_key_env"):
        extras.append(f"key from ${settings['api_key_env']}")
    if settings.get("timeout_seconds") not in (None, DEFAULT_TIMEOUT):
        extras.append(f"timeout {settings['timeout_seconds']:g}s")
    if settings.get("max_retries") not in (None, DEFAULT_RETRIES):
        extras.append(f"{settings['max_retries']} retries")
    return f"{text} ({', '.join(extras)})" if extras else text
