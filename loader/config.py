"""Loading ``personas.toml``: the repo config, each problem located at its line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from personas_as_code.loader.files import (
    DirectoryFiles,
    OversizedFile,
    PathRefused,
    RepoFiles,
    read_limited,
)
from personas_as_code.loader.yaml_files import (
    error_message,
)
from personas_as_code.schemas.config import CONFIG_FILE, RepoConfig, RepoSection
from personas_as_code.schemas.errors import ConfigError
from personas_as_code.schemas.problems import Problem
from pydantic import ValidationError

MAX_CONFIG_BYTES = 64 * 1024


_TOML_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s"\']+)')


def _toml_header(line: str) -> tuple[str, ...] | None:
    """The dotted name of a ``[table]`` / ``[[array]]`` header line, quotes removed."""
    line = line.strip()
    if not line.startswith("["):
        return None
    name = line.split("#", 1)[0].strip().strip("[]").strip()
    return tuple(next((g for g in groups if g), "") for groups in _TOML_KEY.findall(name))


def _toml_line(text: str, loc: tuple[Any, ...]) -> int:
    """The line of the value at ``loc``: its ``key =`` line under the deepest table header
    that names a prefix of ``loc`` (e.g. ``[backends."openai/gpt-4o"]``), else that header."""
    lines = text.splitlines()
    path = tuple(str(p) for p in loc)
    depth, header = 0, 0
    for number, line in enumerate(lines, start=1):
        name = _toml_header(line)
        if name and depth < len(name) <= len(path) and path[: len(name)] == name:
            depth, header = len(name), number
    key = path[-1] if path else ""
    for number in range(header + 1, len(lines) + 1):
        line = lines[number - 1].strip()
        if header and _toml_header(line) is not None:
            break
        if line.startswith(f"{key} ") or line.startswith(f"{key}="):
            return number
    return header or 1


def require_repo_config(root: str | Path) -> Path:
    """The resolved folder ``root`` when it holds a repo config (``personas.toml``);
    ``ConfigError`` naming the folder otherwise, before anything is read or created.

    Every command that reads a repo calls this first: a mistyped ``--repo`` or a command
    run in the wrong folder must fail, not plan an empty repo into a new catalogue.
    """
    folder = Path(root).resolve()
    try:
        DirectoryFiles(folder).size(CONFIG_FILE)
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(
            f"{folder / CONFIG_FILE} not found: not a persona repository (run in the folder "
            f"holding {CONFIG_FILE}, pass --repo, or create one with `personas init`)",
            details={"repo": str(folder)},
        ) from None
    except (PathRefused, OSError) as exc:
        raise ConfigError(
            f"{folder / CONFIG_FILE} cannot be read ({exc}): not a persona repository (pass "
            f"--repo with the folder holding {CONFIG_FILE}, or create one with `personas init`)",
            details={"repo": str(folder)},
        ) from None
    return folder


def load_config(
    files: RepoFiles, default_id: str, environment: str | None = None
) -> tuple[RepoConfig, list[Problem]]:
    """Read ``personas.toml``; fall back to defaults (with a warning) when it is absent.

    A valid config comes as ``environment`` sees it (``RepoConfig.in_environment``: None
    is the default environment); an environment it does not declare is ``ConfigError``.
    """
    config, problems = _read_config(files, default_id)
    if problems and environment:  # the config's own problems come first
        return config, problems
    return config.in_environment(environment), problems


def _read_config(files: RepoFiles, default_id: str) -> tuple[RepoConfig, list[Problem]]:
    fallback = RepoConfig(repo=RepoSection(id=default_id))
    try:
        raw = read_limited(files, CONFIG_FILE, MAX_CONFIG_BYTES)
    except OversizedFile as exc:
        return fallback, [Problem(CONFIG_FILE, 1, 1, f"file {exc}", code="file_too_large")]
    except (FileNotFoundError, PathRefused):
        warning = Problem(
            CONFIG_FILE,
            0,
            0,
            f"no {CONFIG_FILE}; using repo id '{default_id}' and tenant 'default'",
            code="config_missing",
            severity="warning",
        )
        return fallback, [warning]
    except OSError as exc:
        return fallback, [Problem(CONFIG_FILE, 0, 0, f"cannot read: {exc.strerror}", "io")]
    text = raw.decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", 1) or 1
        col = getattr(exc, "colno", 1) or 1
        message = getattr(exc, "msg", str(exc))
        problem = Problem(CONFIG_FILE, line, col, f"malformed TOML: {message}", code="toml")
        return fallback, [problem]
    except RecursionError:  # tomllib recurses once per nested array or inline table
        problem = Problem(CONFIG_FILE, 1, 1, "malformed TOML: nested too deeply", code="toml")
        return fallback, [problem]
    try:
        return RepoConfig.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            dotted = ".".join(str(p) for p in err["loc"])
            problems.append(
                Problem(
                    CONFIG_FILE, _toml_line(text, err["loc"]), 1, f"{dotted}: {error_message(err)}"
                )
            )
        return fallback, problems
