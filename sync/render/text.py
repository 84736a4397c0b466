"""The plan for terminals and logs: each section's block, then the summary.

The renderer yields ``StyledLine``s: the text exactly as it will be shown
(user text made visible by ``sync.render.literal``) and a style name that a
terminal may colour.  No markup language is involved, so a prompt holding
``[bold]`` or ``<b>`` is printed as written, and the cost is linear in the
size of the plan.
"""

from __future__ import annotations

from collections.abc import Iterator

from personas_as_code.sync.plan import Plan
from personas_as_code.sync.render import notes
from personas_as_code.sync.render.literal import StyledLine, one_line, visible
from personas_as_code.sync.render.redact import redact_plan


def plan_lines(plan: Plan) -> Iterator[StyledLine]:
    """The plan as styled lines, user text shown literally, secrets redacted."""
    plan = redact_plan(plan)
    sections = plan.shown_sections
    if plan.environment:
        yield StyledLine(f"Environment: {plan.environment} (tenant {plan.tenant})", "bold")
    yield from notes.lines(plan)
    for section in sections:
        yield from section.text_lines()
    for section in sections:
        yield from section.text_trailer()
    for warning in plan.warnings:
        yield StyledLine(one_line(f"warning: {warning}"), "yellow")
    yield from notes.refusal_lines(plan)
    if not plan.has_changes and not plan.errors:
        yield StyledLine("No changes. The catalogue matches the repo.")
    else:
        for section in sections:
            yield from section.summary_lines()
    if plan.errors:
        count = len(plan.errors)
        yield StyledLine(f"{count} persona(s) cannot be planned; see the errors above.", "red")
    yield StyledLine(f"Plan checksum: {plan.checksum}")


def render_text(plan: Plan) -> str:
    """The plan as plain text (what a log, a file or an MCP client gets)."""
    return "".join(visible(line.text) + "\n" for line in plan_lines(plan))
