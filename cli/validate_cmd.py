"""``personas validate``: check every persona file and report every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from personas_as_code.cli.common import (
    OutputFormat,
    RepoOption,
    guarded,
    no_cycle_collection,
    print_json,
    say,
    write_lines,
)
from personas_as_code.sync.render.literal import StyledLine, one_line

# ``validate --format json`` shape; bumped only when a member changes meaning or goes.
VALIDATE_FORMAT_VERSION = 1


def validate(
    repo: RepoOption = Path("."),
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text for people, json for machines.")
    ] = OutputFormat.text,
) -> None:
    """Validate the persona files; exit 0 when valid, 1 when not."""
    from personas_as_code.loader.config import require_repo_config
    from personas_as_code.loader.repo import load_repo
    from personas_as_code.schemas.problems import errors_only

    root = require_repo_config(repo)
    no_cycle_collection()
    loaded = load_repo(root)
    errors = errors_only(loaded.problems)
    if output is OutputFormat.json:
        print_json(
            {
                "format_version": VALIDATE_FORMAT_VERSION,
                "valid": not errors,
                "personas": len(loaded.personas),
                "files": len(loaded.persona_files),
                "test_personas": len(loaded.test_personas.personas),
                "test_persona_files": len(loaded.test_personas.files),
                "persona_tests": len(loaded.persona_tests.by_slug),
                "persona_tests_files": len(loaded.persona_tests.files),
                "error_count": len(errors),
                "warning_count": len(loaded.problems) - len(errors),
                "problems": [p.to_dict() for p in loaded.problems],
            }
        )
    else:
        write_lines(StyledLine(one_line(str(problem))) for problem in loaded.problems)
        # a file is valid when it has no error (a warning, e.g. tests of a persona that
        # is gone, leaves it valid); any error makes validate exit 1
        invalid = {problem.path for problem in errors}
        tests = loaded.test_personas.files
        if tests:
            valid = sum(path not in invalid for path in tests)
            say(f"{valid} of {len(tests)} test persona file(s) valid.")
        cases = loaded.persona_tests.files
        if cases:
            valid = sum(path not in invalid for path in cases)
            say(f"{valid} of {len(cases)} persona tests file(s) valid.")
        if errors:
            say(
                f"{len(errors)} problem(s) in {len(loaded.persona_files)} file(s); "
                f"{len(loaded.personas)} persona(s) valid."
            )
        else:
            say(f"{len(loaded.personas)} persona(s) valid.")
    if errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the CLI."""
    app.command("validate")(guarded(validate))
