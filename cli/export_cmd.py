"""``personas export``: the repo's personas as a denormalised CSV or JSON."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from personas_as_code.cli.common import RepoOption, guarded, say


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


def export(
    repo: RepoOption = Path("."),
    output_format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.csv,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    query: Annotated[str, typer.Option(help="Free text, as in search_personas.")] = "",
    status: Annotated[str | None, typer.Option(help="draft | active | archived")] = None,
    model: Annotated[str | None, typer.Option()] = None,
    rag: Annotated[bool | None, typer.Option("--rag/--no-rag")] = None,
    source_type: Annotated[str | None, typer.Option(help="collection | scaidrive")] = None,
    source_id: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option()] = None,
    published: Annotated[bool | None, typer.Option("--published/--unpublished")] = None,
) -> None:
    """Export matching personas (one row each; sources and groups flattened)."""
    from personas_as_code.loader.config import require_repo_config

    repo = require_repo_config(repo)
    from personas_as_code.application.export import render
    from personas_as_code.application.ids import InvalidInput
    from personas_as_code.application.models import SearchFilters
    from personas_as_code.application.service import PersonaService
    from pydantic import ValidationError

    try:
        filters = SearchFilters.pick(locals())
    except ValidationError as exc:
        raise InvalidInput(f"bad filter: {exc.errors()[0]['msg']}") from None
    personas = PersonaService(repo).matching_personas(query, filters)
    content = render(personas, output_format.value)
    if output is None:
        sys.stdout.write(content)
    else:
        output.write_text(content, encoding="utf-8")
        say(f"wrote {len(personas)} persona(s) to {output}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``export`` to the CLI."""
    app.command("export")(guarded(export))
