"""Patching a persona draft: check the patch, find where it goes, compute the files.

The slug is checked once, where it comes in (``PersonaService.patch_draft``, before
this module sees it: the target is built from it unchecked); the persona file is
read once and parsed once by the bounded parser, which both refuses a hostile
file before the round-trip editor sees it and tells where the file's
``system_prompt_file`` is.
"""

from __future__ import annotations

import json
import re

from personas_as_code.application.authors import DraftAuthors
from personas_as_code.application.draft_commit import commit_draft
from personas_as_code.application.draft_refs import DraftTarget
from personas_as_code.application.draft_result import draft_result
from personas_as_code.application.drafts import DraftStore
from personas_as_code.application.ids import (
    MAX_PATCH_BYTES,
    MAX_PROMPT_BYTES,
    InvalidInput,
    check_size,
    new_draft_id,
)
from personas_as_code.application.models import DraftResult
from personas_as_code.application.yaml_edit import (
    PatchSpec,
    checked_data,
    edit_checked,
    new_persona_text,
)
from personas_as_code.loader.files import PathRefused, join_relative
from personas_as_code.schemas.errors import DraftConflict, NotFound

_UNSET_RE = re.compile(r"[A-Za-z0-9_-]{1,100}(\.[A-Za-z0-9_-]{1,100}){0,9}\Z")


def patch_draft(
    store: DraftStore,
    authors: DraftAuthors,
    slug: str | None,
    patch: PatchSpec,
    *,
    draft_id: str | None,
    expected_version: int | None,
    new_persona: bool,
    message: str | None,
    client: str | None,
) -> DraftResult:
    """Create a draft of ``slug`` or add one patch commit to draft ``draft_id``; validate;
    diff against the base.  ``slug`` and ``patch`` are as ``check_slug`` and
    ``check_patch`` passed them; ``client`` is the MCP client's declared name.  The
    draft id alone names the draft (seed 001's draft patch); a ``slug`` given with it
    must be the draft's."""
    with store.lock:
        if draft_id is not None:
            target = _next_target(store, slug, draft_id, expected_version)
        elif slug is None:
            raise InvalidInput("give a slug to start a draft, or a draft_id to patch one")
        else:
            target = _new_target(store, slug, new_persona, expected_version)
        slug = target.slug
        scope = store.scope(target.base, slug, target.path)
        for field in ("system_prompt_file", "avatar"):
            if isinstance(patch.set.get(field), str):
                scope.check_reference(field, patch.set[field])
        raw = store.read(target.parent_sha, target.path)
        changes, notes = patch_changes(raw, target.path, patch)
        # after patch_changes: a system_prompt it moved to the prompt file is not a key edit
        summary = message or f"draft({slug}): " + ", ".join(touched(patch))
        written = commit_draft(store, authors, target, changes, summary=summary, client=client)
    return draft_result(store, written, target.path, notes)


def _new_target(
    store: DraftStore, slug: str, new_persona: bool, expected_version: int | None
) -> DraftTarget:
    """A new draft of ``slug`` (a checked slug) from HEAD."""
    if expected_version not in (None, 0):
        raise InvalidInput(
            "expected_version applies to an existing draft; give draft_id too, or "
            "omit expected_version to start a new draft"
        )
    draft_id, base = new_draft_id(), store.head_sha()
    hint = store.repo_at(base).personas.get(slug)
    path = store.persona_path(base, slug, hint.path if hint else None)
    if path is None and not new_persona:
        raise NotFound(
            f"no persona '{slug}' at the current commit; pass new_persona=true to draft a new one"
        )
    if path is not None and new_persona:
        raise InvalidInput(f"persona '{slug}' already exists ({path}); drop new_persona")
    is_new = path is None
    path = path or store.new_persona_path(base, slug)
    return DraftTarget(slug, draft_id, base, path, None, is_new)


def _next_target(
    store: DraftStore, slug: str | None, draft_id: str, expected_version: int | None
) -> DraftTarget:
    """The next commit of draft ``draft_id``; ``slug`` (a checked slug), when given, must
    be the one the draft is of."""
    parent = store.get(draft_id)  # checks the draft id
    slug = parent.slug if slug is None else slug
    if parent.slug != slug:
        raise InvalidInput(
            f"draft '{draft_id}' is a draft of '{parent.slug}', not '{slug}' "
            "(the draft_id alone is enough)"
        )
    if expected_version is None:
        raise InvalidInput(
            f"expected_version is required to patch draft '{draft_id}' "
            f"(it is at version {parent.version})"
        )
    if expected_version != parent.version:
        raise DraftConflict(
            f"draft '{draft_id}' is at version {parent.version}, not "
            f"{expected_version}; re-read it (get_persona with draft_id) and retry",
            details={"draft_id": draft_id, "current_version": parent.version},
        )
    base, path = parent.base, parent.path
    is_new = store.read(base, path) is None
    if not is_new and store.read(parent.head, path) is None:
        raise InvalidInput(
            f"draft '{draft_id}' deletes '{slug}'; there is nothing to patch "
            "(discard_persona_draft drops the draft)"
        )
    return DraftTarget(slug, draft_id, base, path, parent, is_new)


def patch_changes(
    raw: bytes | None, path: str, patch: PatchSpec
) -> tuple[dict[str, bytes | None], list[str]]:
    """The new content of every file the patch touches, given the persona file's bytes
    ``raw`` (None: a new file).  A ``system_prompt`` goes to the file's
    ``system_prompt_file`` when it has one (and the patch does not change it)."""
    if raw is None:
        text, new_notes = new_persona_text(patch, path)
        return {path: text.encode("utf-8")}, new_notes
    current = raw.decode("utf-8", errors="replace")
    data = checked_data(current)  # the one bounded parse; refuses a hostile file
    notes: list[str] = []
    changes: dict[str, bytes | None] = {}
    prompt_path = _prompt_path(data, path, patch)
    if prompt_path is not None:
        prompt = patch.set.pop("system_prompt")
        changes[prompt_path] = prompt.encode("utf-8")
        notes.append(f"system_prompt written to {prompt_path} (the file's system_prompt_file)")
    if not patch.empty:
        text, edit_notes = edit_checked(current, patch)
        notes += edit_notes
        if text != current:
            changes[path] = text.encode("utf-8")
    if not changes:
        notes.append("the patch changed nothing; the commit records an unchanged file")
        changes[path] = raw
    return changes, notes


def _prompt_path(data: object, path: str, patch: PatchSpec) -> str | None:
    """Where the patch's ``system_prompt`` goes instead of the persona file: the repo
    path of the file's ``system_prompt_file``, unless the patch sets or unsets it."""
    if "system_prompt" not in patch.set:
        return None
    if "system_prompt_file" in patch.set or "system_prompt_file" in patch.unset:
        return None
    value = data.get("system_prompt_file") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        return None
    try:
        return join_relative(path, value)
    except PathRefused:
        return None


def touched(patch: PatchSpec) -> list[str]:
    """The keys a patch changes, for the commit's summary (``-key``: removed)."""
    keys = list(patch.set) + list(patch.merge)
    if patch.sources is not None:
        keys.append("sources")
    keys += [f"-{u}" for u in patch.unset]
    return keys or ["no change"]


def check_patch(patch: PatchSpec) -> None:
    """Bound the patch's size and the shape of ``unset`` paths."""
    if patch.empty:
        raise InvalidInput("the patch is empty: give at least one field or unset path")
    check_size("system_prompt", patch.set.get("system_prompt"), MAX_PROMPT_BYTES)
    size = len(json.dumps([patch.set, patch.merge, patch.sources], default=str))
    if size > MAX_PATCH_BYTES:
        raise InvalidInput(f"the patch is larger than {MAX_PATCH_BYTES:,} bytes")
    if len(patch.unset) > 50:
        raise InvalidInput("at most 50 unset paths per patch")
    for dotted in patch.unset:
        if not _UNSET_RE.match(dotted):
            raise InvalidInput(
                f"invalid unset path {dotted[:80]!r}: use dotted keys like rag.min_score"
            )
        if dotted.split(".")[0] in ("name", "model"):
            raise InvalidInput(f"'{dotted}' is required and cannot be unset")
