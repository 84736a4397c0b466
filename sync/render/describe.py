"""One-line descriptions of changes, shared by the text and markdown renderers."""

from __future__ import annotations

from personas_as_code.sync.changes import (
    AddSource,
    AdoptPersona,
    Change,
    CreatePersona,
    DeletePersona,
    FieldDiff,
    Publish,
    RemoveSource,
    Republish,
    SetMarker,
    Unpublish,
    UpdateSource,
    UpdateWithDiffs,
    UploadAvatar,
)
from personas_as_code.sync.render.common import show

ACTION_SYMBOL = {"create": "+", "update": "~", "rename": "~", "delete": "-", "error": "!"}
CHANGE_SYMBOL = {
    "create": "+",
    "add_source": "+",
    "avatar": "+",
    "publish": "+",
    "remove_source": "-",
    "unpublish": "-",
    "delete": "-",
}


def symbol(change: Change) -> str:
    """``+`` adds, ``-`` removes, ``~`` changes in place."""
    return CHANGE_SYMBOL.get(change.kind, "~")


def groups_text(groups: tuple[str, ...]) -> str:
    return ", ".join(groups) if groups else "no groups"


def describe(change: Change) -> str:
    """A human sentence for a change (field values shown by the caller)."""
    if isinstance(change, CreatePersona):
        return "create persona"
    if isinstance(change, UpdateWithDiffs):
        return "update " + ", ".join(d.field for d in change.diffs)
    if isinstance(change, AdoptPersona):
        owner = f"repo '{change.from_repo}'" if change.from_repo else "no repo"
        return (
            f"adopt: takes over from {owner} (the ownership marker becomes this repo's, "
            f"path {change.after['path']})"
        )
    if isinstance(change, SetMarker):
        return (
            f"set ownership marker (path {change.after['path']}, protect {change.after['protect']})"
        )
    if isinstance(change, AddSource):
        s = change.source
        extra = f", {s.status}" if s.status != "active" else ""
        return f"add source {s.label()} (weight {s.weight:g}{extra})"
    if isinstance(change, UpdateSource):
        parts = ", ".join(f"{d.field} {show(d.before)} → {show(d.after)}" for d in change.diffs)
        return f"update source {change.source.label()}: {parts}"
    if isinstance(change, RemoveSource):
        return f"remove source {change.source.label()}"
    if isinstance(change, UploadAvatar):
        return f"upload avatar {change.path} (sha256 {change.sha256_after[:12]})"
    if isinstance(change, Publish):
        return f"publish into {groups_text(change.groups)}"
    if isinstance(change, Unpublish):
        return "unpublish (remove the published model)"
    if isinstance(change, Republish):
        return (
            f"republish (unpublish + publish): {change.reason}; groups "
            f"{groups_text(change.groups_before)} → {groups_text(change.groups_after)}"
        )
    if isinstance(change, DeletePersona):
        return "delete persona" + (" (unpublishes it first)" if change.published else "")
    return change.kind


def field_line(diff: FieldDiff) -> str:
    """``field: before → after`` for single-line values."""
    return f"{diff.field}: {show(diff.before, diff.field)} → {show(diff.after, diff.field)}"
