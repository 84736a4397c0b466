"""The test-personas section of a plan, for terminals (``section_lines``) and PR
comments (``section_markdown``).  The section comes from an already redacted plan;
user text is shown literally, as everywhere else."""

from __future__ import annotations

from collections.abc import Iterator

from personas_as_code.sync.render.change_lines import (
    details_markdown,
    item_lines,
    leftover_lines,
    leftover_markdown,
)
from personas_as_code.sync.render.describe import describe as describe_change
from personas_as_code.sync.render.literal import StyledLine, md_code, md_text, one_line
from personas_as_code.sync.test_personas import (
    CreateTestPersona,
    OwnTestPersona,
    SetImageSettings,
    TestPersonaChange,
    TestPersonaSection,
    UpdateTestPersona,
)

_MARK = {"create": "+", "update": "~", "delete": "-", "error": "!"}
_STYLE = {"+": "green", "~": "yellow", "-": "red", "!": "bold red"}


def describe(change: TestPersonaChange) -> str:
    """A sentence for a change (field values shown by the caller)."""
    if isinstance(change, CreateTestPersona):
        return "create test persona"
    if isinstance(change, UpdateTestPersona | OwnTestPersona):
        return describe_change(change)
    if isinstance(change, SetImageSettings):
        after = change.after
        if after is None:
            return "image endpoint: none (portraits drawn locally)"
        return f"image endpoint: {after['base_url']} (model {after['model']})"
    return f"{change.kind} test persona"


def summary_line(section: TestPersonaSection) -> str:
    """``Test personas: 1 to create, 0 to update, 0 to delete (project p).``"""
    s = section.summary()
    settings = f", {s['settings']} settings change" if s["settings"] else ""
    return (
        f"Test personas: {s['create']} to create, {s['update']} to update, {s['delete']} to "
        f"delete{settings} (project {section.project})."
    )


def section_lines(section: TestPersonaSection | None) -> Iterator[StyledLine]:
    """The section as styled lines (nothing when there is nothing to say)."""
    if section is None:
        return
    for p in section.items:
        if not (p.has_changes or p.error or p.warnings):
            continue
        mark = _MARK.get(p.action, "~")
        title = f"{mark} test persona {p.slug}" + (f"  [{p.path}]" if p.path else "")
        yield from item_lines(p, title, _STYLE.get(mark, "yellow"), describe)
    for change in section.settings:
        yield StyledLine("~ " + one_line(f"test personas {describe(change)}"), "yellow")
        yield StyledLine("")
    kept = [o for o in section.orphans if not section.deleting(o.persona_id)]
    yield from leftover_lines(
        kept, section.unmanaged, owned="test personas", others="test personas"
    )
    for warning in section.warnings:
        yield StyledLine(one_line(f"warning: test personas: {warning}"), "yellow")
    if section.has_changes or section.errors:
        yield StyledLine(summary_line(section))


def section_markdown(section: TestPersonaSection | None) -> list[str]:
    """The section as PR-comment markdown: a table, then collapsible details."""
    if section is None:
        return []
    shown = [p for p in section.items if p.has_changes or p.error or p.warnings]
    out: list[str] = []
    if shown or section.settings:
        s = section.summary()
        out += [
            f"#### test personas ({md_text(section.where)})",
            "",
            "| create | update | delete | settings | errors |",
            "|---:|---:|---:|---:|---:|",
            f"| {s['create']} | {s['update']} | {s['delete']} | {s['settings']} | {s['errors']} |",
            "",
        ]
    if shown:
        out += ["| | test persona | file | changes |", "|---|---|---|---|"]
        for p in shown:
            what = p.error or "; ".join(describe(c) for c in p.changes) or "warnings"
            out.append(
                f"| {_MARK.get(p.action, '~')} | {md_code(p.slug)} | {md_text(p.path or '')} "
                f"| {md_text(what)} |"
            )
        out.append("")
    for p in shown:
        out += details_markdown(f"test persona {md_code(p.slug)}", p, describe, str)
    for change in section.settings:
        out += [f"- test personas {md_text(describe(change))}", ""]
    kept = [o for o in section.orphans if not section.deleting(o.persona_id)]
    out += leftover_markdown(kept, section.unmanaged, owned="test personas", others="test personas")
    for warning in section.warnings:
        out.append(f":warning: test personas: {md_text(warning)}")
    return out
