"""The plan for terminals and logs: one block per persona, prompt diffs.

The renderer yields ``StyledLine``s: the text exactly as it will be shown
(user text made visible by ``sync.render.literal``) and a style name that a
terminal may colour.  No markup language is involved, so a prompt holding
``[bold]`` or ``<b>`` is printed as written, and the cost is linear in the
size of the plan.
"""

from __future__ import annotations

from collections.abc import Iterator

from personas_as_code.sync.plan import Plan
from personas_as_code.sync.render.change_lines import DIFF_STYLE, item_lines, leftover_lines
from personas_as_code.sync.render.describe import ACTION_SYMBOL, describe
from personas_as_code.sync.render.literal import StyledLine, one_line, visible
from personas_as_code.sync.render.redact import redact_plan
from personas_as_code.sync.render.simulated_users import section_lines

_TITLE_STYLE = {"+": "green", "~": "yellow", "-": "red", "!": "bold red"}


def _summary_line(plan: Plan) -> str:
    s = plan.summary()
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete "
        f"({s['publish']} publish, {s['republish']} republish, {s['unpublish']} unpublish, "
        f"{s['source_changes']} source changes, {s['avatar_uploads']} avatar uploads)."
    )


def _persona_lines(plan: Plan) -> Iterator[StyledLine]:
    for p in plan.personas:
        if not (p.has_changes or p.error or p.warnings):
            continue
        mark = ACTION_SYMBOL.get(p.action, "~")
        title = f"{mark} {p.slug}"
        if p.previous_slug:
            title += f" (renamed from {p.previous_slug})"
        if p.path:
            title += f"  [{p.path}]"
        yield from item_lines(p, title, _TITLE_STYLE.get(mark, "yellow"), describe)


_KNOWLEDGE_MARK = {"index": "+", "update": "~", "drop": "-"}


def _knowledge_lines(plan: Plan) -> Iterator[StyledLine]:
    for change in plan.knowledge:
        mark = _KNOWLEDGE_MARK.get(change.action, "~")
        title = f"{mark} knowledge {change.label}: {change.describe()}"
        yield StyledLine(one_line(title), _TITLE_STYLE.get(mark, "yellow"))
        for line in change.path_lines():
            yield StyledLine("    " + one_line(line), DIFF_STYLE.get(line[:1], "dim"))
    if plan.knowledge:
        yield StyledLine("")
    if plan.knowledge_note:
        yield StyledLine(one_line(f"note: {plan.knowledge_note}"))
        yield StyledLine("")


def _backend_lines(plan: Plan) -> Iterator[StyledLine]:
    for change in plan.backends:
        title = f"~ backend {change.backend_model}: {change.describe()}"
        yield StyledLine(one_line(title), _TITLE_STYLE.get("~", "yellow"))
    if plan.backends:
        yield StyledLine("")
    if plan.backends_note:
        yield StyledLine(one_line(f"note: {plan.backends_note}"))
        yield StyledLine("")


def _knowledge_summary_line(plan: Plan) -> str:
    k = plan.knowledge_summary()
    return (
        f"Knowledge: {k['sources']} source(s) to index ({k['added']} documents added, "
        f"{k['changed']} changed, {k['removed']} removed)."
    )


def plan_lines(plan: Plan) -> Iterator[StyledLine]:
    """The plan as styled lines, user text shown literally, secrets redacted."""
    plan = redact_plan(plan)
    yield from _persona_lines(plan)
    yield from _knowledge_lines(plan)
    yield from section_lines(plan.test_personas)
    yield from _backend_lines(plan)
    deleting = {p.slug for p in plan.personas if p.action == "delete"}
    kept = [o for o in plan.orphans if o.slug not in deleting]
    yield from leftover_lines(kept, plan.unmanaged, owned="personas", others="catalogue personas")
    for warning in plan.warnings:
        yield StyledLine(one_line(f"warning: {warning}"), "yellow")
    if not plan.has_changes and not plan.errors:
        yield StyledLine("No changes. The catalogue matches the repo.")
    else:
        yield StyledLine(_summary_line(plan))
        if plan.knowledge:
            yield StyledLine(_knowledge_summary_line(plan))
        if plan.backends:
            count = len(plan.backends)
            yield StyledLine(f"Backends: {count} backend model(s) to reconfigure.")
    if plan.errors:
        count = len(plan.errors)
        yield StyledLine(f"{count} persona(s) cannot be planned; see the errors above.", "red")
    yield StyledLine(f"Plan checksum: {plan.checksum}")


def render_text(plan: Plan) -> str:
    """The plan as plain text (what a log, a file or an MCP client gets)."""
    return "".join(visible(line.text) + "\n" for line in plan_lines(plan))
