"""How a persona's or test persona's changes are shown: the field diffs of an
update, the fields of a create, a sentence for the rest; the PR-comment block of
one item; the owned-but-gone and unmanaged lists.  Shared by the plan's text and
markdown renderers and the test-personas section."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from personas_as_code.sync.changes import Change, CreateWithFields, UpdateWithDiffs
from personas_as_code.sync.render.common import is_multiline, show, text_diff
from personas_as_code.sync.render.describe import field_line, symbol
from personas_as_code.sync.render.literal import StyledLine, md_code, md_fence, md_text, one_line

DIFF_STYLE = {"+": "green", "-": "red"}
# the kind of change an item holds (a persona's, a test persona's): its describer takes it
C = TypeVar("C", bound=Change)
C_co = TypeVar("C_co", bound=Change, covariant=True)


def change_lines(change: C, describe: Callable[[C], str]) -> Iterator[StyledLine]:
    """The indented terminal lines for ``change``; ``describe`` gives its sentence."""
    if isinstance(change, UpdateWithDiffs):
        for diff in change.diffs:
            if not is_multiline(diff):
                yield StyledLine("    ~ " + one_line(field_line(diff)))
                continue
            yield StyledLine(f"    ~ {diff.field}:")
            for line in text_diff(diff.before, diff.after, diff.field):
                yield StyledLine("        " + one_line(line), DIFF_STYLE.get(line[:1], "dim"))
    elif isinstance(change, CreateWithFields):
        yield StyledLine(f"    + {describe(change)}")
        for name, value in change.fields.items():
            if name == "system_prompt" and "\n" in value:
                yield StyledLine(f"        {name}: ({value.count(chr(10)) + 1} lines)")
            else:
                yield StyledLine("        " + one_line(f"{name}: {show(value, name)}"))
    else:
        yield StyledLine("    " + one_line(f"{symbol(change)} {describe(change)}"))


class _Item(Protocol[C_co]):
    """A persona's or test persona's plan, as the renderers read it."""

    @property
    def action(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def changes(self) -> Sequence[C_co]: ...
    @property
    def warnings(self) -> Sequence[str]: ...


class _Orphan(Protocol):
    """An owned object whose file is gone, as the renderers read it."""

    @property
    def slug(self) -> str: ...
    @property
    def path(self) -> str | None: ...
    @property
    def protected(self) -> bool: ...


def item_lines(
    item: _Item[C], title: str, style: str, describe: Callable[[C], str]
) -> Iterator[StyledLine]:
    """One persona's or test persona's block: its title, error, changes and warnings."""
    yield StyledLine(one_line(title), style)
    if item.error:
        yield StyledLine("    " + one_line(f"error: {item.error}"), "red")
    for change in item.changes:
        yield from change_lines(change, describe)
    for warning in item.warnings:
        yield StyledLine("    " + one_line(f"warning: {warning}"), "yellow")
    yield StyledLine("")


def change_markdown(
    change: C, describe: Callable[[C], str], prompt_text: Callable[[Any], str]
) -> list[str]:
    """The PR-comment list items for ``change``; ``prompt_text`` gives the text of a
    created ``system_prompt`` as it is fenced."""
    out: list[str] = []
    if isinstance(change, UpdateWithDiffs):
        for diff in change.diffs:
            if is_multiline(diff):
                out += [f"- `{diff.field}`:", ""]
                out += md_fence(text_diff(diff.before, diff.after, diff.field), "diff")
                out.append("")
            else:
                out.append(f"- {md_text(field_line(diff))}")
    elif isinstance(change, CreateWithFields):
        out.append(f"- {describe(change)}")
        for name, value in change.fields.items():
            if name == "system_prompt":
                out += ["", *md_fence(prompt_text(value).splitlines(), "text"), ""]
            else:
                out.append(f"  - {name}: {md_text(show(value, name))}")
    else:
        out.append(f"- {md_text(describe(change))}")
    return out


def details_markdown(
    title: str,
    item: _Item[C],
    describe: Callable[[C], str],
    prompt_text: Callable[[Any], str],
) -> list[str]:
    """A persona's (or test persona's) collapsible PR-comment block: error, changes,
    warnings; ``title`` is already markdown."""
    out = [f"<details><summary>{title} — {item.action}</summary>", ""]
    if item.error:
        out.append(f"**Error:** {md_text(item.error)}")
    for change in item.changes:
        out += change_markdown(change, describe, prompt_text)
    for warning in item.warnings:
        out.append(f"- :warning: {md_text(warning)}")
    out += ["", "</details>", ""]
    return out


def leftover_lines(
    kept: Sequence[_Orphan], unmanaged: Sequence[str], *, owned: str, others: str
) -> Iterator[StyledLine]:
    """The terminal lines for owned objects whose file is gone (``owned``: what they
    are) and for the unmanaged ones (``others``)."""
    if kept:
        yield StyledLine(f"Owned {owned} whose file is gone (kept; apply --prune deletes them):")
        for o in kept:
            note = " [protected]" if o.protected else ""
            yield StyledLine("    " + one_line(f"? {o.slug}{note} (was {o.path})"))
        yield StyledLine("")
    if unmanaged:
        names = ", ".join(unmanaged)
        yield StyledLine(one_line(f"Unmanaged {others} (never touched): {names}"))
        yield StyledLine("")


def leftover_markdown(
    kept: Sequence[_Orphan], unmanaged: Sequence[str], *, owned: str, others: str
) -> list[str]:
    """``leftover_lines`` for a PR comment: the owned-but-gone ones by slug, the
    unmanaged ones counted."""
    out: list[str] = []
    if kept:
        out += [
            f"**Owned {owned} whose file is gone** (kept; `apply --prune` deletes them): "
            + ", ".join(md_code(o.slug) + (" (protected)" if o.protected else "") for o in kept),
            "",
        ]
    if unmanaged:
        out += [f"Unmanaged {others} (never touched): {len(unmanaged)}", ""]
    return out
