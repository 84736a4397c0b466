"""The ``personas`` command: thin wrappers over the importable packages.

Each command lives in its own ``cli/<name>_cmd.py`` with a ``register(app)``; a
command module imports only typer and ``cli.common`` at module level and what its
command needs inside the command function, so ``personas --help`` and a light
command such as ``validate`` never import the engine, SQLAlchemy, FastAPI or the
MCP SDK.  Help is plain click text (no rich markup: user text such as ``[backends]``
stays literal, and nothing is cut at 80 columns when stdout is not a terminal).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer
import typer.main
from personas_as_code.cli import (
    catalogue_cmd,
    export_cmd,
    import_cmd,
    init_cmd,
    mcp_cmd,
    persona_tests_cmd,
    plan_cmd,
    preview_cmd,
    run_cmd,
    schema_cmd,
    validate_cmd,
)
from personas_as_code.cli.common import FullHelpGroup, set_no_colour

if TYPE_CHECKING:
    from typer._click import Command, Context
    from typer.models import CommandInfo


class LazyCommandGroup(FullHelpGroup):
    """The root group: a command's click object is built when the command is used.

    Building one reads its function's signature and evaluates every annotation;
    doing that for every command on every run cost more than ``validate`` itself.
    """

    deferred: ClassVar[dict[str, CommandInfo]] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        """The deferred commands in registration order, then the groups."""
        built = [name for name in super().list_commands(ctx) if name not in self.deferred]
        return [*self.deferred, *built]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The command ``cmd_name``, built on first use."""
        command = super().get_command(ctx, cmd_name)
        info = self.deferred.get(cmd_name)
        if command is None and info is not None:
            command = typer.main.get_command_from_info(
                info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=None
            )
            self.add_command(command, cmd_name)
        return command


app = typer.Typer(
    name="personas",
    cls=LazyCommandGroup,
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
    no_color: Annotated[
        bool,
        typer.Option("--no-color", help="No colour in the output (also NO_COLOR=1 or TERM=dumb)."),
    ] = False,
) -> None:
    """Personas as code: validate, plan and apply persona YAML into a ScaiPersona catalogue."""
    # a pipe (CI logs, `| cat`) gets each line when it is written, not in 8 KiB blocks
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    set_no_colour(no_color)


validate_cmd.register(app)
plan_cmd.register(app)
import_cmd.register(app)
mcp_cmd.register(app)
preview_cmd.register(app)
run_cmd.register(app)
persona_tests_cmd.register(app)
export_cmd.register(app)
init_cmd.register(app)
schema_cmd.register(app)
app.add_typer(catalogue_cmd.app, name="catalogue")
# the registered commands are built by LazyCommandGroup when used, not by typer up front
LazyCommandGroup.deferred = {info.name: info for info in app.registered_commands if info.name}
app.registered_commands[:] = [info for info in app.registered_commands if not info.name]


if __name__ == "__main__":  # pragma: no cover
    app(prog_name="personas")
