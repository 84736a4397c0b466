"""``PersonaService``: everything the MCP tools and the CLI commands do, without MCP.

One instance serves one repo root.  Reads go through the cached working-tree
index; drafts go through ``DraftStore`` (git plumbing); every persona is
validated by ``loader.repo`` (working tree and draft commits alike).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from personas_as_code.application.authors import DraftAuthors
from personas_as_code.application.draft_commit import commit_draft
from personas_as_code.application.draft_ops import (
    DraftFiles,
    delete_files,
    draft_remote,
    duplicate_files,
    push_draft,
)
from personas_as_code.application.draft_patch import check_patch, patch_draft
from personas_as_code.application.draft_refs import DraftTarget
from personas_as_code.application.draft_result import draft_result
from personas_as_code.application.drafts import DraftStore
from personas_as_code.application.export import write_export
from personas_as_code.application.ids import (
    MAX_PROMPT_BYTES,
    InvalidInput,
    check_size,
    check_slug,
    new_draft_id,
)
from personas_as_code.application.index import RepoIndex, Snapshot, filtered, search
from personas_as_code.application.models import (
    DiscardResult,
    DraftList,
    DraftResult,
    ExportResult,
    PersonaView,
    Preview,
    ProposeResult,
    SearchFilters,
    SearchResult,
    ValidationReport,
)
from personas_as_code.application.persona_views import (
    draft_view,
    invalid_path,
    issues_about,
    not_found,
    tree_view,
)
from personas_as_code.application.preview import PreviewRequest, RetrievalAccess, build_preview
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.loader.repo import LoadedPersona, Repo
from personas_as_code.sandbox.enrichment import retrieval_notes
from personas_as_code.sandbox.run import RunRequest, RunResult, run_persona
from personas_as_code.sandbox.tree_retrieval import TreeRetrieval
from personas_as_code.schemas.errors import DraftConflict, DraftError, PersonasError
from personas_as_code.schemas.problems import errors_only


class PersonaService:
    """Read, search, draft, preview, export and validate the personas of one repo."""

    def __init__(
        self,
        root: str | Path,
        *,
        catalogue: Catalogue | None = None,
        max_staleness: float = 0.5,
        draft_author: str | None = None,
        environment: str | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise PersonasError(f"repo directory {self.root} does not exist")
        self.catalogue = catalogue
        self.cache = ParseCache.for_repo(self.root)  # starts warm from .personas/
        # the working tree as the personas.toml environment sees it (None: the default)
        self.index = RepoIndex(self.root, self.cache, max_staleness, environment)
        self._store: DraftStore | None = None
        self._store_lock = threading.Lock()
        self._windows: dict[str, int] | None = None
        self.authors = DraftAuthors(draft_author)

    # --- plumbing -------------------------------------------------------------

    def store(self) -> DraftStore:
        """The draft store; DraftError when the repo is not a git repository."""
        with self._store_lock:
            if self._store is None:
                self._store = DraftStore(self.root, cache=self.cache)
            return self._store

    def _git_or_none(self) -> DraftStore | None:
        try:
            return self.store()
        except DraftError:
            return None

    def snapshot(self) -> Snapshot:
        """The current working-tree snapshot."""
        return self.index.snapshot()

    def draft_repo(self, sha: str) -> Repo:
        """The repo as loaded at commit ``sha`` (cached; commits are immutable)."""
        return self.store().repo_at(sha)

    def repo_for(self, draft_id: str | None) -> tuple[Repo, str]:
        """The working tree's repo, or the repo as draft ``draft_id`` has it; and its name."""
        if draft_id is None:
            return self.snapshot().repo, "working tree"
        tip = self.store().get(draft_id)
        return self.draft_repo(tip.head), f"draft {draft_id}"

    def _context_windows(self) -> dict[str, int] | None:
        if self.catalogue is None:
            return None
        if self._windows is None:
            try:
                models = self.catalogue.list_models()
            except (PersonasError, OSError):
                return None
            self._windows = {m.slug: m.context_window for m in models if m.context_window}
        return self._windows

    # --- get ------------------------------------------------------------------

    def get_persona(
        self, slug: str | None = None, draft_id: str | None = None, *, writable: bool = True
    ) -> PersonaView:
        """The persona ``slug`` in the working tree, or as draft ``draft_id`` has it;
        ``writable`` is false when the server offers no draft tools (read-only)."""
        if draft_id is not None:
            tip = self.store().get(draft_id)
            if slug is not None and check_slug(slug) != tip.slug:
                raise InvalidInput(f"draft '{draft_id}' is a draft of '{tip.slug}', not '{slug}'")
            return draft_view(self.store(), tip, catalogue=self.catalogue, writable=writable)
        if slug is None:
            raise InvalidInput("give a slug or a draft_id")
        check_slug(slug)
        return tree_view(
            self.root,
            self.snapshot().repo,
            slug,
            store=self._git_or_none(),
            catalogue=self.catalogue,
            writable=writable,
        )

    def persona_yaml(self, slug: str) -> str:
        """The working-tree YAML text of persona ``slug``."""
        return self.get_persona(slug).yaml_text

    # --- search / export / validate -------------------------------------------

    def search(
        self,
        query: str = "",
        filters: SearchFilters | None = None,
        page_size: int = 20,
        page_offset: int = 0,
    ) -> SearchResult:
        """Free text + filters over the working tree's valid personas."""
        if not 1 <= page_size <= 100 or page_offset < 0:
            raise InvalidInput("page_size must be 1..100 and page_offset >= 0")
        return search(self.snapshot(), query, filters, page_size, page_offset)

    def export(
        self,
        fmt: Literal["csv", "json"] = "csv",
        query: str = "",
        filters: SearchFilters | None = None,
        file_name: str | None = None,
    ) -> ExportResult:
        """Write the matching personas under ``.personas/exports/``."""
        return write_export(self.root, self.matching_personas(query, filters), fmt, file_name)

    def matching_personas(
        self, query: str = "", filters: SearchFilters | None = None
    ) -> list[LoadedPersona]:
        """The personas a search/export with these arguments covers (by slug)."""
        return [e.persona for e in filtered(self.snapshot(), query, filters or SearchFilters())]

    def validate(self, draft_id: str | None = None) -> ValidationReport:
        """The loader's problems for the working tree or a draft."""
        repo, target = self.repo_for(draft_id)
        errors = errors_only(repo.problems)
        return ValidationReport(
            target=target,
            valid=not errors,
            personas=len(repo.personas),
            files=len(repo.persona_files),
            error_count=len(errors),
            warning_count=len(repo.problems) - len(errors),
            problems=issues_about(repo.problems),
        )

    # --- preview / run --------------------------------------------------------

    def tree_retrieval(self, repo: Repo, draft_id: str | None) -> TreeRetrieval:
        """Retrieval over the knowledge folders of ``repo`` (the working tree, or the
        commit of draft ``draft_id``), its index kept under this repo's ``.personas/``."""
        label = "the working tree" if draft_id is None else f"draft {draft_id}"
        return TreeRetrieval(repo, label=label, workspace=self.root)

    def preview(self, slug: str | None, draft_id: str | None, request: PreviewRequest) -> Preview:
        """The prompt blocks for persona ``slug`` (or draft ``draft_id``), with real
        retrieval over the knowledge folders of the tree it comes from."""
        persona, origin, repo = self._persona_in(slug, draft_id)
        check_size("system_prompt_override", request.system_prompt_override, MAX_PROMPT_BYTES)
        retrieval = self.tree_retrieval(repo, draft_id)
        preview = build_preview(
            persona,
            request,
            origin=origin,  # type: ignore[arg-type]
            draft_id=draft_id,
            catalogue_windows=self._context_windows(),
            retrieval=RetrievalAccess(retrieval),
        )
        preview.notes += _knowledge_notes(retrieval, self.catalogue)
        return preview

    def run(
        self,
        slug: str | None,
        draft_id: str | None,
        request: RunRequest,
        *,
        catalogue: Catalogue | None = None,
    ) -> RunResult:
        """One real call for persona ``slug`` (or draft ``draft_id``) through ``catalogue``
        (default: this service's); nothing is published or persisted."""
        persona, origin, repo = self._persona_in(slug, draft_id)
        check_size("message", request.message, MAX_PROMPT_BYTES)
        check_size("system_prompt_override", request.system_prompt_override, MAX_PROMPT_BYTES)
        retrieval = self.tree_retrieval(repo, draft_id)
        result = run_persona(
            persona,
            request,
            catalogue if catalogue is not None else self.catalogue,
            origin=origin,  # type: ignore[arg-type]
            draft_id=draft_id,
            retriever=retrieval,
            backends=repo.config.backends,
            root=self.root,
        )
        if retrieval.account is not None:
            result.notes.append(retrieval.account)
        return result

    def loaded_persona(self, slug: str | None, draft_id: str | None) -> tuple[LoadedPersona, str]:
        """The valid persona ``slug`` of the working tree (or of draft ``draft_id``), and
        its origin (``repo`` | ``draft``); an invalid one is refused with its problems."""
        persona, origin, _ = self._persona_in(slug, draft_id)
        return persona, origin

    def _persona_in(
        self, slug: str | None, draft_id: str | None
    ) -> tuple[LoadedPersona, str, Repo]:
        """``loaded_persona``, and the repo it was found in."""
        if draft_id is not None:
            tip = self.store().get(draft_id)
            if slug is not None and check_slug(slug) != tip.slug:
                raise InvalidInput(f"draft '{draft_id}' is a draft of '{tip.slug}', not '{slug}'")
            repo, slug, origin = self.draft_repo(tip.head), tip.slug, "draft"
        elif slug is None:
            raise InvalidInput("give a slug or a draft_id")
        else:
            repo, origin = self.snapshot().repo, "repo"
            check_slug(slug)
        persona = repo.personas.get(slug)
        if persona is None:
            path = invalid_path(repo, slug)
            if path is None:
                raise not_found(repo, slug, "the repo" if origin == "repo" else "the draft")
            found = [str(p) for p in errors_only(repo.problems) if p.path == path][:5]
            raise InvalidInput(f"persona '{slug}' is invalid, fix it first: " + "; ".join(found))
        return persona, origin, repo

    # --- drafts ---------------------------------------------------------------

    def list_drafts(self, slug: str | None = None) -> DraftList:
        """Every draft branch (of ``slug`` when given), newest first."""
        store = self.store()
        head = store.head_sha()
        drafts = [t.to_ref(head) for t in store.list(slug)]
        return DraftList(drafts=drafts, total_count=len(drafts))

    def discard_draft(self, draft_id: str, expected_version: int | None = None) -> DiscardResult:
        """Delete a draft branch."""
        tip = self.store().discard(draft_id, expected_version)
        return DiscardResult(
            draft_id=tip.draft_id, branch=tip.branch, discarded_version=tip.version, head=tip.head
        )

    def patch_draft(
        self,
        slug: str | None,
        patch: PatchSpec,
        *,
        draft_id: str | None = None,
        expected_version: int | None = None,
        new_persona: bool = False,
        message: str | None = None,
        client: str | None = None,
    ) -> DraftResult:
        """Create a draft or add one patch commit to it; validate; diff against the base.
        ``client`` is the MCP client's declared name (the commit's author).  ``slug`` may
        be left out when ``draft_id`` is given (the draft knows its persona)."""
        if slug is not None:
            check_slug(slug)
        check_patch(patch)
        return patch_draft(
            self.store(),
            self.authors,
            slug,
            patch,
            draft_id=draft_id,
            expected_version=expected_version,
            new_persona=new_persona,
            message=message,
            client=client,
        )

    def _new_draft(
        self,
        slug: str,
        build: Callable[[DraftStore, str], DraftFiles],
        *,
        summary: str,
        new_persona: bool,
        client: str | None,
        deletes: bool = False,
    ) -> DraftResult:
        """A new draft of ``slug`` (a checked slug) from HEAD holding the files
        ``build(store, base)`` gives."""
        store = self.store()
        with store.lock:
            base = store.head_sha()
            built = build(store, base)
            target = DraftTarget(slug, new_draft_id(), base, built.path, None, new_persona)
            written = commit_draft(
                store, self.authors, target, built.changes, summary=summary, client=client
            )
        return draft_result(store, written, built.path, built.notes, deletes=deletes)

    def duplicate_draft(
        self,
        slug: str,
        new_slug: str,
        *,
        name: str | None = None,
        message: str | None = None,
        client: str | None = None,
    ) -> DraftResult:
        """A draft of a new persona ``new_slug``: a copy of ``slug`` with its prompt and
        avatar copied, its name (and explicit slug) updated."""
        check_slug(slug)
        check_slug(new_slug)
        return self._new_draft(
            new_slug,
            lambda store, base: duplicate_files(store, base, slug, new_slug, name),
            summary=message or f"draft({new_slug}): duplicate of {slug}",
            new_persona=True,
            client=client,
        )

    def delete_draft(
        self, slug: str, *, message: str | None = None, client: str | None = None
    ) -> DraftResult:
        """A draft that deletes persona ``slug``'s file (and the prompt and avatar only it
        uses); applying it needs prune."""
        check_slug(slug)
        return self._new_draft(
            slug,
            lambda store, base: delete_files(store, base, slug),
            summary=message or f"draft({slug}): delete the persona",
            new_persona=False,
            client=client,
            deletes=True,
        )

    def propose_draft(self, draft_id: str, expected_version: int | None = None) -> ProposeResult:
        """Push draft ``draft_id``'s branch to the configured remote (``[drafts] remote``)."""
        store = self.store()
        tip = store.get(draft_id)
        if expected_version is not None and expected_version != tip.version:
            raise DraftConflict(
                f"draft '{draft_id}' is at version {tip.version}, not {expected_version}",
                details={"draft_id": draft_id, "current_version": tip.version},
            )
        remote = draft_remote(store)
        push_draft(store, tip, remote)
        return ProposeResult(
            success=True,
            draft_id=tip.draft_id,
            branch=tip.branch,
            remote=remote,
            head=tip.head,
            version=tip.version,
            message=(
                f"pushed {tip.branch} (version {tip.version}) to '{remote}'; open a pull "
                "request from that branch to review and merge it"
            ),
        )


def _knowledge_notes(retrieval: TreeRetrieval, catalogue: Catalogue | None) -> list[str]:
    """What a preview that retrieved says about its knowledge: the tree's account, and
    that a remote catalogue's collections were not searched."""
    if retrieval.account is None:  # retrieval did not run
        return []
    return [retrieval.account, *retrieval_notes(catalogue)]
