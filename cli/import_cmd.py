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
    adopt: Annotated[
        list[str] | None,
        typer.Option(
            "--adopt",
            metavar="SLUG",
            help="Take over this persona although another repo manages it (repeat per slug).",
            show_default=False,
        ),
    ] = None,
    repo: RepoOption = Path("."),
    env: EnvOption = None,
) -> None:
    """Write catalogue personas as YAML files (avatars as files) and adopt them.

    A persona another repo manages is skipped (exit 1 when you named it) unless
    `--adopt SLUG` takes it over; each takeover is printed before the summary."""
    from personas_as_code.loader.config import require_repo_config

    repo = require_repo_config(repo)
    from personas_as_code.loader.repo import load_repo
    from personas_as_code.schemas.errors import ConfigError, ImportRefused
    from personas_as_code.sync.engine import open_repo_catalogue
    from personas_as_code.sync.importer import import_personas

    adopted = list(dict.fromkeys(adopt or ()))
    if not slugs and not all_ and not adopted:
        raise ConfigError("name the slugs to import, or pass --all")
    named = list(dict.fromkeys([*(slugs or []), *adopted]))
    loaded = load_repo(repo, environment=env)
    with open_repo_catalogue(loaded) as catalogue:
        result = import_personas(
            loaded,
            catalogue,
            None if all_ else named,
            overwrite=overwrite,
            adopt=frozenset(adopted),
        )
    for slug, owner in result.adopted.items():
        was = f"repo '{owner}'" if owner else "no repo"
        say(f"adopt {slug}: takes over from {was}; this repo now manages it")
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
    refused_named = sorted(set(named) & set(result.others)) if not all_ else []
    if refused_named:
        raise ImportRefused(
            "managed by another repo, not imported: "
            + ", ".join(refused_named)
            + "; pass --adopt "
            + " --adopt ".join(refused_named)
            + " to take them over",
            details={"managed_elsewhere": {s: result.others[s] for s in refused_named}},
        )


def register(app: typer.Typer) -> None:
    """Add ``import`` to the CLI."""
    app.command("import")(guarded(import_))
