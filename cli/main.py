"""The ``personas`` command: thin wrappers over the importable packages."""

from __future__ import annotations

import typer
from personas_as_code.cli import (
    catalogue_cmd,
    export_cmd,
    import_cmd,
    mcp_cmd,
    plan_cmd,
    preview_cmd,
    run_cmd,
    test_cmd,
    validate_cmd,
)

app = typer.Typer(
    name="personas",
    help="Personas as code: validate, plan and apply persona YAML into a ScaiPersona catalogue.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
validate_cmd.register(app)
plan_cmd.register(app)
import_cmd.register(app)
mcp_cmd.register(app)
preview_cmd.register(app)
run_cmd.register(app)
test_cmd.register(app)
export_cmd.register(app)
app.add_typer(catalogue_cmd.app, name="catalogue")


if __name__ == "__main__":  # pragma: no cover
    app()
