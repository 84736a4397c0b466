"""``personas schema``: print a file format's JSON Schema, or write them all into the repo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from personas_as_code.cli.common import RepoOption, guarded, say


def schema(
    name: Annotated[
        str,
        typer.Argument(
            help="Which schema to print: persona, config, test-persona, persona-tests, collection."
        ),
    ] = "persona",
    write: Annotated[
        bool,
        typer.Option(
            "--write", help="(Re)write every schema into the repo's schemas/ folder instead."
        ),
    ] = False,
    repo: RepoOption = Path("."),
) -> None:
    """Print a JSON Schema, or with --write put all of them where the files' modelines
    point (schemas/ at the repo root)."""
    from personas_as_code.scaffold.schema_files import packaged_schemas, write_schemas
    from personas_as_code.schemas.errors import NotFound

    if write:
        from personas_as_code.loader.config import require_repo_config

        for path in write_schemas(require_repo_config(repo)):
            say(f"wrote {path}")
        return
    schemas = {
        p.rsplit("/", 1)[-1].removesuffix(".schema.json"): d for p, d in packaged_schemas().items()
    }
    if name not in schemas:
        raise NotFound(f"no schema {name!r}; choose one of {', '.join(schemas)}")
    sys.stdout.write(schemas[name].decode("utf-8"))


def register(app: typer.Typer) -> None:
    """Add ``schema`` to the CLI."""
    app.command("schema")(guarded(schema))
