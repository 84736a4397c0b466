"""One draft commit with its author: the MCP client, or ``[drafts] author`` of the base."""

from __future__ import annotations

from personas_as_code.application.authors import DraftAuthors
from personas_as_code.application.draft_refs import DraftTarget, Written
from personas_as_code.application.drafts import DraftStore
from personas_as_code.loader.config import load_config


def commit_draft(
    store: DraftStore,
    authors: DraftAuthors,
    target: DraftTarget,
    changes: dict[str, bytes | None],
    *,
    summary: str,
    client: str | None,
) -> Written:
    """Commit ``changes`` to ``target`` under the first line of ``summary`` (at most 200
    characters), authored for ``client`` (the MCP client's declared name) or by
    ``[drafts] author`` of personas.toml at the base commit."""
    config, _ = load_config(store.files_at(target.base), "repo")
    return store.commit(
        target,
        changes,
        summary.splitlines()[0][:200],
        actor=authors.actor(client, config.drafts.author),
        trailers=authors.trailers(client),
    )
