"""The personas section of a plan, for terminals and PR comments.  The section comes
from an already redacted plan; user text is shown literally."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from personas_as_code.sync.render.change_lines import (
    details_markdown,
    item_lines,
    leftover_lines,
    leftover_markdown,
)
from personas_as_code.sync.render.describe import ACTION_SYMBOL, describe
from personas_as_code.sync.render.literal import StyledLine, md_code, md_text
from personas_as_code.untrusted.secrets import redact

if TYPE_CHECKING:
    from personas_as_code.sync.persona_section import PersonaSection

TITLE_STYLE = {"+": "green", "~": "yellow", "-": "red", "!": "bold red"}


def item_blocks(section: PersonaSection) -> Iterator[StyledLine]:
    """One block per persona the plan shows."""
    for p in section.items:
        if not p.shown:
            continue
        mark = ACTION_SYMBOL.get(p.action, "~")
        title = f"{mark} {p.slug}"
        if p.previous_slug:
            title += f" (renamed from {p.previous_slug})"
        if p.path:
            title += f"  [{p.path}]"
        yield from item_lines(p, title, TITLE_STYLE.get(mark, "yellow"), describe)


def leftovers(section: PersonaSection) -> Iterator[StyledLine]:
    """The owned personas whose file is gone, and the unmanaged ones."""
    return leftover_lines(
        section.kept, section.unmanaged, owned="personas", others="catalogue personas"
    )


def summary_lines(section: PersonaSection) -> Iterator[StyledLine]:
    """``Plan: 1 to create, …``."""
    s = section.plan_summary()
    yield StyledLine(
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete "
        f"({s['publish']} publish, {s['republish']} republish, {s['unpublish']} unpublish, "
        f"{s['source_changes']} source changes, {s['avatar_uploads']} avatar uploads)."
    )


def _table(section: PersonaSection, s: Mapping[str, int]) -> list[str]:
    out = [
        "| create | update | delete | publish | republish | unpublish | sources | avatars "
        "| errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['create']} | {s['update']} | {s['delete']} | {s['publish']} | {s['republish']} "
        f"| {s['unpublish']} | {s['source_changes']} | {s['avatar_uploads']} | {s['errors']} |",
        "",
        "| | persona | file | changes |",
        "|---|---|---|---|",
    ]
    for p in section.items:
        if not (p.has_changes or p.error):
            continue
        what = p.error or "; ".join(describe(c) for c in p.changes)
        name = md_code(p.slug) + (f" (was {md_code(p.previous_slug)})" if p.previous_slug else "")
        out.append(
            f"| {ACTION_SYMBOL.get(p.action, '~')} | {name} | {md_text(p.path or '')} "
            f"| {md_text(what)} |"
        )
    out.append("")
    return out


def markdown(section: PersonaSection, summary: Mapping[str, int]) -> list[str]:
    """The summary table (its counts from the plan's ``summary``: its errors column counts
    every section's), collapsible details per persona, and the leftovers."""
    out: list[str] = []
    if any(p.has_changes or p.error for p in section.items):
        out += _table(section, summary)
    for p in section.items:
        if p.shown:
            out += details_markdown(md_code(p.slug), p, describe, redact)
    out += leftover_markdown(
        section.kept, section.unmanaged, owned="personas", others="catalogue personas"
    )
    return out
