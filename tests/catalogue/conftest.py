"""Fixtures of the catalogue tests: a ``Kit`` that hands out ``Catalogue``
objects (embedded or HTTP over a loopback REST server) for any tenant/role of
one fresh database, and a ``rest`` fixture for REST-specific tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.http_transport import RetryPolicy
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.seed import add_api_key, seed_starter
from personas_as_code.catalogue.serve import serve_in_thread
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

FAST_RETRY = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05, total_timeout=5)


def make_key(
    engine: Engine, tenant: str, role: str = "tenant_admin", partner: str = "default"
) -> str:
    """Seed ``tenant`` (under ``partner``) and return a new API key for it."""
    with Session(engine, expire_on_commit=False) as session:
        row = seed_starter(session, tenant, partner)
        return add_api_key(session, row, role)


@dataclass
class Kit:
    """One database and one way in (``kind``); builds catalogues per tenant/role."""

    kind: str
    engine: Engine
    base_url: str | None = None
    opened: list[Catalogue] = field(default_factory=list)

    def catalogue(
        self, tenant: str = "acme", role: str = "tenant_admin", partner: str = "default"
    ) -> Catalogue:
        key = make_key(self.engine, tenant, role, partner)
        cat: Catalogue
        if self.kind == "embedded":
            cat = EmbeddedCatalogue(self.engine, tenant, role=role)  # type: ignore[arg-type]
        else:
            assert self.base_url
            cat = HttpCatalogue(self.base_url, key, retry=FAST_RETRY, timeout=10)
        self.opened.append(cat)
        return cat

    def close(self) -> None:
        for cat in self.opened:
            cat.close()


@pytest.fixture(params=["embedded", "http"])
def kit(request: pytest.FixtureRequest, database_url: str) -> Iterator[Kit]:
    """A fresh catalogue database reached in-process or over loopback HTTP."""
    engine = make_engine(database_url)
    app = create_app(engine)
    with contextlib.ExitStack() as stack:
        base_url = None
        if request.param == "http":
            base_url = stack.enter_context(serve_in_thread(app))
        k = Kit(request.param, engine, base_url)
        try:
            yield k
        finally:
            k.close()
    engine.dispose()


@pytest.fixture
def cat(kit: Kit) -> Catalogue:
    """The ``acme`` tenant's catalogue as a tenant admin."""
    return kit.catalogue()


@dataclass
class Rest:
    """A REST app on a fresh database, a test client and keys of two tenants."""

    client: TestClient
    engine: Engine
    key: str
    other_key: str

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}


@pytest.fixture
def rest(database_url: str) -> Iterator[Rest]:
    """The REST app (in-process ASGI test client) with tenants ``acme`` and ``globex``."""
    engine = make_engine(database_url)
    app = create_app(engine)
    key = make_key(engine, "acme")
    other = make_key(engine, "globex")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Rest(client, engine, key, other)
    engine.dispose()


@dataclass
class Live:
    """The REST app on a real loopback server, with an httpx client and acme's key."""

    base_url: str
    engine: Engine
    key: str
    client: httpx.Client

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.base_url.removeprefix("http://").split(":")
        return host, int(port)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}


@contextlib.contextmanager
def serve_live(database_url: str, **app_options: Any) -> Iterator[Live]:
    """Serve ``create_app(database_url, **app_options)`` on a loopback port."""
    engine = make_engine(database_url)
    try:
        app = create_app(engine, **app_options)
        key = make_key(engine, "acme")
        with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as c:
            yield Live(base_url, engine, key, c)
    finally:
        engine.dispose()


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    """The REST app with default options over real HTTP, on each database."""
    with serve_live(database_url) as server:
        yield server
