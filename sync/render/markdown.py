"""The plan as a PR comment: summary table, then collapsible details per persona."""

from __future__ import annotations

from schemas.secrets import redact
from sync.changes import CreatePersona, UpdateFields
from sync.plan import Plan
from sync.render.common import is_multiline, show, text_diff
from sync.render.describe import ACTION_SYMBOL, describe, field_line

MARKER = "<!-- personas-plan -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(plan: Plan) -> str:
    """Markdown for a pull-request comment; starts with a marker to update it in place."""
    s = plan.summary()
    out = [MARKER, "### personas plan", ""]
    if not plan.has_changes and not plan.errors:
        out.append("**No changes.** The catalogue matches the repo.")
    else:
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
            name = p.slug + (f" (was {p.previous_slug})" if p.previous_slug else "")
            out.append(
                f"| {ACTION_SYMBOL.get(p.action, '~')} | `{name}` | {_cell(p.path or '')} "
                f"| {_cell(what)} |"
            )
        out.append("")
        for p in plan.personas:
            if not (p.has_changes or p.error or p.warnings):
                continue
            out += [f"<details><summary><code>{p.slug}</code> — {p.action}</summary>", ""]
            if p.error:
                out.append(f"**Error:** {p.error}")
            for change in p.changes:
                if isinstance(change, UpdateFields):
                    for diff in change.diffs:
                        if is_multiline(diff):
                            out += [f"- `{diff.field}`:", "", "```diff"]
                            out += text_diff(diff.before, diff.after, diff.field)
                            out += ["```", ""]
                        else:
                            out.append(f"- {_cell(field_line(diff))}")
                elif isinstance(change, CreatePersona):
                    out.append(f"- {describe(change)}")
                    for name, value in change.fields.items():
                        if name == "system_prompt":
                            out += ["", "```text", *show_prompt(value), "```", ""]
                        else:
                            out.append(f"  - {name}: {_cell(show(value, name))}")
                else:
                    out.append(f"- {_cell(describe(change))}")
            for warning in p.warnings:
                out.append(f"- :warning: {_cell(warning)}")
            out += ["", "</details>", ""]
    kept = [
        o
        for o in plan.orphans
        if not any(p.slug == o.slug and p.action == "delete" for p in plan.personas)
    ]
    if kept:
        out.append(
            "**Owned personas whose file is gone** (kept; `apply --prune` deletes them): "
            + ", ".join(f"`{o.slug}`" + (" (protected)" if o.protected else "") for o in kept)
        )
        out.append("")
    if plan.unmanaged:
        out.append(f"Unmanaged catalogue personas (never touched): {len(plan.unmanaged)}")
        out.append("")
    for warning in plan.warnings:
        out.append(f":warning: {_cell(warning)}")
    if plan.changed_since:
        out.append(f"Limited to personas changed since `{plan.changed_since}`.")
    out.append(f"Plan checksum: `{plan.checksum}`")
    return "\n".join(out) + "\n"


def show_prompt(value: str) -> list[str]:
    """A new prompt for a code block (redacted)."""
    return redact(value).replace("```", "ʼʼʼ").splitlines()
