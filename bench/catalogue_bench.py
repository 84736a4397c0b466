"""Catalogue throughput: REST over loopback vs. the embedded baseline, SQLite vs. PostgreSQL.

    .venv/bin/python bench/catalogue_bench.py [--quick] [--pg-url URL]

Per database it creates N personas, publishes them, and lists 2N personas
page by page (limit 50 and 200), once through the REST API (``HttpCatalogue``
against uvicorn on a loopback port, server and client in this process) and
once in-process (``EmbeddedCatalogue``, the baseline).  Figures are
operations (= requests for REST) per second.  PostgreSQL runs in a throwaway
schema on ``--pg-url`` (default ``PERSONAS_TEST_PG_URL`` or
postgresql://postgres@127.0.0.1:5432/test) and is skipped when unreachable.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personas_as_code.catalogue.api import PersonaCreate
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.seed import add_api_key, seed_starter
from personas_as_code.catalogue.serve import serve_in_thread
from sqlalchemy.orm import Session

PG_DEFAULT = os.environ.get(
    "PERSONAS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextlib.contextmanager
def sqlite_db() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@contextlib.contextmanager
def pg_db(url: str) -> Iterator[str]:
    import psycopg

    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(libpq, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            sep = "&" if "?" in url else "?"
            yield f"{url}{sep}options={quote(f'-csearch_path={schema}')}"
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def rate(n: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def workload(cat: Catalogue, n: int, tag: str) -> dict[str, float]:
    """Create n, publish n, then list 2n (n more are created untimed first)."""
    ids: list[str] = []

    def create() -> None:
        for i in range(n):
            body = PersonaCreate(name=f"{tag} {i}", model_slug="scaigrid/gpt-4o", system_prompt="x")
            ids.append(cat.create_persona(body).id)

    def publish() -> None:
        for pid in ids:
            cat.publish_persona(pid, ["mg_internal_chat"])

    out = {"create": rate(n, create), "publish": rate(n, publish)}
    for i in range(n):
        cat.create_persona(PersonaCreate(name=f"{tag} extra {i}", model_slug="scaigrid/gpt-4o"))
    for limit in (50, 200):
        pages = 0

        def walk(limit: int = limit) -> None:
            nonlocal pages
            cursor, seen = None, 0
            while True:
                page = cat.list_personas(limit=limit, cursor=cursor)
                pages += 1
                seen += len(page.items)
                if not page.has_more:
                    break
                cursor = page.next_cursor
            assert seen == 2 * n, seen

        start = time.perf_counter()
        walk()
        elapsed = time.perf_counter() - start
        out[f"list pages (limit {limit})"] = pages / elapsed
        out[f"list personas/s (limit {limit})"] = 2 * n / elapsed
    return out


def run(url: str, n: int) -> dict[str, dict[str, float]]:
    engine = make_engine(url)
    try:
        app = create_app(engine)
        with Session(engine, expire_on_commit=False) as s:
            rest_key = add_api_key(s, seed_starter(s, "rest"))
            seed_starter(s, "embedded")
        results = {}
        with serve_in_thread(app) as base:
            client = HttpCatalogue(base, rest_key)
            results["REST"] = workload(client, n, "R")
            results["REST"]["(requests sent)"] = float(client.request_count)
            client.close()
        results["embedded"] = workload(EmbeddedCatalogue(engine, "embedded"), n, "E")
        return results
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 instead of 1,000 personas")
    parser.add_argument("--pg-url", default=PG_DEFAULT)
    args = parser.parse_args()
    n = 100 if args.quick else 1000
    columns: dict[str, dict[str, float]] = {}
    with sqlite_db() as url:
        for way, figures in run(url, n).items():
            columns[f"sqlite {way}"] = figures
    try:
        with pg_db(args.pg_url) as url:
            for way, figures in run(url, n).items():
                columns[f"postgresql {way}"] = figures
    except Exception as exc:
        print(f"(PostgreSQL skipped: {str(exc).splitlines()[0]})")
    rows = list(next(iter(columns.values())))
    names = list(columns)
    width = max(len(r) for r in rows) + 2
    print(f"\ncatalogue bench: create {n}, publish {n}, list {2 * n} (ops/s; REST = requests/s)\n")
    print("operation".ljust(width) + "".join(c.rjust(21) for c in names))
    for row in rows:
        cells = "".join(
            (f"{columns[c][row]:,.0f}" if row in columns[c] else "-").rjust(21) for c in names
        )
        print(row.ljust(width) + cells)


if __name__ == "__main__":
    main()
