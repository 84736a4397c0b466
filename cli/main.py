"""The ``personas`` command: thin wrappers over the importable packages.

Each command lives in its own ``cli/<name>_cmd.py`` with a ``register(app)``; a
command module imports only typer and ``cli.common`` at module level and what its
command needs inside the command function, so ``personas --help`` and a light
command such as ``validate`` never import the engine, SQLAlchemy, FastAPI or the
MCP SDK.  Help is plain click text (no rich markup: user text such as ``[backends]``
stays literal, and nothing is cut at 80 columns when stdout is not a terminal).
"""

from __future__ import annotations

from typing import Annotated

import typer
from personas_as_code.cli import (
    catalogue_cmd,
    export_cmd,
    import_cmd,
    init_cmd,
    mcp_cmd,
    plan_cmd,
    preview_cmd,
    run_cmd,
    schema_cmd,
    test_cmd,
    validate_cmd,
)
from personas_as_code.cli.common import FullHelpGroup

app = typer.Typer(
    name="personas",
    cls=FullHelpGroup,
    help="Personas as code: validate, plan and apply persona YAML into a ScaiPersona catalogue.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=True,
)


def _print_version(value: bool) -> None:
    if value:
        from personas_as_code import __version__

        typer.echo(f"personas-as-code {__version__}")
        raise typer.Exit()


@app.callback()
def personas(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Personas as code: validate, plan and apply persona YAML into a ScaiPersona catalogue."""


validate_cmd.register(app)
plan_cmd.register(app)
import_cmd.register(app)
mcp_cmd.register(app)
preview_cmd.register(app)
run_cmd.register(app)
test_cmd.register(app)
export_cmd.register(app)
init_cmd.register(app)
schema_cmd.register(app)
app.add_typer(catalogue_cmd.app, name="catalogue")


if __name__ == "__main__":  # pragma: no cover
    app(prog_name="personas")
