"""The backends section of a plan, for terminals and PR comments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from personas_as_code.sync.render.literal import StyledLine, md_code, md_text, one_line
from personas_as_code.sync.render.personas import TITLE_STYLE

if TYPE_CHECKING:
    from personas_as_code.sync.backends import BackendSection


def lines(section: BackendSection) -> Iterator[StyledLine]:
    """One line per backend model to reconfigure, then the note."""
    for change in section.changes:
        title = f"~ backend {change.backend_model}: {change.describe()}"
        yield StyledLine(one_line(title), TITLE_STYLE.get("~", "yellow"))
    if section.changes:
        yield StyledLine("")
    if section.note:
        yield StyledLine(one_line(f"note: {section.note}"))
        yield StyledLine("")


def summary_lines(section: BackendSection) -> Iterator[StyledLine]:
    """``Backends: 1 backend model(s) to reconfigure.`` when there is any."""
    if section.changes:
        yield StyledLine(f"Backends: {len(section.changes)} backend model(s) to reconfigure.")


def markdown(section: BackendSection) -> list[str]:
    """The backend models to reconfigure, then the note."""
    out: list[str] = []
    if section.changes:
        out += ["**Backends** (where the embedded catalogue's models send calls):", ""]
        for change in section.changes:
            out.append(f"- {md_code(change.backend_model)}: {md_text(change.describe())}")
        out.append("")
    if section.note:
        out += [f"Note: {md_text(section.note)}", ""]
    return out
