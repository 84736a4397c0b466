"""Pick the catalogue: remote ScaiPersona over HTTP, or the embedded one."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from personas_as_code.catalogue.protocol import Catalogue

if TYPE_CHECKING:
    from personas_as_code.catalogue.simulated_user_store import SimulatedUserStore

# The catalogue each way needs is imported where it is opened: the HTTP client's
# libraries cost an embedded run (``personas test``) start-up, and the other way round.


def open_catalogue(
    database_url: str | None, tenant: str, *, env: Mapping[str, str] = os.environ
) -> Catalogue:
    """``SCAIGRID_HOST`` + ``SCAIGRID_API_KEY`` in ``env`` → ``HttpCatalogue``;
    otherwise an ``EmbeddedCatalogue`` at ``database_url`` (default
    ``sqlite:///.personas/catalogue.db`` under the cwd).  Only a brand-new local
    SQLite catalogue is created and seeded with ``tenant`` and the starter set on
    first use (safe when several processes do it at once); an existing catalogue
    without ``tenant`` is ``UnknownTenant``, never written to.
    """
    if env.get("SCAIGRID_HOST") and env.get("SCAIGRID_API_KEY"):
        from personas_as_code.catalogue.client import HttpCatalogue

        return HttpCatalogue.from_env(env)
    # imported here: SQLAlchemy and SQLModel cost a second of start-up over HTTP
    from personas_as_code.catalogue.embedded import EmbeddedCatalogue

    return EmbeddedCatalogue.open(database_url, tenant)


def open_simulated_user_server(
    base_url: str, api_key: str | None, project: str
) -> SimulatedUserStore:
    """Project ``project`` of the test-personas API at ``base_url`` (``[test_personas]
    url``), a server other than the catalogue's; closing the store closes its client."""
    from personas_as_code.catalogue.client import HttpCatalogue
    from personas_as_code.catalogue.simulated_user_store import HttpSimulatedUsers

    return HttpSimulatedUsers(HttpCatalogue(base_url, api_key), project, owns_http=True)
