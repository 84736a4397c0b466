"""Generic database fixtures shared by every test package.

* ``sqlite_url``: a fresh SQLite file in the test's temp dir.
* ``pg_url``: a fresh PostgreSQL schema (``search_path`` set through the URL)
  on the server at ``PERSONAS_TEST_PG_URL`` (default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); every schema the
  session created is dropped at the end.  When the server is unreachable the
  test is skipped, unless ``PERSONAS_REQUIRE_PG=1``, then it fails.
* ``database_url``: parametrised over both (the PostgreSQL case carries the
  ``postgres`` marker, so ``-m "not postgres"`` deselects it).

And the test tiers: ``pytest_collection_modifyitems`` marks ``slow`` every test in a
slow folder or module (``SLOW_PATHS``), every PostgreSQL or real-model case and every
test that asks for a slow fixture, so ``pytest -m "not slow"`` is the quick tier and a
new test in those places needs no decorator.  A single slow test elsewhere carries
``@pytest.mark.slow`` itself.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_base_url() -> str:
    url = os.environ.get("PERSONAS_TEST_PG_URL", DEFAULT_PG_URL)
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    return url


class _PgServer:
    """Creates and finally drops the per-test schemas of one session."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.prefix = f"pt_{secrets.token_hex(4)}"
        self._counter = itertools.count()
        self._libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._conn = psycopg.connect(self._libpq, autocommit=True, connect_timeout=3)
        self._conn.execute("SET lock_timeout = '10s'")
        self.schemas: list[str] = []

    def new_schema(self) -> str:
        name = f"{self.prefix}_{next(self._counter)}"
        self._conn.execute(f'CREATE SCHEMA "{name}"')
        self.schemas.append(name)
        return name

    def drop(self, name: str) -> None:
        try:
            self._conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        except Exception as exc:  # a leaked connection still holds a lock
            print(f"could not drop test schema {name}: {exc}")

    def url_for(self, schema: str) -> str:
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options={quote(f'-csearch_path={schema}')}"

    def close(self) -> None:
        for name in self.schemas:
            self.drop(name)
        self._conn.close()


@pytest.fixture(scope="session")
def _pg_server() -> Iterator[_PgServer | str]:
    try:
        server = _PgServer(_pg_base_url())
    except Exception as exc:  # unreachable, auth, missing database...
        reason = f"PostgreSQL not reachable at {_pg_base_url()}: {exc}".splitlines()[0]
        if os.environ.get("PERSONAS_REQUIRE_PG") == "1":
            pytest.fail(reason + " (PERSONAS_REQUIRE_PG=1)", pytrace=False)
        yield reason + " (set PERSONAS_TEST_PG_URL)"
        return
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL of a new SQLite file."""
    return f"sqlite:///{tmp_path / 'catalogue.db'}"


@pytest.fixture
def pg_url(_pg_server: _PgServer | str) -> Iterator[str]:
    """A SQLAlchemy URL of a new, empty PostgreSQL schema."""
    if isinstance(_pg_server, str):
        pytest.skip(_pg_server)
    schema = _pg_server.new_schema()
    yield _pg_server.url_for(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh database of each kind."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


# --- test tiers --------------------------------------------------------------

TESTS = Path(__file__).parent

# Folders and modules (relative to tests/) whose every test is slow, and why.
SLOW_PATHS = {
    "e2e": "the README's commands and a pull request's life, run as processes",
    "gitops": "the workflows run as jobs; actionlint and zizmor run as processes",
    "golden": "the example repo planned, applied and tested through the CLI",
    "cli": "the personas command run as a process",
    "test_packaging.py": "a wheel built by pip in an isolated environment",
    "catalogue/test_end_to_end.py": "catalogue init and serve run as processes",
    "catalogue/test_workers.py": "servers with worker processes",
    "catalogue/test_openapi_fuzz.py": "every operation called with generated requests",
    "knowledge_index/test_embeddings.py": "python processes that load the embedder",
    "mcp_server/test_conformance.py": "the MCP conformance suite (npx) against personas mcp",
    "mcp_server/test_transports.py": "personas mcp run as a process (stdio and HTTP)",
    "scaffold": "personas init, pre-commit and the YAML language server run as processes",
    "sync/test_cli.py": "the personas command run as a process",
    "sync/test_resume.py": "apply run as a process and killed at every write",
    "sync/test_import_safety.py": "personas import run as a process",
}
# Markers that make a test slow: a PostgreSQL case (a server round trip per statement,
# a schema per test), a real model.
SLOW_MARKERS = ("postgres", "model")
# Fixtures that make every test using them slow.
SLOW_FIXTURES = {
    "pg_url": "a PostgreSQL schema",
}


def slow_reason(item: pytest.Item) -> str | None:
    """Why ``item`` belongs to the slow tier by the rules above, or None."""
    if not item.path.is_relative_to(TESTS):
        return None
    path = item.path.relative_to(TESTS)
    for part in (path.parts[0], path.as_posix()):
        if part in SLOW_PATHS:
            return SLOW_PATHS[part]
    for name in SLOW_MARKERS:
        if item.get_closest_marker(name) is not None:
            return f"marked {name}"
    for name in getattr(item, "fixturenames", ()):
        if name in SLOW_FIXTURES:
            return SLOW_FIXTURES[name]
    return None


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` the tests that ``slow_reason`` names."""
    for item in items:
        if item.get_closest_marker("slow") is None and slow_reason(item) is not None:
            item.add_marker(pytest.mark.slow)
