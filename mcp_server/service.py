"""``PersonaService``: everything the MCP tools and the CLI commands do, without MCP.

One instance serves one repo root.  Reads go through the cached working-tree
index; drafts go through ``DraftStore`` (git plumbing); every persona is
validated by ``loader.repo`` (working tree and draft commits alike).
"""

from __future__ import annotations

import json
import posixpath
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from personas_as_code.loader.files import DirectoryFiles, PathRefused, join_relative
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.loader.repo import LoadedPersona, Repo, load_config
from personas_as_code.mcp_server.authors import DraftAuthors
from personas_as_code.mcp_server.catalogue_state import catalogue_state
from personas_as_code.mcp_server.draft_ops import (
    DraftFiles,
    delete_files,
    draft_remote,
    duplicate_files,
    push_draft,
)
from personas_as_code.mcp_server.drafts import DraftStore, DraftTip, Written
from personas_as_code.mcp_server.export import write_export
from personas_as_code.mcp_server.ids import (
    MAX_PATCH_BYTES,
    MAX_PROMPT_BYTES,
    InvalidInput,
    check_draft_id,
    check_size,
    check_slug,
    new_draft_id,
)
from personas_as_code.mcp_server.index import RepoIndex, Snapshot, filtered, search
from personas_as_code.mcp_server.models import (
    DiscardResult,
    DraftList,
    DraftResult,
    ExportResult,
    Issue,
    PersonaView,
    Preview,
    ProposeResult,
    SearchFilters,
    SearchResult,
    ValidationReport,
)
from personas_as_code.mcp_server.preview import PreviewRequest, RetrievalAccess, build_preview
from personas_as_code.mcp_server.yaml_edit import PatchSpec, apply_patch, new_persona_text
from personas_as_code.sandbox.enrichment import REMOTE_RETRIEVAL, is_remote
from personas_as_code.sandbox.run import RunRequest, RunResult, run_persona
from personas_as_code.sandbox.tree_retrieval import TreeRetrieval
from personas_as_code.schemas.errors import DraftConflict, DraftError, NotFound, PersonasError
from personas_as_code.schemas.problems import Problem, errors_only
from personas_as_code.untrusted.yaml import YamlRefused, parse_yaml

_UNSET_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}(\.[A-Za-z0-9_-]{1,100}){0,9}$")


def _issues(problems: list[Problem], paths: set[str] | None = None) -> list[Issue]:
    """Problems as issues; only those about ``paths`` (or naming one) when given."""
    if paths is None:
        return [Issue.of(p) for p in problems]
    return [
        Issue.of(p)
        for p in problems
        if p.path in paths or (p.code == "duplicate_slug" and any(x in p.message for x in paths))
    ]


class PersonaService:
    """Read, search, draft, preview, export and validate the personas of one repo."""

    def __init__(
        self,
        root: str | Path,
        *,
        catalogue: Any | None = None,
        max_staleness: float = 0.5,
        draft_author: str | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise PersonasError(f"repo directory {self.root} does not exist")
        self.catalogue = catalogue
        self.cache = ParseCache.for_repo(self.root)  # starts warm from .personas/
        self.index = RepoIndex(self.root, self.cache, max_staleness)
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
        tip = self.store().get(check_draft_id(draft_id))
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

    @staticmethod
    def _invalid_path(repo: Repo, slug: str) -> str | None:
        for path in repo.persona_files:
            if posixpath.splitext(posixpath.basename(path))[0] == slug:
                return path
        return None

    def _not_found(self, repo: Repo, slug: str, where: str) -> NotFound:
        renamed = next(
            (p.slug for p in repo.personas.values() if slug in p.spec.previous_slugs), None
        )
        hint = f"; it was renamed to '{renamed}'" if renamed else " (search_personas lists them)"
        return NotFound(f"no persona '{slug}' in {where}{hint}")

    # --- get ------------------------------------------------------------------

    def get_persona(
        self, slug: str | None = None, draft_id: str | None = None, *, writable: bool = True
    ) -> PersonaView:
        """The persona ``slug`` in the working tree, or as draft ``draft_id`` has it;
        ``writable`` is false when the server offers no draft tools (read-only)."""
        if draft_id is not None:
            return self._get_draft(slug, draft_id, writable)
        if slug is None:
            raise InvalidInput("give a slug or a draft_id")
        check_slug(slug)
        repo = self.snapshot().repo
        persona = repo.personas.get(slug)
        path = persona.path if persona else self._invalid_path(repo, slug)
        if path is None:
            raise self._not_found(repo, slug, "the repo")
        text = DirectoryFiles(self.root).read(path).decode("utf-8", errors="replace")
        store = self._git_or_none()
        paths = set(persona.referenced_files) if persona else {path}
        return PersonaView(
            slug=slug,
            persona_exists=True,
            **_editable(writable, store is not None),
            origin="repo",
            path=path,
            yaml_text=text,
            fields=persona.spec.model_dump(mode="json") if persona else None,
            system_prompt=persona.system_prompt if persona else None,
            prompt_path=persona.prompt_path if persona else None,
            valid=persona is not None,
            issues=_issues(repo.problems, paths),
            last_commit=store.last_commit(path) if store else None,
            catalogue=catalogue_state(self.catalogue, repo, slug),
        )

    def _get_draft(self, slug: str | None, draft_id: str, writable: bool) -> PersonaView:
        store = self.store()
        tip = store.get(check_draft_id(draft_id))
        if slug is not None and check_slug(slug) != tip.slug:
            raise InvalidInput(f"draft '{draft_id}' is a draft of '{tip.slug}', not '{slug}'")
        repo = self.draft_repo(tip.head)
        persona = repo.personas.get(tip.slug)
        raw = store.read(tip.head, tip.path)
        paths = set(persona.referenced_files) if persona else {tip.path}
        return PersonaView(
            slug=tip.slug,
            persona_exists=raw is not None,
            **_editable(writable, True),
            origin="draft",
            draft=tip.to_ref(store.head_sha()),
            draft_version=tip.version,
            path=tip.path,
            yaml_text=(raw or b"").decode("utf-8", errors="replace"),
            fields=persona.spec.model_dump(mode="json") if persona else None,
            system_prompt=persona.system_prompt if persona else None,
            prompt_path=persona.prompt_path if persona else None,
            valid=persona is not None,
            issues=_issues(repo.problems, paths),
            last_commit=store.last_commit(tip.path, tip.head),
            catalogue=catalogue_state(self.catalogue, repo, tip.slug),
        )

    def persona_yaml(self, slug: str) -> str:
        """The working-tree YAML text of persona ``slug``."""
        return self.get_persona(slug).yaml_text

    # --- search / export ------------------------------------------------------

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
        entries = filtered(self.snapshot(), query, filters or SearchFilters())
        return write_export(self.root, [e.persona for e in entries], fmt, file_name)

    def matching_personas(
        self, query: str = "", filters: SearchFilters | None = None
    ) -> list[LoadedPersona]:
        """The personas a search/export with these arguments covers (by slug)."""
        return [e.persona for e in filtered(self.snapshot(), query, filters or SearchFilters())]

    # --- validate / preview ---------------------------------------------------

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
            problems=_issues(repo.problems),
        )

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
        catalogue: Any | None = None,
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
            tip = self.store().get(check_draft_id(draft_id))
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
            path = self._invalid_path(repo, slug)
            if path is None:
                raise self._not_found(repo, slug, "the repo" if origin == "repo" else "the draft")
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
        tip = self.store().discard(check_draft_id(draft_id), expected_version)
        return DiscardResult(
            draft_id=tip.draft_id, branch=tip.branch, discarded_version=tip.version, head=tip.head
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
        """A new draft of ``slug`` from HEAD holding the files ``build(store, base)`` gives."""
        store = self.store()
        with store.lock:
            base = store.head_sha()
            built = build(store, base)
            written = store.write(
                slug=slug,
                draft_id=new_draft_id(),
                parent=None,
                base=base,
                path=built.path,
                changes=built.changes,
                new_persona=new_persona,
                summary=summary.splitlines()[0][:200],
                actor=self.authors.actor(client, self._configured_author(store, base)),
                trailers=self.authors.trailers(client),
            )
        return self._draft_result(store, written, built.path, built.notes, deletes=deletes)

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
        tip = store.get(check_draft_id(draft_id))
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

    def _configured_author(self, store: DraftStore, base: str) -> str | None:
        """``[drafts] author`` of personas.toml at commit ``base``."""
        config, _ = load_config(store.files_at(base), "repo")
        return config.drafts.author

    def patch_draft(
        self,
        slug: str,
        patch: PatchSpec,
        *,
        draft_id: str | None = None,
        expected_version: int | None = None,
        new_persona: bool = False,
        message: str | None = None,
        client: str | None = None,
    ) -> DraftResult:
        """Create a draft or add one patch commit to it; validate; diff against the base.
        ``client`` is the MCP client's declared name (the commit's author)."""
        check_slug(slug)
        _check_patch(patch)
        store = self.store()
        with store.lock:
            parent: DraftTip | None = None
            if draft_id is None:
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
                        f"no persona '{slug}' at the current commit; pass new_persona=true to "
                        "draft a new one"
                    )
                if path is not None and new_persona:
                    raise InvalidInput(
                        f"persona '{slug}' already exists ({path}); drop new_persona"
                    )
                is_new = path is None
                path = path or store.new_persona_path(base, slug)
            else:
                parent = store.get(check_draft_id(draft_id))
                if parent.slug != slug:
                    raise InvalidInput(
                        f"draft '{draft_id}' is a draft of '{parent.slug}', not '{slug}'"
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
            scope = store.scope(base, slug, path)
            for field in ("system_prompt_file", "avatar"):
                if isinstance(patch.set.get(field), str):
                    scope.check_reference(field, patch.set[field])
            changes, notes = self._changes(store, parent.head if parent else base, path, patch)
            summary = message or f"draft({slug}): " + ", ".join(_touched(patch))
            written = store.write(
                slug=slug,
                draft_id=draft_id,
                parent=parent,
                base=base,
                path=path,
                changes=changes,
                new_persona=is_new,
                summary=summary.splitlines()[0][:200],
                actor=self.authors.actor(client, self._configured_author(store, base)),
                trailers=self.authors.trailers(client),
            )
        return self._draft_result(store, written, path, notes)

    def _draft_result(
        self,
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
        issues = _issues(repo.problems, paths)
        valid = not any(i.severity == "error" for i in issues)
        if deletes:
            message = (
                f"draft {tip.draft_id} deletes persona '{tip.slug}' ({', '.join(changed)}); "
                "applying it needs prune (personas apply --prune, or [safety] prune = true): "
                "without it the plan only lists the persona as owned with its file gone"
            )
        elif valid:
            message = (
                f"draft {tip.draft_id} of '{tip.slug}' is at version {tip.version} and valid; "
                "propose_persona_draft pushes it for review"
            )
        else:
            message = (
                f"draft {tip.draft_id} of '{tip.slug}' is saved at version {tip.version} but "
                f"invalid ({len(issues)} issue(s)); patch it with expected_version={tip.version}"
            )
        return DraftResult(
            success=True,
            draft_id=tip.draft_id,
            new_version=tip.version,
            message=message,
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

    def _changes(
        self, store: DraftStore, at: str, path: str, patch: PatchSpec
    ) -> tuple[dict[str, bytes], list[str]]:
        """The new content of every file the patch touches, at commit ``at``."""
        raw = store.read(at, path)
        notes: list[str] = []
        changes: dict[str, bytes] = {}
        if raw is None:
            text, notes = new_persona_text(patch, path)
            changes[path] = text.encode("utf-8")
            return changes, notes
        current = raw.decode("utf-8", errors="replace")
        prompt_file = _prompt_file(current)
        if (
            "system_prompt" in patch.set
            and prompt_file
            and "system_prompt_file" not in patch.set
            and "system_prompt_file" not in patch.unset
        ):
            try:
                prompt_path = join_relative(path, prompt_file)
            except PathRefused:
                prompt_path = None
            if prompt_path is not None:
                prompt = patch.set.pop("system_prompt")
                changes[prompt_path] = prompt.encode("utf-8")
                notes.append(
                    f"system_prompt written to {prompt_path} (the file's system_prompt_file)"
                )
        if not patch.empty:
            text, edit_notes = apply_patch(current, patch)
            notes += edit_notes
            if text != current:
                changes[path] = text.encode("utf-8")
        if not changes:
            notes.append("the patch changed nothing; the commit records an unchanged file")
            changes[path] = raw
        return changes, notes


def _knowledge_notes(retrieval: TreeRetrieval, catalogue: Any) -> list[str]:
    """What a preview that retrieved says about its knowledge: the tree's account, and
    that a remote catalogue's collections were not searched."""
    if retrieval.account is None:  # retrieval did not run
        return []
    return [retrieval.account] + ([REMOTE_RETRIEVAL] if is_remote(catalogue) else [])


def _editable(writable: bool, is_git: bool) -> dict[str, Any]:
    """``can_edit`` and ``disabled_reason`` of a persona view."""
    if not writable:
        reason: str | None = "the MCP server runs --read-only: it offers no draft tools"
    elif not is_git:
        reason = "the repo is not a git repository; drafts are git branches"
    else:
        reason = None
    return {"can_edit": reason is None, "disabled_reason": reason}


def _prompt_file(text: str) -> str | None:
    try:
        data = parse_yaml(text.encode("utf-8"), "the file").data
    except YamlRefused:
        return None
    value = data.get("system_prompt_file") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _touched(patch: PatchSpec) -> list[str]:
    keys = list(patch.set) + list(patch.merge)
    if patch.sources is not None:
        keys.append("sources")
    keys += [f"-{u}" for u in patch.unset]
    return keys or ["no change"]


def _check_patch(patch: PatchSpec) -> None:
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
