"""What a draft commit did: its diff against the base, and whether the draft is valid."""

from __future__ import annotations

from personas_as_code.application.draft_refs import DraftTip, Written
from personas_as_code.application.drafts import DraftStore
from personas_as_code.application.models import DraftResult, Issue
from personas_as_code.application.persona_views import issues_about


def draft_result(
    store: DraftStore,
    written: Written,
    path: str,
    notes: list[str],
    *,
    deletes: bool = False,
) -> DraftResult:
    """Validate the draft commit ``written`` and describe it (its diff against the base)."""
    tip = written.tip
    changed, diff = store.diff(tip.base, tip.head)
    repo = store.focused_repo(tip.base, tip.head, changed)
    persona = repo.personas.get(tip.slug)
    paths = set(changed) | ({path} | set(persona.referenced_files) if persona else {path})
    issues = issues_about(repo.problems, paths)
    valid = not any(i.severity == "error" for i in issues)
    return DraftResult(
        success=True,
        draft_id=tip.draft_id,
        new_version=tip.version,
        message=_message(tip, changed, issues, valid=valid, deletes=deletes),
        branch=tip.branch,
        draft=tip.to_ref(store.head_sha()),
        created=written.created,
        new_persona=written.new_persona,
        changed_files=changed,
        valid=valid,
        issues=issues,
        diff=diff,
        notes=notes,
        needs_prune=deletes,
    )


def _message(
    tip: DraftTip, changed: list[str], issues: list[Issue], *, valid: bool, deletes: bool
) -> str:
    """What the caller is told about the draft, and what to do next."""
    if deletes:
        return (
            f"draft {tip.draft_id} deletes persona '{tip.slug}' ({', '.join(changed)}); "
            "applying it needs prune (personas apply --prune, or [safety] prune = true): "
            "without it the plan only lists the persona as owned with its file gone"
        )
    if valid:
        return (
            f"draft {tip.draft_id} of '{tip.slug}' is at version {tip.version} and valid; "
            "propose_persona_draft pushes it for review"
        )
    return (
        f"draft {tip.draft_id} of '{tip.slug}' is saved at version {tip.version} but "
        f"invalid ({len(issues)} issue(s)); patch it with expected_version={tip.version}"
    )
