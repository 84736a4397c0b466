"""Pick the catalogue: remote ScaiPersona over HTTP, or the embedded one."""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.schemas.errors import ConfigError

if TYPE_CHECKING:
    from personas_as_code.catalogue.simulated_user_store import SimulatedUserStore

# The catalogue each way needs is imported where it is opened: the HTTP client's
# libraries cost an embedded run (``personas test``) start-up, and the other way round.


# ``sqlite:///<file>`` with any driver (``sqlite+pysqlite``); ``sqlite://`` is in memory
_SQLITE_FILE = re.compile(
    r"(?P<scheme>sqlite(?:\+\w+)?:///)(?P<name>[^?]*)(?P<query>\?.*)?\Z", re.S
)


def remote_configured(env: Mapping[str, str] = os.environ) -> bool:
    """Whether ``env`` selects a remote catalogue (``SCAIGRID_HOST`` + ``SCAIGRID_API_KEY``)."""
    return bool(env.get("SCAIGRID_HOST") and env.get("SCAIGRID_API_KEY"))


def open_catalogue(
    database_url: str | None,
    tenant: str,
    *,
    env: Mapping[str, str] = os.environ,
    remote: tuple[str, str] | None = None,
    from_config: bool = False,
) -> Catalogue:
    """``SCAIGRID_HOST`` + ``SCAIGRID_API_KEY`` in ``env`` → ``HttpCatalogue``;
    otherwise an ``EmbeddedCatalogue`` at ``database_url`` (default
    ``sqlite:///.personas/catalogue.db`` under the cwd).  Only a brand-new local
    SQLite catalogue is created and seeded with ``tenant`` and the starter set on
    first use (safe when several processes do it at once); an existing catalogue
    without ``tenant`` is ``UnknownTenant``, never written to.

    ``remote`` (an environment's ``url`` and the name of the variable holding its key)
    opens that remote catalogue; ``from_config`` (an environment is selected) ignores
    ``SCAIGRID_HOST``: the environment names its catalogue.
    """
    if remote is not None:
        return _environment_catalogue(*remote, env)
    if not from_config and remote_configured(env):
        from personas_as_code.catalogue.client import HttpCatalogue

        return HttpCatalogue.from_env(env)
    # imported here: SQLAlchemy and SQLModel cost a second of start-up over HTTP
    from personas_as_code.catalogue.embedded import EmbeddedCatalogue

    return EmbeddedCatalogue.open(database_url, tenant)


def repo_database_url(url: str, root: Path, *, operator: bool = False) -> str:
    """The URL of the embedded catalogue of the repo at ``root``: a relative SQLite file
    is taken under ``root`` and its missing folders are created (real folders).

    A cloned repo must not send its catalogue, prompts and all, outside itself: a SQLite
    file inside the repo is reached through no symlink (a committed ``.personas`` link
    or ``catalogue.db`` link is refused), and a URL from the repo's own config
    (``operator=False``) may not leave the repo (``..``, an absolute path elsewhere, a
    ``file:`` URI).  A URL the operator set (``PERSONAS_DATABASE_URL``, ``operator=True``)
    may name a file anywhere outside the repo.  Other databases are returned unchanged.
    Refusals are ``ConfigError``.
    """
    match = _SQLITE_FILE.match(url)
    if match is None or match["name"] in ("", ":memory:"):
        return url
    name, query = match["name"], match["query"] or ""
    root = root.resolve()
    where = "PERSONAS_DATABASE_URL" if operator else "[catalogue] database in personas.toml"
    if not operator and (name.startswith("file:") or "uri=" in query.lower()):
        raise ConfigError(f"{where}: a SQLite URI is not allowed here ({url}); name a file")
    climbs = ".." in PurePosixPath(name).parts
    path = Path(os.path.normpath(root / name))
    inside = not climbs and (path == root or root in path.parents)
    if inside:
        _refuse_links(root, path, where)
    elif operator:
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        raise ConfigError(
            f"{where} puts the catalogue outside the repo ({url}); keep the SQLite file inside "
            f"{root} (e.g. sqlite:///.personas/catalogue.db) or set PERSONAS_DATABASE_URL"
        )
    return match["scheme"] + str(path) + query


def _refuse_links(root: Path, path: Path, where: str) -> None:
    """Create the missing folders from ``root`` down to ``path``'s, and refuse when any of
    them, or ``path`` itself, is a symlink (or a folder is not a folder)."""
    here = root
    parts = path.relative_to(root).parts
    for depth, part in enumerate(parts):
        here = here / part
        last = depth == len(parts) - 1
        if not last:
            with contextlib.suppress(FileExistsError):
                os.mkdir(here, 0o755)
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            return  # the file itself, not created yet
        shown = here.relative_to(root).as_posix()
        if stat.S_ISLNK(mode):
            raise ConfigError(
                f"refusing the catalogue database of {where}: '{shown}' is a symlink, which "
                "could put the catalogue outside the repo; make it a real "
                f"{'file' if last else 'folder'} (it is git-ignored)"
            )
        if not last and not stat.S_ISDIR(mode):
            raise ConfigError(
                f"refusing the catalogue database of {where}: '{shown}' is not a folder"
            )


def _environment_catalogue(url: str, key_variable: str, env: Mapping[str, str]) -> Catalogue:
    key = env.get(key_variable)
    if not key:
        raise ConfigError(
            f"the environment variable {key_variable} (the API key of {url}) is not set"
        )
    from personas_as_code.catalogue.client import HttpCatalogue

    return HttpCatalogue(url, key)


def open_simulated_user_server(
    base_url: str, api_key: str | None, project: str
) -> SimulatedUserStore:
    """Project ``project`` of the test-personas API at ``base_url`` (``[test_personas]
    url``), a server other than the catalogue's; closing the store closes its client."""
    from personas_as_code.catalogue.client import HttpCatalogue
    from personas_as_code.catalogue.simulated_user_store import HttpSimulatedUsers

    return HttpSimulatedUsers(HttpCatalogue(base_url, api_key), project, owns_http=True)
