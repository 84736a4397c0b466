"""The plan for terminals: one block per persona, prompt diffs, colour when asked."""

from __future__ import annotations

from rich.markup import escape

from sync.changes import CreatePersona, UpdateFields
from sync.plan import Plan
from sync.render.common import is_multiline, show, text_diff
from sync.render.describe import ACTION_SYMBOL, describe, field_line, symbol

_COLOUR = {"+": "green", "~": "yellow", "-": "red", "!": "red bold"}


def _summary_line(plan: Plan) -> str:
    s = plan.summary()
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete "
        f"({s['publish']} publish, {s['republish']} republish, {s['unpublish']} unpublish, "
        f"{s['source_changes']} source changes, {s['avatar_uploads']} avatar uploads)."
    )


def render_text(plan: Plan, *, colour: bool = False) -> str:
    """The plan as rich-markup text when ``colour``, else plain text."""

    def paint(text: str, style: str) -> str:
        return f"[{style}]{escape(text)}[/{style}]" if colour else text

    def plain(text: str) -> str:
        return escape(text) if colour else text

    out: list[str] = []
    for p in plan.personas:
        if not (p.has_changes or p.error or p.warnings):
            continue
        mark = ACTION_SYMBOL.get(p.action, "~")
        title = f"{mark} {p.slug}"
        if p.previous_slug:
            title += f" (renamed from {p.previous_slug})"
        if p.path:
            title += f"  [{p.path}]" if not colour else f"  \\[{p.path}]"
        out.append(paint(title, _COLOUR.get(mark, "yellow")) if colour else title)
        if p.error:
            out.append("    " + paint(f"error: {p.error}", "red"))
        for change in p.changes:
            if isinstance(change, UpdateFields):
                for diff in change.diffs:
                    if is_multiline(diff):
                        out.append(plain(f"    ~ {diff.field}:"))
                        for line in text_diff(diff.before, diff.after, diff.field):
                            style = (
                                "green"
                                if line.startswith("+")
                                else "red"
                                if line.startswith("-")
                                else "dim"
                            )
                            out.append("        " + (paint(line, style) if colour else line))
                    else:
                        out.append(plain(f"    ~ {field_line(diff)}"))
            elif isinstance(change, CreatePersona):
                out.append(plain(f"    + {describe(change)}"))
                for name, value in change.fields.items():
                    if name == "system_prompt" and "\n" in value:
                        out.append(plain(f"        {name}: ({value.count(chr(10)) + 1} lines)"))
                    else:
                        out.append(plain(f"        {name}: {show(value, name)}"))
            else:
                out.append(plain(f"    {symbol(change)} {describe(change)}"))
        for warning in p.warnings:
            out.append("    " + paint(f"warning: {warning}", "yellow"))
        out.append("")
    kept = [
        o
        for o in plan.orphans
        if not any(p.slug == o.slug and p.action == "delete" for p in plan.personas)
    ]
    if kept:
        out.append(plain("Owned personas whose file is gone (kept; apply --prune deletes them):"))
        for o in kept:
            note = " [protected]" if o.protected else ""
            out.append(plain(f"    ? {o.slug}{note} (was {o.path})"))
        out.append("")
    if plan.unmanaged:
        out.append(
            plain(f"Unmanaged catalogue personas (never touched): {', '.join(plan.unmanaged)}")
        )
        out.append("")
    for warning in plan.warnings:
        out.append(paint(f"warning: {warning}", "yellow"))
    if not plan.has_changes and not plan.errors:
        out.append(plain("No changes. The catalogue matches the repo."))
    else:
        out.append(plain(_summary_line(plan)))
    if plan.errors:
        out.append(
            paint(f"{len(plan.errors)} persona(s) cannot be planned; see the errors above.", "red")
        )
    out.append(plain(f"Plan checksum: {plan.checksum}"))
    return "\n".join(out) + "\n"
