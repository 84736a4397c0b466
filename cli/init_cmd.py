"""``personas init``: scaffold a new persona repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from personas_as_code.cli.common import guarded, say


def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder of the new repo (created when missing).")
    ] = Path("."),
    repo_id: Annotated[
        str | None,
        typer.Option(
            "--repo-id", help="Repo id for the ownership marker (default: the folder's name)."
        ),
    ] = None,
    tenant: Annotated[str, typer.Option(help="Tenant slug in the catalogue.")] = "default",
    force: Annotated[
        bool,
        typer.Option("--force", help="Overwrite the files init writes (never any other file)."),
    ] = False,
) -> None:
    """Create a working persona repo: personas.toml, an example persona, the JSON
    Schemas, the GitHub workflows, .pre-commit-config.yaml and .gitignore."""
    from personas_as_code.scaffold.init import init_repo

    result = init_repo(directory, repo_id=repo_id, tenant=tenant, force=force)
    for path in result.created:
        say(f"created {path}")
    for path in result.overwritten:
        say(f"overwrote {path}")
    say(
        f"Persona repo ready in {directory}. Next: personas validate, personas plan, "
        "personas apply (see the comments in .github/workflows/ for CI)."
    )


def register(app: typer.Typer) -> None:
    """Add ``init`` to the CLI."""
    app.command("init")(guarded(init))
