"""``personas import``: bring existing catalogue personas under this repo's management."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from personas_as_code.cli.common import EnvOption, RepoOption, guarded, say


def import_(
    slugs: Annotated[list[str] | None, typer.Argument(help="Slugs to import.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Import every catalogue persona.")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace existing persona files.")
    ] = False,
    repo: RepoOption = Path("."),
    env: EnvOption = None,
) -> None:
    """Write catalogue personas as YAML files (avatars as files) and adopt them."""
    from personas_as_code.loader.repo import load_repo
    from personas_as_code.schemas.errors import ConfigError, ImportRefused
    from personas_as_code.sync.engine import open_repo_catalogue
    from personas_as_code.sync.importer import import_personas

    if not slugs and not all_:
        raise ConfigError("name the slugs to import, or pass --all")
    loaded = load_repo(repo, environment=env)
    with open_repo_catalogue(loaded) as catalogue:
        result = import_personas(
            loaded, catalogue, None if all_ else list(slugs or []), overwrite=overwrite
        )
    for path in result.written:
        say(f"wrote {path}")
    for slug, reason in result.skipped.items():
        say(f"skipped {slug}: {reason}")
    for slug, reason in result.refused.items():
        say(f"refused {slug}: {reason}", style="red", err=True)
    say(f"Imported {len(result.written)} persona(s); run `personas plan` to check.")
    if result.refused:
        raise ImportRefused(
            f"{len(result.refused)} catalogue persona(s) refused (listed above); "
            "the others were imported",
            details={"refused": result.refused},
        )


def register(app: typer.Typer) -> None:
    """Add ``import`` to the CLI."""
    app.command("import")(guarded(import_))
