"""The sync engine: load the repo, read the catalogue, diff, and apply.

Commands and the MCP server call these functions; nothing here prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from personas_as_code.catalogue.factory import (
    open_catalogue,
    remote_configured,
    repo_database_url,
)
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.config import load_config
from personas_as_code.loader.files import DirectoryFiles
from personas_as_code.loader.parse_cache import repo_parse_cache
from personas_as_code.loader.repo import Repo, load_repo
from personas_as_code.schemas.config import RepoConfig
from personas_as_code.schemas.errors import RepoInvalid
from personas_as_code.schemas.problems import errors_only
from personas_as_code.sync.apply import ApplyResult, apply_plan
from personas_as_code.sync.backends import plan_backends
from personas_as_code.sync.differ import DiffContext, diff
from personas_as_code.sync.gitinfo import changed_since, head_commit
from personas_as_code.sync.knowledge import plan_knowledge
from personas_as_code.sync.plan import Plan
from personas_as_code.sync.reader import CatalogueListing, list_catalogue, read_catalogue
from personas_as_code.sync.section import ApplyRun, PersonaResult
from personas_as_code.sync.simulated_user_differ import plan_test_personas
from personas_as_code.sync.state import desired_from_file
from personas_as_code.sync.targets import check_targets, targeted_sections
from personas_as_code.sync.tenant import check_tenant


@dataclass
class PlanRequest:
    """Options of one plan."""

    prune: bool | None = None  # None: the repo config decides (never for a targeted plan)
    changed_since: str | None = None
    targets: tuple[str, ...] | None = None  # ``plan SLUG…``: only these personas
    adopt: tuple[str, ...] = ()  # ``--adopt SLUG``: take these over from other repos


def resolve_database_url(repo: Repo, env: Mapping[str, str] = os.environ) -> str:
    """The embedded catalogue's URL: ``PERSONAS_DATABASE_URL`` or the repo config.

    A relative SQLite path is taken relative to the repo root.
    """
    return _database_url(repo.config, repo.root, env)


def _database_url(config: RepoConfig, root: Path | None, env: Mapping[str, str]) -> str:
    """The embedded catalogue's URL; a SQLite file from the repo config stays in the repo
    and is reached through no link (``repo_database_url``).  Unused (and unchecked) when
    the catalogue is remote.  An environment names its catalogue itself, so it ignores
    ``PERSONAS_DATABASE_URL``."""
    operator = env.get("PERSONAS_DATABASE_URL") if config.environment is None else None
    url = operator or config.catalogue.database
    remote = config.remote_catalogue is not None or (
        config.environment is None and remote_configured(env)
    )
    if root is None or remote:
        return url
    return repo_database_url(url, root, operator=bool(operator))


@contextlib.contextmanager
def open_repo_catalogue(repo: Repo, env: Mapping[str, str] = os.environ) -> Iterator[Catalogue]:
    """The catalogue this repo reconciles into (remote when SCAIGRID_* is set)."""
    catalogue = _open(repo.config, resolve_database_url(repo, env), env)
    try:
        yield catalogue
    finally:
        catalogue.close()


def _open(config: RepoConfig, database_url: str, env: Mapping[str, str]) -> Catalogue:
    return open_catalogue(
        database_url,
        config.repo.tenant,
        env=env,
        remote=config.remote_catalogue,
        from_config=config.environment is not None,
    )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk load or plan.

    Loading 10,000 personas allocates millions of long-lived objects and almost no
    cycles; the collector would rescan them over and over (40 % of a cached load).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_valid_repo(
    root: str | Path,
    *,
    on_files_listed: Callable[[], object] | None = None,
    environment: str | None = None,
) -> Repo:
    """Load the repo; raise ``RepoInvalid`` listing the problems when it has errors.

    Persona files are loaded through the repo's parse cache (``.personas/``), which
    serves a file's earlier result only when every byte it depends on is unchanged.
    ``on_files_listed`` runs once the persona files are listed (and any cold-start
    worker processes are done), just before they are loaded one by one.  ``environment``
    selects one of the config's environments (None: its default).
    """

    def prepare(files, paths: list[str]) -> None:
        cache.prefetch(files, paths)
        if on_files_listed is not None:
            on_files_listed()

    with collector_paused(), repo_parse_cache(root) as cache:
        repo = load_repo(root, persona_loader=cache.load, prepare=prepare, environment=environment)
    errors = errors_only(repo.problems)
    if errors:
        lines = [str(p) for p in errors]
        raise RepoInvalid(
            f"{len(errors)} problem(s) in the persona files; run `personas validate`:\n"
            + "\n".join(lines),
            details={"problems": [p.to_dict() for p in errors]},
        )
    return repo


@dataclass
class PlanInputs:
    """A loaded repo, its open catalogue, and the catalogue listing read while it loaded."""

    repo: Repo
    catalogue: Catalogue
    listing: Future[CatalogueListing] | None = field(default=None, repr=False)

    def plan(self, request: PlanRequest | None = None) -> tuple[Plan, DiffContext]:
        """``compute_plan`` on the listing started during the load (used once; a second
        plan reads the catalogue again)."""
        listing, self.listing = self.listing, None
        return compute_plan(self.repo, self.catalogue, request, listing=listing)


def _lists_early(config: RepoConfig, root: Path, env: Mapping[str, str]) -> bool:
    """Whether the catalogue may be opened before the repo is known to be valid: never
    when that could create a new SQLite catalogue (an invalid repo must create nothing)."""
    if config.remote_catalogue is not None:
        return True
    if config.environment is None and env.get("SCAIGRID_HOST") and env.get("SCAIGRID_API_KEY"):
        return True
    url = config.catalogue.database
    if config.environment is None:
        url = env.get("PERSONAS_DATABASE_URL") or url
    if not url.startswith("sqlite:"):
        return True
    path = url.removeprefix("sqlite:///")
    return bool(path) and path != url and (root / path).is_file()


@contextlib.contextmanager
def open_plan_inputs(
    root: str | Path, env: Mapping[str, str] = os.environ, environment: str | None = None
) -> Iterator[PlanInputs]:
    """Load the valid repo at ``root`` and open its catalogue; the catalogue's personas
    and groups are listed in a thread while the persona files load.  ``environment``
    selects one of the config's environments (None: its default).

    Errors come in the same order as loading first and opening after: an invalid repo
    is ``RepoInvalid`` whatever the catalogue says.
    """
    root_path = Path(root).resolve()
    config, problems = load_config(DirectoryFiles(root_path), root_path.name, environment)
    if errors_only(problems) or not _lists_early(config, root_path, env):
        repo = load_valid_repo(root_path, environment=environment)
        with open_repo_catalogue(repo, env) as catalogue:
            yield PlanInputs(repo, catalogue)
        return

    opened: Future[Catalogue] = Future()

    def open_and_list() -> CatalogueListing:
        try:
            url = _database_url(config, root_path, env)
            opened.set_result(_open(config, url, env))
        except BaseException as exc:
            opened.set_exception(exc)
            raise
        return list_catalogue(opened.result())

    pool = ThreadPoolExecutor(max_workers=1)
    listing: list[Future[CatalogueListing]] = []

    def start() -> None:
        listing.append(pool.submit(open_and_list))

    try:
        repo = load_valid_repo(root_path, on_files_listed=start, environment=environment)
        if not listing:  # no persona files: nothing was started during the load
            start()
        # the listing may still be under way: the plan translates the files meanwhile
        yield PlanInputs(repo, opened.result(), listing[0])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # the listing ends before the close
        if opened.done() and opened.exception() is None:
            opened.result().close()


def _context(repo: Repo, catalogue_state, request: PlanRequest) -> DiffContext:
    prune = repo.config.safety.prune if request.prune is None else request.prune
    if request.targets is not None:
        prune = bool(request.prune)  # a targeted plan prunes only when --prune says so
    ctx = DiffContext(
        repo_id=repo.config.repo.id,
        tenant=repo.config.repo.tenant,
        models=catalogue_state.models,
        groups=catalogue_state.groups,
        prune=prune,
        changed_since=request.changed_since,
        adopt=set(request.adopt),
    )
    if request.changed_since and repo.root is not None:
        files = changed_since(repo.root, request.changed_since)
        ctx.only_slugs = {
            slug
            for slug, persona in repo.personas.items()
            if files.changed.intersection(persona.referenced_files)
        }
        ctx.deleted_paths = set(files.deleted)
    if request.targets is not None:
        wanted = set(request.targets)
        ctx.only_slugs = wanted if ctx.only_slugs is None else ctx.only_slugs & wanted
        ctx.orphan_slugs = wanted
    return ctx


def compute_plan(
    repo: Repo,
    catalogue: Catalogue,
    request: PlanRequest | None = None,
    *,
    listing: Future[CatalogueListing] | None = None,
) -> tuple[Plan, DiffContext]:
    """The plan that reconciles ``catalogue`` with ``repo``, and the context it used.

    ``listing``: the catalogue's personas and groups, being read (``open_plan_inputs``).
    """
    with collector_paused():
        return _compute_plan(repo, catalogue, request or PlanRequest(), listing)


def _compute_plan(
    repo: Repo,
    catalogue: Catalogue,
    request: PlanRequest,
    listing: Future[CatalogueListing] | None,
) -> tuple[Plan, DiffContext]:
    model_slugs = {p.spec.model for p in repo.personas.values()}
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the catalogue (another process, or the network) answers while this thread
        # translates the files
        reading = pool.submit(
            lambda: read_catalogue(
                catalogue,
                repo.config.repo.tenant,
                model_slugs=model_slugs,
                listing=listing.result() if listing is not None else None,
            )
        )
        desired = [desired_from_file(p) for p in repo.personas.values()]
        state = reading.result()
    published = (a.published_model.slug for a in state.personas if a.published_model)
    check_tenant(repo.config.repo.tenant, published)  # a key of another tenant never converges
    ctx = _context(repo, state, request)
    if request.targets is not None:
        check_targets(request.targets, repo, state.personas)
        sections = targeted_sections(repo, catalogue, diff(desired, state.personas, ctx), ctx)
    else:
        sections = (
            diff(desired, state.personas, ctx),
            plan_knowledge(repo, catalogue),
            plan_backends(repo, catalogue),
            plan_test_personas(repo, catalogue, prune=ctx.prune, changed_ref=request.changed_since),
        )
    plan = Plan(
        sections,
        ctx.repo_id,
        ctx.tenant,
        ctx.prune,
        ctx.changed_since,
        environment=repo.config.environment,
    )
    refusals = tuple(plan.unsafe_reasons(repo.config.safety))
    targets = tuple(sorted(set(request.targets))) if request.targets is not None else None
    return dataclasses.replace(plan, targets=targets, refusals=refusals), ctx


def apply_repo(
    repo: Repo,
    catalogue: Catalogue,
    plan: Plan,
    ctx: DiffContext,
    *,
    concurrency: int | None = None,
    on_done: Callable[[PersonaResult], None] | None = None,
    on_indexed: Callable[[str, int], None] | None = None,
) -> ApplyResult:
    """Apply ``plan`` holding the catalogue's apply lock: each section in the plan's order
    (personas, knowledge index, backends, test personas).  ``on_done`` hears of each
    persona done, ``on_indexed`` of each knowledge source indexed (for progress)."""
    with catalogue.lock("personas-apply"):
        run = ApplyRun(
            repo,
            catalogue,
            ctx,
            commit=head_commit(repo.root) if repo.root else None,
            concurrency=concurrency or repo.config.apply.concurrency,
            on_done=on_done,
            on_indexed=on_indexed,
        )
        return apply_plan(plan, run)
