"""What a plan says of itself before its changes: that it is partial (a targeted plan)
and that ``apply`` would refuse it under ``[safety]``, with the flag that passes."""

from __future__ import annotations

from collections.abc import Iterator

from personas_as_code.sync.plan import FORCE_FLAG, Plan
from personas_as_code.sync.render.literal import StyledLine, md_code, md_text, one_line
from personas_as_code.sync.targets import PARTIAL_REST, partial_note


def refusal_sentence(plan: Plan) -> str:
    """``apply would refuse this plan: …; pass --force …`` (empty when it would not)."""
    if not plan.refusals:
        return ""
    return (
        "apply would refuse this plan ([safety] in personas.toml): "
        + "; ".join(plan.refusals)
        + f". If it is intended, pass {FORCE_FLAG}: {plan.override_command}"
    )


def lines(plan: Plan) -> Iterator[StyledLine]:
    """The terminal lines: the partial note first, the refusal last (by the summary)."""
    if plan.targets is not None:
        yield StyledLine(one_line(partial_note(plan.targets)), "bold")
        yield StyledLine("")


def refusal_lines(plan: Plan) -> Iterator[StyledLine]:
    """The refusal, as a warning line."""
    if plan.refusals:
        yield StyledLine(one_line("warning: " + refusal_sentence(plan)), "bold red")


def markdown(plan: Plan) -> list[str]:
    """The PR comment's lines under its title: the partial note, then the refusal."""
    out: list[str] = []
    if plan.targets is not None:
        names = ", ".join(md_code(t) for t in plan.targets)
        out += [f"**Partial plan:** only {names} {md_text(PARTIAL_REST)}", ""]
    if plan.refusals:
        out += [
            ":no_entry: **`personas apply` would refuse this plan** ([safety] in personas.toml):",
            "",
        ]
        out += [f"- {md_text(reason)}" for reason in plan.refusals]
        out += [
            "",
            f"If it is intended, apply it with {md_code(FORCE_FLAG)}: "
            f"{md_code(plan.override_command)}",
            "",
        ]
    return out
