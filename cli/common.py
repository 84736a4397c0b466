"""Helpers shared by the CLI commands: options, error mapping, output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from schemas.errors import PersonasError

P = ParamSpec("P")
R = TypeVar("R")

RepoOption = Annotated[
    Path,
    typer.Option("--repo", "-r", help="Root of the persona repo.", file_okay=False, dir_okay=True),
]

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(StrEnum):
    """Output formats of commands that report to people or machines."""

    text = "text"
    json = "json"


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn ``PersonasError`` into a one-line message and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PersonasError as exc:
            stderr.print(f"[red]error[/red] {exc.code}: {exc.message}", markup=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (no rich markup, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
