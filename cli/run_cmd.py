"""``personas run``: one real call for a persona of the working tree or a draft."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from personas_as_code.cli.common import (
    EnvOption,
    OutputFormat,
    RepoOption,
    guarded,
    print_redacted,
)


def run(
    slug: Annotated[str, typer.Argument(help="Persona slug.")],
    message: Annotated[str, typer.Argument(help="The user's message.")],
    repo: RepoOption = Path("."),
    draft: Annotated[str | None, typer.Option(help="Run this draft instead.")] = None,
    system_prompt_override: Annotated[
        str | None,
        typer.Option("--system-prompt-override", help="Use this system prompt instead."),
    ] = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, max=2.0)] = None,
    top_p: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, max=1_000_000)] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.text,
    env: EnvOption = None,
) -> None:
    """Ask a persona one question: its prompt and retrieved knowledge, sent to its base
    model's backend (mirror until [backends] in personas.toml configures one).
    Publishes and persists nothing; secret-looking text in the output is redacted."""
    from personas_as_code.loader.config import require_repo_config

    repo = require_repo_config(repo)
    from personas_as_code.application.service import PersonaService
    from personas_as_code.loader.repo import load_repo
    from personas_as_code.sandbox.run import RunRequest, render_text
    from personas_as_code.sync.engine import open_repo_catalogue

    request = RunRequest(
        message=message,
        system_prompt_override=system_prompt_override,
        overrides={"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens},
    )
    with open_repo_catalogue(load_repo(repo, environment=env)) as catalogue:
        result = PersonaService(repo, catalogue=catalogue, environment=env).run(
            slug, draft, request
        )
    print_redacted(result, output, render_text)


def register(app: typer.Typer) -> None:
    """Add ``run`` to the CLI."""
    app.command("run")(guarded(run))
