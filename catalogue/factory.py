"""Pick the catalogue: remote ScaiPersona over HTTP, or the embedded one."""

from __future__ import annotations

import os
from collections.abc import Mapping

from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.catalogue.simulated_user_store import HttpSimulatedUsers, SimulatedUserStore
from personas_as_code.schemas.errors import ConfigError


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
    if not from_config and env.get("SCAIGRID_HOST") and env.get("SCAIGRID_API_KEY"):
        return HttpCatalogue.from_env(env)
    # imported here: SQLAlchemy and SQLModel cost a second of start-up over HTTP
    from personas_as_code.catalogue.embedded import EmbeddedCatalogue

    return EmbeddedCatalogue.open(database_url, tenant)


def _environment_catalogue(url: str, key_variable: str, env: Mapping[str, str]) -> Catalogue:
    key = env.get(key_variable)
    if not key:
        raise ConfigError(
            f"the environment variable {key_variable} (the API key of {url}) is not set"
        )
    return HttpCatalogue(url, key)


def open_simulated_user_server(
    base_url: str, api_key: str | None, project: str
) -> SimulatedUserStore:
    """Project ``project`` of the test-personas API at ``base_url`` (``[test_personas]
    url``), a server other than the catalogue's; closing the store closes its client."""
    return HttpSimulatedUsers(HttpCatalogue(base_url, api_key), project, owns_http=True)
