"""``personas init``: scaffold a new persona repository, or refresh its path filters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from personas_as_code.cli.common import guarded, say
from personas_as_code.schemas.errors import ConfigError


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
    personas_dir: Annotated[
        str,
        typer.Option("--personas-dir", help="Folder of the persona files (personas_dir)."),
    ] = "personas",
    force: Annotated[
        bool,
        typer.Option("--force", help="Overwrite the files init writes (never any other file)."),
    ] = False,
    update_filters: Annotated[
        bool,
        typer.Option(
            "--update-filters",
            help="In an existing repo, only rewrite the workflows' paths: lists and "
            ".pre-commit-config.yaml's files: from personas.toml (after moving a folder).",
        ),
    ] = False,
) -> None:
    """Create a working persona repo: personas.toml, an example persona, the JSON
    Schemas, the GitHub workflows, .pre-commit-config.yaml and .gitignore. The workflows'
    path filters and the hook's files: cover every folder personas.toml names."""
    if update_filters:
        from personas_as_code.scaffold.ci_filters import update_filters as rewrite

        if repo_id is not None or tenant != "default" or personas_dir != "personas" or force:
            raise ConfigError(
                "--update-filters reads personas.toml and takes no --repo-id, --tenant, "
                "--personas-dir or --force"
            )
        changed = rewrite(directory)
        for path in changed:
            say(f"updated {path}")
        if not changed:
            say("The path filters already match personas.toml.")
        return

    from personas_as_code.scaffold.init import init_repo

    result = init_repo(
        directory, repo_id=repo_id, tenant=tenant, personas_dir=personas_dir, force=force
    )
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
