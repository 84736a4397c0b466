"""Denormalised exports of personas: CSV (one row per persona) or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from personas_as_code.application.ids import InvalidInput
from personas_as_code.application.models import ExportResult
from personas_as_code.loader.repo import LoadedPersona
from personas_as_code.schemas.persona import export_columns
from personas_as_code.sync.safe_write import write_inside

EXPORT_DIR = ".personas/exports"
INLINE_LIMIT = 64 * 1024
_FILE_COLUMNS = export_columns()
COLUMNS = (*(column.name for column in _FILE_COLUMNS), "path")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
# ``export --format json`` shape; bumped only when a member changes meaning or goes.
EXPORT_FORMAT_VERSION = 1
# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def row(persona: LoadedPersona) -> dict[str, Any]:
    """One persona as a flat row (lists joined with '; '); the columns are the file
    keys' (``schemas.file_keys.export_columns``) and the file's path."""
    return {**{column.name: column.cell(persona) for column in _FILE_COLUMNS}, "path": persona.path}


def formula_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string that would start a formula
    (``= + - @``, tab, carriage return) gets a leading ``'``; other values pass as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def render(personas: list[LoadedPersona], fmt: Literal["csv", "json"]) -> str:
    """The export document for ``personas``: JSON ``{format_version, personas}`` or CSV."""
    rows = [row(p) for p in personas]
    if fmt == "json":
        document = {"format_version": EXPORT_FORMAT_VERSION, "personas": rows}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    # RFC 4180 line ends: the writer quotes a cell holding any lineterminator character,
    # so with "\r\n" a carriage return inside a cell is quoted too (with "\n" it was not).
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: formula_safe(v) for k, v in r.items()} for r in rows)
    return buffer.getvalue()


def write_export(
    root: Path,
    personas: list[LoadedPersona],
    fmt: Literal["csv", "json"],
    file_name: str | None = None,
) -> ExportResult:
    """Write the export under ``<root>/.personas/exports/`` and describe it.

    The folders are created by the server and never followed when they are symlinks
    (a committed ``.personas`` symlink is refused); the file name has no separators.
    """
    if file_name is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        file_name = f"personas-{stamp}.{fmt}"
    if not _FILE_NAME.match(file_name) or ".." in file_name:
        raise InvalidInput(
            f"invalid file name {file_name[:80]!r}: letters, digits, '.', '_', '-' only"
        )
    content = render(personas, fmt)
    data = content.encode("utf-8")
    target = write_inside(root, f"{EXPORT_DIR}/{file_name}", data)
    return ExportResult(
        format=fmt,
        row_count=len(personas),
        path=str(target),
        relative_path=f"{EXPORT_DIR}/{file_name}",
        bytes=len(data),
        content=content if len(data) < INLINE_LIMIT else None,
    )
