"""The plan as a PR comment: summary table, then collapsible details per persona."""

from __future__ import annotations

from personas_as_code.sync.plan import Plan
from personas_as_code.sync.render.change_lines import details_markdown, leftover_markdown
from personas_as_code.sync.render.describe import ACTION_SYMBOL, describe
from personas_as_code.sync.render.literal import md_code, md_text
from personas_as_code.sync.render.redact import redact_plan
from personas_as_code.sync.render.simulated_users import section_markdown
from personas_as_code.untrusted.secrets import redact

MARKER = "<!-- personas-plan -->"


def render_markdown(plan: Plan) -> str:
    """Markdown for a pull-request comment; starts with a marker to update it in place."""
    plan = redact_plan(plan)
    s = plan.summary()
    out = [MARKER, "### personas plan", ""]
    if not plan.has_changes and not plan.errors:
        out.append("**No changes.** The catalogue matches the repo.")
    elif any(p.has_changes or p.error for p in plan.personas):
        out += [
            "| create | update | delete | publish | republish | unpublish | sources | avatars "
            "| errors |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {s['create']} | {s['update']} | {s['delete']} | {s['publish']} | {s['republish']} "
            f"| {s['unpublish']} | {s['source_changes']} | {s['avatar_uploads']} | {s['errors']} |",
            "",
            "| | persona | file | changes |",
            "|---|---|---|---|",
        ]
        for p in plan.personas:
            if not (p.has_changes or p.error):
                continue
            what = p.error or "; ".join(describe(c) for c in p.changes)
            name = md_code(p.slug) + (
                f" (was {md_code(p.previous_slug)})" if p.previous_slug else ""
            )
            out.append(
                f"| {ACTION_SYMBOL.get(p.action, '~')} | {name} | {md_text(p.path or '')} "
                f"| {md_text(what)} |"
            )
        out.append("")
    for p in plan.personas:
        if not (p.has_changes or p.error or p.warnings):
            continue
        out += details_markdown(md_code(p.slug), p, describe, redact)
    kept = [
        o
        for o in plan.orphans
        if not any(p.slug == o.slug and p.action == "delete" for p in plan.personas)
    ]
    out += leftover_markdown(kept, plan.unmanaged, owned="personas", others="catalogue personas")
    if plan.knowledge:
        out += ["**Knowledge** (indexed into the embedded catalogue):", ""]
        for change in plan.knowledge:
            out.append(f"- {md_code(change.label)}: {md_text(change.describe())}")
            out += [f"  - {md_text(line)}" for line in change.path_lines()]
        out.append("")
    if plan.knowledge_note:
        out += [f"Note: {md_text(plan.knowledge_note)}", ""]
    out += section_markdown(plan.test_personas)
    if plan.backends:
        out += ["**Backends** (where the embedded catalogue's models send calls):", ""]
        for change in plan.backends:
            out.append(f"- {md_code(change.backend_model)}: {md_text(change.describe())}")
        out.append("")
    if plan.backends_note:
        out += [f"Note: {md_text(plan.backends_note)}", ""]
    for warning in plan.warnings:
        out.append(f":warning: {md_text(warning)}")
    if plan.changed_since:
        out.append(f"Limited to personas changed since {md_code(plan.changed_since)}.")
    out.append(f"Plan checksum: `{plan.checksum}`")
    return "\n".join(out) + "\n"
