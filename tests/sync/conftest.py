"""Fixtures of the sync-engine tests: an example repo and a catalogue to reconcile into.

``target`` is parametrised over the embedded catalogue (SQLite and
PostgreSQL) and the HTTP client talking to our REST app on a loopback port.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.http_transport import RetryPolicy
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.seed import add_api_key, bootstrap, seed_starter
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.loader.repo import Repo
from personas_as_code.sync.engine import PlanRequest, apply_repo, compute_plan, load_valid_repo
from personas_as_code.sync.plan import Plan
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.repos import example_repo, repo  # noqa: F401

FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05, total_timeout=10)


def api_key(engine: Engine, tenant: str = "acme") -> str:
    """Bootstrap the database with ``tenant`` and return a tenant-admin API key."""
    bootstrap(engine, tenant)
    with Session(engine, expire_on_commit=False) as session:
        return add_api_key(session, seed_starter(session, tenant), "tenant_admin")


@dataclass
class Target:
    """A catalogue for tenant ``acme`` plus what tests need to reach it another way."""

    kind: str
    catalogue: Catalogue
    engine: Engine
    database_url: str
    base_url: str | None = None
    key: str | None = None

    def other_tenant(self, tenant: str) -> Catalogue:
        return EmbeddedCatalogue(self.engine, tenant)


@contextlib.contextmanager
def open_target(kind: str, database_url: str, app_wrapper=None) -> Iterator[Target]:
    engine = make_engine(database_url)
    key = api_key(engine)
    with contextlib.ExitStack() as stack:
        if kind == "http":
            app = create_app(engine)
            base_url = stack.enter_context(
                serve_in_thread(app_wrapper(app) if app_wrapper else app)
            )
            cat: Catalogue = HttpCatalogue(base_url, key, retry=FAST_RETRY, timeout=10)
        else:
            base_url = None
            cat = EmbeddedCatalogue(engine, "acme")
        try:
            yield Target(kind, cat, engine, database_url, base_url, key)
        finally:
            cat.close()
    engine.dispose()


@pytest.fixture(
    params=[
        "embedded-sqlite",
        pytest.param("embedded-postgresql", marks=pytest.mark.postgres),
        "http-sqlite",
    ]
)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """A fresh catalogue, embedded (SQLite, PostgreSQL) or over loopback HTTP."""
    kind, db = request.param.split("-")
    url = request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url")
    with open_target(kind, url) as t:
        yield t


@pytest.fixture
def embedded(sqlite_url: str) -> Iterator[Target]:
    """A fresh embedded SQLite catalogue (for tests about the engine, not the transport)."""
    with open_target("embedded", sqlite_url) as t:
        yield t


class Sync:
    """Plan and apply a repo directory against one catalogue."""

    def __init__(self, root: Path, catalogue: Catalogue) -> None:
        self.root = root
        self.catalogue = catalogue

    def load(self) -> Repo:
        return load_valid_repo(self.root)

    def plan(self, **kwargs) -> Plan:
        return compute_plan(self.load(), self.catalogue, PlanRequest(**kwargs))[0]

    def apply(self, *, force: bool = False, **kwargs):
        loaded = self.load()
        plan, ctx = compute_plan(loaded, self.catalogue, PlanRequest(**kwargs))
        plan.raise_if_unsafe(loaded.config.safety, force=force)
        return plan, apply_repo(loaded, self.catalogue, plan, ctx)

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.root / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))

    def persona(self, slug: str):
        return next(p for p in self.catalogue.iter_personas() if p.slug == slug)


@pytest.fixture
def sync(example_repo: Path, target: Target) -> Sync:  # noqa: F811
    return Sync(example_repo, target.catalogue)


@pytest.fixture
def esync(example_repo: Path, embedded: Target) -> Sync:  # noqa: F811
    return Sync(example_repo, embedded.catalogue)
