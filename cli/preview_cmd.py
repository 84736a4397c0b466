"""``personas preview``: what the pipeline would send for a persona or a draft."""

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


def preview(
    slug: Annotated[str, typer.Argument(help="Persona slug.")],
    repo: RepoOption = Path("."),
    draft: Annotated[str | None, typer.Option(help="Preview this draft instead.")] = None,
    trigger: Annotated[str | None, typer.Option(help="The user's message.")] = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, max=2.0)] = None,
    top_p: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1)] = None,
    system_prompt_file: Annotated[
        Path | None, typer.Option(help="Override the system prompt with this file's text.")
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.text,
    catalogue: Annotated[
        bool,
        typer.Option(
            "--catalogue/--no-catalogue",
            help="Use the catalogue's context windows; --no-catalogue opens none. Retrieval "
            "always reads the knowledge folders of the tree previewed.",
        ),
    ] = True,
    env: EnvOption = None,
) -> None:
    """Render the prompt blocks (retrieved knowledge included), token estimate and budget;
    secret-looking text in the output is redacted."""
    from personas_as_code.loader.config import require_repo_config

    repo = require_repo_config(repo)
    import contextlib

    from personas_as_code.application.preview import PreviewRequest, render_text
    from personas_as_code.application.service import PersonaService
    from personas_as_code.loader.repo import load_repo
    from personas_as_code.sync.engine import open_repo_catalogue

    request = PreviewRequest(
        system_prompt_override=(
            system_prompt_file.read_text("utf-8") if system_prompt_file else None
        ),
        overrides={"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens},
        trigger_text=trigger,
    )
    with contextlib.ExitStack() as stack:
        opened = (
            stack.enter_context(open_repo_catalogue(load_repo(repo, environment=env)))
            if catalogue
            else None
        )
        result = PersonaService(repo, catalogue=opened, environment=env).preview(
            slug, draft, request
        )
    print_redacted(result, output, render_text)


def register(app: typer.Typer) -> None:
    """Add ``preview`` to the CLI."""
    app.command("preview")(guarded(preview))
