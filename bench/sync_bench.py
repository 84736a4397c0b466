"""Benchmark of ``personas plan`` and ``personas apply`` at scale (issues 4 and 13).

    .venv/bin/python bench/sync_bench.py [--sizes 300,2000,10000] [--repeat 3]
                                         [--backends http,postgres] [--full-apply-http]
                                         [--breakdown]

For each size it generates N persona files, applies them into a fresh catalogue
(PostgreSQL at ``PERSONAS_TEST_PG_URL`` or 127.0.0.1:5432/test, one schema per
run; SQLite when PostgreSQL is unreachable), serves that catalogue with
``personas catalogue serve`` in a separate process, and prints for each backend
(loopback HTTP, embedded PostgreSQL) every row beside its floor, measured in the
same run (medians of ``--repeat``):

- floor: PyYAML's CSafeLoader parsing the same files + the raw catalogue list
  (HTTP GET of every page, JSON decoded / the SQL query of personas and sources);
- no-op plan, cold: load (no parse cache) + read the catalogue + diff, as ``personas
  plan`` does it (``open_plan_inputs``: the list overlaps the load) (goal <= 1.5x);
- no-op plan, warm: the same with the ``.personas/`` parse cache (goal < 1x);
- apply of 20 edits: ``personas apply --auto-approve`` run as CI does, a subprocess
  with stdout to a file (goal <= 3 s at 10,000);
- plan peak RSS: VmHWM of a fresh child process running a cold plan, against a
  fresh child doing parse + list (goal <= 1.5x);
- with ``--breakdown``: the load alone (cold, warm) against the parse alone, and the
  catalogue read alone against the raw list alone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = (sys.executable, "-m", "personas_as_code.cli.main")
sys.path.insert(0, str(ROOT))

from personas_as_code.catalogue.api import API_PREFIX  # noqa: E402
from personas_as_code.catalogue.client import HttpCatalogue  # noqa: E402
from personas_as_code.catalogue.embedded import EmbeddedCatalogue  # noqa: E402
from personas_as_code.loader.parse_cache import CACHE_FILE  # noqa: E402
from personas_as_code.sync.engine import (  # noqa: E402
    apply_repo,
    compute_plan,
    load_valid_repo,
    open_plan_inputs,
)
from personas_as_code.sync.reader import read_catalogue  # noqa: E402

KEY = "sk_bench_" + "x" * 32
TENANT = "acme"
MODELS = ["scaigrid/gpt-4o", "scaigrid/gpt-4o-mini", "scaigrid/claude-sonnet-4"]
GROUPS = ["mg_internal_chat", "mg_qa", "mg_support"]
PG_URL = os.environ.get("PERSONAS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PAGE = 200


def generate(root: Path, count: int) -> None:
    """A repo of ``count`` persona files shaped like real ones."""
    (root / "personas").mkdir(parents=True)
    (root / "personas.toml").write_text(
        '[repo]\nid = "bench/personas"\ntenant = "acme"\n[safety]\nmin_existing = 100000\n'
    )
    for i in range(count):
        rag = i % 2 == 0
        lines = [
            f"name: Bench Persona {i}",
            f"model: {MODELS[i % len(MODELS)]}",
            f"description: Generated persona number {i} for the benchmark.",
            "status: active",
            "system_prompt: |",
            f"  You are bench persona {i}.",
            "  Answer briefly and cite your sources.",
            "publish:",
            f"  enabled: {'true' if i % 3 else 'false'}",
            f"  groups: [{GROUPS[i % len(GROUPS)]}]",
            "rag:",
            f"  enabled: {'true' if rag else 'false'}",
            f"  top_k: {1 + i % 20}",
            "sources:",
            "  - type: collection",
            f"    id: col_{i % 50}",
            f"    weight: {1 + i % 5}",
            "  - type: scaidrive",
            f"    id: shr_{i}",
            "default_params: {temperature: 0.3, max_tokens: 500}",
            f"metadata: {{team: team-{i % 10}}}",
        ]
        (root / "personas" / f"bench-{i:05d}.yaml").write_text("\n".join(lines) + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median_time(fn: Callable[[], object], repeat: int, before: Callable[[], object] | None = None):
    """Median seconds of ``repeat`` runs of ``fn`` (``before`` runs untimed ahead of each)."""
    times, result = [], None
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# --- the floor: a bare parser and a raw list, not our code ---------------------------

FLOOR_PARSE = """
import yaml
from pathlib import Path
def parse_all(root):
    return [yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader)
            for p in sorted(Path(root, "personas").glob("*.yaml"))]
"""

FLOOR_HTTP_LIST = """
import httpx
def list_all(base, key, prefix):
    items, cursor = [], None
    with httpx.Client(base_url=base, headers={"Authorization": "Bearer " + key}, timeout=120) as c:
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            body = c.get(prefix + "/personas", params=params).json()
            items += body["data"]
            cursor = (body.get("meta") or {}).get("next_cursor")
            if not cursor:
                return items
"""

FLOOR_SQL_LIST = """
import psycopg
def list_all(dsn, schema):
    with psycopg.connect(dsn) as conn:
        conn.execute(f'SET search_path = "{schema}"')
        personas = conn.execute("SELECT * FROM personas ORDER BY id").fetchall()
        sources = conn.execute("SELECT * FROM persona_sources").fetchall()
    return personas, sources
"""


def _namespace(code: str) -> dict:
    scope: dict = {}
    exec(code, scope)
    return scope


# --- peak memory in a fresh child ----------------------------------------------------

VMHWM = """
def vmhwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""


def child_peak_mb(code: str, env: dict[str, str]) -> float:
    """VmHWM (MB) of a fresh interpreter running ``code``: its own peak, not a parent's."""
    out = subprocess.run(
        [sys.executable, "-c", VMHWM + code + "\nprint(vmhwm_mb())"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


# --- catalogues ----------------------------------------------------------------------


@contextlib.contextmanager
def database() -> Iterator[tuple[str, str | None]]:
    """A fresh PostgreSQL schema (URL, schema), or a SQLite file when PG is unreachable."""
    try:
        import psycopg

        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except Exception as exc:
        print(f"(PostgreSQL unreachable: {str(exc).splitlines()[0]}; using SQLite)")
        yield f"sqlite:///{tempfile.mkdtemp(prefix='sync-bench-db-')}/catalogue.db", None
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}", schema
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@contextlib.contextmanager
def served(db_url: str, env: dict[str, str]) -> Iterator[str]:
    """``personas catalogue serve`` on ``db_url`` in a separate process; its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "catalogue", "serve", "--database", db_url, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def init_catalogue(db_url: str, env: dict[str, str]) -> None:
    subprocess.run(
        [*CLI, "catalogue", "init", "--database", db_url, "--tenant", TENANT, "--api-key", KEY],
        check=True,
        capture_output=True,
        env=env,
    )


# --- one size ------------------------------------------------------------------------


class Rows:
    """The printed table: a row is (what, value, floor, unit, goal)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float | None, str, str]] = []

    def add(self, what: str, value: float, floor: float | None, unit: str = "s", goal: str = ""):
        self.rows.append((what, value, floor, unit, goal))
        ratio = f"{value / floor:6.2f}x" if floor else ""
        floor_text = f"{floor:10.3f}" if floor is not None else " " * 10
        print(f"  {what:<46}{value:10.3f}{floor_text} {unit:<3}{ratio:>8}  {goal}", flush=True)


def edit_twenty(root: Path, count: int, round_: int) -> None:
    """Change the prompt of 20 personas spread over the repo (a new text each round)."""
    step = max(1, count // 20)
    for i in range(0, min(count, 20 * step), step):
        path = root / "personas" / f"bench-{i:05d}.yaml"
        lines = path.read_text().splitlines()
        lines[6] = f"  Answer briefly and cite your sources (round {round_})."
        path.write_text("\n".join(lines) + "\n")


def bench_size(count: int, args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"sync-bench-{count}-"))
    generate(work, count)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(work / "xdg")}
    os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]  # the parse cache's key
    floor_parse = _namespace(FLOOR_PARSE)["parse_all"]
    cache_file = work / CACHE_FILE

    def drop_cache() -> None:
        cache_file.unlink(missing_ok=True)

    print(f"\n{count} personas")
    print(f"  {'measure':<46}{'value':>10}{'floor':>10}     ratio  goal")
    with database() as (db_url, schema):
        init_catalogue(db_url, env)
        rows = Rows()
        with EmbeddedCatalogue.open(db_url, TENANT) as embedded:
            repo = load_valid_repo(work)
            plan, ctx = compute_plan(repo, embedded)
            t_inproc, result = median_time(
                lambda: apply_repo(repo, embedded, plan, ctx, concurrency=4), 1
            )
            assert result.ok, result.failed[:3]
        rows.add("full apply from empty, in-process", t_inproc, None)
        with served(db_url, env) as base:
            backends = {
                "http": (
                    lambda: HttpCatalogue(base, KEY, timeout=120),
                    lambda: _namespace(FLOOR_HTTP_LIST)["list_all"](base, KEY, API_PREFIX),
                    {"SCAIGRID_HOST": base, "SCAIGRID_API_KEY": KEY},
                ),
            }
            if schema is not None:
                dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
                backends["postgres"] = (
                    lambda: EmbeddedCatalogue.open(db_url, TENANT),
                    lambda: _namespace(FLOOR_SQL_LIST)["list_all"](dsn, schema),
                    {"PERSONAS_DATABASE_URL": db_url},
                )
            for name in args.backends:
                if name not in backends:
                    continue
                open_cat, raw_list, cat_env = backends[name]
                print(f"  -- {name}")
                plan_env = {
                    **{k: v for k, v in os.environ.items() if not k.startswith("SCAIGRID_")},
                    **cat_env,
                }
                bench_backend(
                    work, count, args, rows, open_cat, raw_list, floor_parse, drop_cache, plan_env
                )
                bench_apply_and_rss(work, count, args, rows, env, cat_env, raw_list, schema, name)
            if args.full_apply_http:
                with database() as (fresh_url, _), served(fresh_url, env) as fresh_base:
                    init_catalogue(fresh_url, env)
                    cat = HttpCatalogue(fresh_base, KEY, timeout=120)
                    repo = load_valid_repo(work)
                    plan, ctx = compute_plan(repo, cat)
                    t_http, result = median_time(
                        lambda: apply_repo(repo, cat, plan, ctx, concurrency=4), 1
                    )
                    assert result.ok
                rows.add("full apply from empty, HTTP", t_http, t_inproc, goal="<= 1.5x")


def bench_backend(
    work, count, args, rows, open_cat, raw_list, floor_parse, drop_cache, plan_env
) -> None:
    def floor() -> int:
        floor_parse(work)
        listed = raw_list()
        return len(listed[0] if isinstance(listed, tuple) else listed)

    t_floor, listed = median_time(floor, args.repeat)
    assert listed == count, listed
    rows.add("floor: CSafeLoader parse + raw list", t_floor, None)
    cat = open_cat()
    try:

        def plan():
            # as `personas plan` does it: the catalogue is listed while the files load
            with open_plan_inputs(work, plan_env) as inputs:
                return inputs.plan()[0]

        t_cold, noop = median_time(plan, args.repeat, before=drop_cache)
        assert not noop.has_changes, [p.to_dict() for p in noop.changed[:2]]
        rows.add("no-op plan, cold (no parse cache)", t_cold, t_floor, goal="<= 1.5x")
        plan()  # settle the cache
        t_warm, noop = median_time(plan, args.repeat)
        assert not noop.has_changes
        rows.add("no-op plan, warm (parse cache)", t_warm, t_floor, goal="< 1x")
        if args.breakdown:
            breakdown(work, args, rows, cat, raw_list, floor_parse, drop_cache)
    finally:
        cat.close()


def breakdown(work, args, rows, cat, raw_list, floor_parse, drop_cache) -> None:
    """Where a plan's time goes: loading the files, reading the catalogue."""
    t_parse, _ = median_time(lambda: floor_parse(work), args.repeat)
    t_list, _ = median_time(raw_list, args.repeat)
    t_load_cold, repo = median_time(lambda: load_valid_repo(work), args.repeat, drop_cache)
    rows.add("  load the repo, cold", t_load_cold, t_parse, goal="floor: CSafeLoader parse")
    t_load_warm, repo = median_time(lambda: load_valid_repo(work), args.repeat)
    rows.add("  load the repo, warm", t_load_warm, t_parse, goal="floor: CSafeLoader parse")
    slugs = {p.spec.model for p in repo.personas.values()}
    t_read, _ = median_time(lambda: read_catalogue(cat, TENANT, model_slugs=slugs), args.repeat)
    rows.add("  read the catalogue (sync.reader)", t_read, t_list, goal="floor: raw list")


def bench_apply_and_rss(work, count, args, rows, env, cat_env, raw_list, schema, name) -> None:
    run_env = {k: v for k, v in env.items() if not k.startswith(("SCAIGRID_", "PERSONAS_DATA"))}
    run_env.update(cat_env)
    out = work / "apply-out.txt"
    rounds = iter(range(10_000))

    def apply_cli() -> None:
        with out.open("w") as stream:
            subprocess.run(
                [*CLI, "apply", "--auto-approve", "--repo", str(work)],
                env=run_env,
                stdout=stream,
                stderr=subprocess.PIPE,
                check=True,
            )

    t_apply, _ = median_time(
        apply_cli, args.repeat, before=lambda: edit_twenty(work, count, next(rounds))
    )
    rows.add("apply 20 edits (CLI, stdout to a file)", t_apply, None, goal="<= 3 s at 10,000")

    if name == "http":
        list_code = (
            FLOOR_HTTP_LIST + f"list_all({cat_env['SCAIGRID_HOST']!r}, {KEY!r}, {API_PREFIX!r})"
        )
    else:
        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
        list_code = FLOOR_SQL_LIST + f"list_all({dsn!r}, {schema!r})"
    floor_code = FLOOR_PARSE + f"\nparsed = parse_all({str(work)!r})\n" + list_code
    plan_code = (
        "from pathlib import Path\n"
        "from personas_as_code.sync.engine import compute_plan, load_valid_repo, "
        "open_repo_catalogue\n"
        f"Path({str(work / CACHE_FILE)!r}).unlink(missing_ok=True)\n"
        f"repo = load_valid_repo({str(work)!r})\n"
        "with open_repo_catalogue(repo) as cat:\n"
        "    plan, _ = compute_plan(repo, cat)\n"
    )
    peak_floor = child_peak_mb(floor_code, run_env)
    peak_plan = child_peak_mb(plan_code, run_env)
    rows.add("plan peak RSS, cold (VmHWM)", peak_plan, peak_floor, "MB", "<= 1.5x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="300", help="comma-separated persona counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--backends", default="http,postgres", help="http and/or postgres")
    parser.add_argument(
        "--full-apply-http", action="store_true", help="also time a full apply over HTTP"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also time the load and the catalogue read"
    )
    args = parser.parse_args()
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print("sync benchmark: loopback HTTP (`personas catalogue serve`) and embedded PostgreSQL")
    for size in (int(s) for s in args.sizes.split(",")):
        bench_size(size, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
