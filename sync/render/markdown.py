"""The plan as a PR comment: each section's part (tables, collapsible details), then
the plan's warnings and checksum."""

from __future__ import annotations

from personas_as_code.sync.plan import Plan
from personas_as_code.sync.render import notes
from personas_as_code.sync.render.literal import md_code, md_text
from personas_as_code.sync.render.redact import redact_plan

MARKER = "<!-- personas-plan -->"


def render_markdown(plan: Plan) -> str:
    """Markdown for a pull-request comment; starts with a marker to update it in place."""
    plan = redact_plan(plan)
    summary = plan.summary()
    title = "### personas plan"
    if plan.environment:
        title += f": {md_code(plan.environment)} (tenant {md_code(plan.tenant)})"
    out = [MARKER, title, ""]
    out += notes.markdown(plan)
    if not plan.has_changes and not plan.errors:
        out.append("**No changes.** The catalogue matches the repo.")
    for section in plan.shown_sections:
        out += section.markdown(summary)
    for warning in plan.warnings:
        out.append(f":warning: {md_text(warning)}")
    if plan.changed_since:
        out.append(f"Limited to personas changed since {md_code(plan.changed_since)}.")
    out.append(f"Plan checksum: `{plan.checksum}`")
    return "\n".join(out) + "\n"
