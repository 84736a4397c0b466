"""``personas init``: the files of a new, working persona repository.

Init writes a fixed set of files (config, one example persona and its prompt, the
schemas the modelines point at, the workflows and pre-commit config of
``scaffold/templates/`` with their path filters set from that config
(``scaffold.ci_filters``), ``.gitignore``).  It refuses, before writing anything, when
one of them exists; ``force`` overwrites those files and never touches any other.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from personas_as_code.loader.modeline import SCHEMAS_DIR, modeline_comment
from personas_as_code.scaffold.ci_filters import render, repo_path, watched
from personas_as_code.scaffold.schema_files import packaged_schemas
from personas_as_code.schemas.config import CONFIG_FILE, RepoConfig
from personas_as_code.schemas.errors import ConfigError, WriteRefused
from personas_as_code.sync.safe_write import write_inside
from pydantic import ValidationError

PERSONAS_DIR = "personas"
EXAMPLE_SLUG = "example-assistant"
DEFAULT_TENANT = "default"
# Template files are stored without a leading dot (package data globs skip dotfiles).
_TEMPLATE_TARGETS = {"pre-commit-config.yaml": ".pre-commit-config.yaml"}
_TEMPLATE_FOLDERS = {"workflows": ".github/workflows"}


@dataclass(frozen=True)
class InitResult:
    """The repo paths init wrote, split by whether they existed before."""

    created: list[str]
    overwritten: list[str]


def _package_dir(name: str) -> Traversable:
    return resources.files("personas_as_code.scaffold").joinpath(name)


def _starter(name: str) -> str:
    return _package_dir("starter").joinpath(name).read_text(encoding="utf-8")


def _walk(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_dir():
            files.update(_walk(entry, f"{prefix}{entry.name}/"))
        else:
            files[f"{prefix}{entry.name}"] = entry.read_bytes()
    return files


def template_target(name: str) -> str:
    """Where a file of ``scaffold/templates/`` goes in the new repo:
    ``workflows/x.yml`` -> ``.github/workflows/x.yml``, ``pre-commit-config.yaml`` ->
    ``.pre-commit-config.yaml``, anything else to the same relative path."""
    folder, _, rest = name.partition("/")
    if rest and folder in _TEMPLATE_FOLDERS:
        return f"{_TEMPLATE_FOLDERS[folder]}/{rest}"
    return _TEMPLATE_TARGETS.get(name, name)


def template_files(config: RepoConfig | None = None) -> dict[str, bytes]:
    """The workflows and pre-commit config, at their places in the new repo, their path
    filters those of ``config`` (default: a default ``personas.toml``)."""
    filters = watched(config or RepoConfig.model_validate({"repo": {"id": "personas"}}))
    files = {}
    for name, data in _walk(_package_dir("templates")).items():
        target = template_target(name)
        files[target] = render(target, data.decode("utf-8"), filters).encode("utf-8")
    return files


def config_text(repo_id: str, tenant: str, personas_dir: str = PERSONAS_DIR) -> str:
    """``personas.toml`` for a repo with this id, tenant and personas folder;
    ``ConfigError`` when invalid."""
    # A JSON string literal is a valid TOML basic string: quotes and control characters escaped.
    text = (
        _starter("personas.toml")
        .replace("@REPO_ID@", json.dumps(repo_id))
        .replace("@TENANT@", json.dumps(tenant))
        .replace("@PERSONAS_DIR@", json.dumps(personas_dir))
    )
    try:
        RepoConfig.model_validate(tomllib.loads(text))
    except (ValidationError, tomllib.TOMLDecodeError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(
            f"cannot init with repo id {repo_id!r} and tenant {tenant!r}: {reason}"
        ) from None
    return text


def starter_files(
    repo_id: str, tenant: str = DEFAULT_TENANT, personas_dir: str = PERSONAS_DIR
) -> dict[str, bytes]:
    """Every file init writes: repo path -> content."""
    folder = repo_path(personas_dir, "--personas-dir")
    # the loader skips hidden folders, and the schemas folder is rewritten by schema --write
    if folder == "." or folder.split("/")[0] == SCHEMAS_DIR or "/." in f"/{folder}":
        raise ConfigError(
            f"--personas-dir {personas_dir!r}: choose a folder of its own, not hidden, "
            f"not the repo root or {SCHEMAS_DIR}/"
        )
    text = config_text(repo_id, tenant, folder)
    example = f"{folder}/{EXAMPLE_SLUG}.yaml"
    files = {
        CONFIG_FILE: text,
        example: modeline_comment(example) + _starter(f"{EXAMPLE_SLUG}.yaml"),
        f"{folder}/prompts/{EXAMPLE_SLUG}.md": _starter(f"{EXAMPLE_SLUG}.md"),
        ".gitignore": _starter("gitignore"),
    }
    encoded = {path: text.encode("utf-8") for path, text in files.items()}
    config = RepoConfig.model_validate(tomllib.loads(text))
    return {**encoded, **packaged_schemas(), **template_files(config)}


def _blocked_folder(root: Path, rel: str) -> str | None:
    """The first folder on the way to ``rel`` that is a file or a symlink, or None."""
    parts = rel.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = root.joinpath(*parts[:depth])
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return "/".join(parts[:depth])
    return None


def init_repo(
    root: Path,
    *,
    repo_id: str | None = None,
    tenant: str = DEFAULT_TENANT,
    personas_dir: str = PERSONAS_DIR,
    force: bool = False,
) -> InitResult:
    """Write a new persona repo into ``root`` (created when missing), its persona files
    in ``personas_dir``.

    Every check runs before the first write: an existing target file (without
    ``force``), a folder on the way that is a file or a symlink, or an invalid id or
    tenant raises and leaves ``root`` as it was.
    """
    if root.exists() and not root.is_dir():
        raise WriteRefused(f"{root} is a file, not a folder")
    files = starter_files(repo_id or root.resolve().name or "personas", tenant, personas_dir)
    blocked = sorted({b for rel in files if (b := _blocked_folder(root, rel))})
    if blocked:
        raise WriteRefused(
            f"init needs folders where {', '.join(blocked)} is a file or a symlink; nothing written"
        )
    existing = sorted(rel for rel in files if os.path.lexists(root / rel))
    folders = [rel for rel in existing if (root / rel).is_dir() and not (root / rel).is_symlink()]
    if folders:
        raise WriteRefused(
            f"{', '.join(folders)}: a folder where init writes a file; nothing written"
        )
    if existing and not force:
        raise WriteRefused(
            f"{len(existing)} file(s) exist: {', '.join(sorted(existing))}; nothing written "
            "(--force overwrites these files, and only these)"
        )
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        write_inside(root, rel, data)
    return InitResult(created=sorted(set(files) - set(existing)), overwritten=sorted(existing))
