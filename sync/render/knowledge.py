"""The knowledge section of a plan, for terminals and PR comments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from personas_as_code.sync.render.change_lines import DIFF_STYLE
from personas_as_code.sync.render.literal import StyledLine, md_code, md_text, one_line
from personas_as_code.sync.render.personas import TITLE_STYLE

if TYPE_CHECKING:
    from personas_as_code.sync.knowledge import KnowledgeSection

_MARK = {"index": "+", "update": "~", "drop": "-"}


def lines(section: KnowledgeSection) -> Iterator[StyledLine]:
    """One block per source to index, then the note."""
    for change in section.changes:
        mark = _MARK.get(change.action, "~")
        title = f"{mark} knowledge {change.label}: {change.describe()}"
        yield StyledLine(one_line(title), TITLE_STYLE.get(mark, "yellow"))
        for line in change.path_lines():
            yield StyledLine("    " + one_line(line), DIFF_STYLE.get(line[:1], "dim"))
    if section.changes:
        yield StyledLine("")
    if section.note:
        yield StyledLine(one_line(f"note: {section.note}"))
        yield StyledLine("")


def summary_lines(section: KnowledgeSection) -> Iterator[StyledLine]:
    """``Knowledge: 1 source(s) to index (…).`` when there is any."""
    if not section.changes:
        return
    k = section.counts()
    yield StyledLine(
        f"Knowledge: {k['sources']} source(s) to index ({k['added']} documents added, "
        f"{k['changed']} changed, {k['removed']} removed)."
    )


def markdown(section: KnowledgeSection) -> list[str]:
    """The sources to index, each with its paths, then the note."""
    out: list[str] = []
    if section.changes:
        out += ["**Knowledge** (indexed into the embedded catalogue):", ""]
        for change in section.changes:
            out.append(f"- {md_code(change.label)}: {md_text(change.describe())}")
            out += [f"  - {md_text(line)}" for line in change.path_lines()]
        out.append("")
    if section.note:
        out += [f"Note: {md_text(section.note)}", ""]
    return out
