"""Benchmark of ``personas plan`` and ``personas apply`` at scale (issues 4, 13 and 21).

    .venv/bin/python bench/sync_bench.py [--sizes 2000,10000] [--repeat 3]
                                         [--backends http,sqlite,postgres]

For each size it generates N persona files and applies them into fresh catalogues:
an embedded SQLite file, and embedded PostgreSQL (``PERSONAS_TEST_PG_URL`` or
127.0.0.1:5432/test, one schema per run) that ``personas catalogue serve`` also
serves over loopback HTTP in a separate process.  Every figure is a command run as
a process the way users and CI run it (stdout to a file), beside its floor run as
a process in the same run, A B A B (interleaved, so a loaded machine moves both):
the printed ratio is the median of the pairs' ratios, wall and CPU.

- no-op ``personas plan``, cold (no ``.personas/`` parse cache, as a fresh CI
  checkout) and warm (the cache a previous plan left); floor: a new Python process
  parsing the same files with PyYAML's CSafeLoader + a bare httpx list of every page
  (HTTP) / the raw SELECT of personas and sources (SQLite, PostgreSQL).
  Goal: cold <= 1.5x, warm <= 1.0x.
- ``personas apply --auto-approve`` of 20 edited prompts as CI runs it (no parse
  cache); floor: the same parse + list + 20 raw PUTs (HTTP) / SQL UPDATEs.  Goal <= 1.5x.
- plan peak RSS, cold: the plan process's own peak (its forked workers included,
  the largest of them), beside the floor process's.  Goal <= 1.5x.

The project and its dependencies are byte-compiled first (``compileall``), as an
installed package is: otherwise a ``PYTHONDONTWRITEBYTECODE`` environment compiles
every module of every run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
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
PERSONAS = str(Path(sys.executable).with_name("personas"))
CLI = (sys.executable, "-m", "personas_as_code.cli.main")
sys.path.insert(0, str(ROOT))

from personas_as_code.catalogue.api import API_PREFIX  # noqa: E402
from personas_as_code.catalogue.embedded import EmbeddedCatalogue  # noqa: E402
from personas_as_code.loader.parse_cache import CACHE_FILE  # noqa: E402
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo  # noqa: E402
from precompiled import precompile  # noqa: E402

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


# --- the floors: a bare parser, a bare client, raw SQL; never this project's code ------

FLOOR_PARSE = """
import sys, yaml
from pathlib import Path
root = sys.argv[1]
parsed = [yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader)
          for p in sorted(Path(root, "personas").glob("*.yaml"))]
"""

FLOOR_HTTP = """
import httpx
base, key, prefix = sys.argv[2], sys.argv[3], sys.argv[4]
items, cursor = [], None
with httpx.Client(base_url=base, headers={"Authorization": "Bearer " + key}, timeout=120) as c:
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        body = c.get(prefix + "/personas", params=params).json()
        items += body["data"]
        cursor = (body.get("meta") or {}).get("next_cursor")
        if not cursor:
            break
    ids = {p["slug"]: p["id"] for p in items}
    for slug, prompt in edits():
        c.put(f"{prefix}/personas/{ids[slug]}", json={"system_prompt": prompt}).raise_for_status()
"""

FLOOR_SQL = """
import datetime
if sys.argv[2].startswith("sqlite:"):
    import sqlite3
    conn = sqlite3.connect(sys.argv[2].removeprefix("sqlite:///"))
    mark = "?"
else:
    import psycopg
    conn = psycopg.connect(sys.argv[2])
    conn.execute(f'SET search_path = "{sys.argv[3]}"')
    mark = "%s"
personas = conn.execute("SELECT * FROM personas ORDER BY id").fetchall()
sources = conn.execute("SELECT * FROM persona_sources").fetchall()
now = datetime.datetime.now(datetime.timezone.utc)
for slug, prompt in edits():
    conn.execute(f"UPDATE personas SET system_prompt = {mark}, updated_at = {mark} "
                 f"WHERE slug = {mark}", (prompt, now, slug))
conn.commit()
conn.close()
"""

EDITS = """
import json
def edits():
    return json.loads(sys.argv[-1]) if sys.argv[-1].startswith("[") else []
"""


# --- processes, timed in pairs ----------------------------------------------------------


TIME = "/usr/bin/time"  # GNU time: the command's own peak, not one inherited from this fork


def run(argv: list[str], env: dict[str, str], out: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (its waited-for children included) and peak RSS (MiB,
    the largest single process) of one process, stdout to ``out``."""
    timed = [TIME, "-f", "@@maxrss %M", *argv] if os.path.exists(TIME) else argv
    with out.open("w") as stream:
        start = time.perf_counter()
        proc = subprocess.Popen(timed, env=env, stdout=stream, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        raise RuntimeError(f"{argv[:4]} exited {code}: {err[-2000:]}")
    peak = usage.ru_maxrss / 1024  # without GNU time: includes what this process forked with
    for line in err.splitlines():
        if line.startswith("@@maxrss "):
            peak = int(line.split()[1]) / 1024
    return wall, usage.ru_utime + usage.ru_stime, peak


class Pairs:
    """A B A B runs of a command and its floor; medians and the pairs' median ratios."""

    def __init__(self) -> None:
        self.cmd: list[tuple[float, float, float]] = []
        self.floor: list[tuple[float, float, float]] = []

    def median(self, side: str, i: int) -> float:
        return statistics.median(r[i] for r in getattr(self, side))

    def ratio(self, i: int) -> float:
        return statistics.median(c[i] / f[i] for c, f in zip(self.cmd, self.floor, strict=True))


def pairs(
    cmd: Callable[[], tuple[float, float, float]],
    floor: Callable[[], tuple[float, float, float]],
    repeat: int,
    before: Callable[[], object] | None = None,
) -> Pairs:
    result = Pairs()
    for _ in range(repeat):
        if before is not None:
            before()
        result.floor.append(floor())
        if before is not None:
            before()
        result.cmd.append(cmd())
    return result


def row(what: str, p: Pairs, goal: str) -> None:
    """One printed row: the command's medians beside its floor's, and the ratios."""
    wall, cpu, floor_wall, floor_cpu = (
        p.median("cmd", 0),
        p.median("cmd", 1),
        p.median("floor", 0),
        p.median("floor", 1),
    )
    print(
        f"  {what:<44}{wall:9.2f}{floor_wall:9.2f}{p.ratio(0):7.2f}x"
        f"{cpu:9.2f}{floor_cpu:9.2f}{p.ratio(1):7.2f}x  {goal}",
        flush=True,
    )


def rss_row(what: str, p: Pairs, goal: str) -> None:
    mine, floor = p.median("cmd", 2), p.median("floor", 2)
    print(f"  {what:<44}{mine:9.0f}{floor:9.0f}{p.ratio(2):7.2f}x   (MiB)  {goal}", flush=True)


# --- catalogues -------------------------------------------------------------------------


@contextlib.contextmanager
def postgres() -> Iterator[tuple[str, str, str] | None]:
    """A fresh PostgreSQL schema (SQLAlchemy URL, libpq DSN, schema), None if unreachable."""
    try:
        import psycopg

        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except Exception as exc:
        print(f"(PostgreSQL unreachable: {str(exc).splitlines()[0]})")
        yield None
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}", dsn, schema
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
        for _ in range(600):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def fill(work: Path, db_url: str, env: dict[str, str]) -> None:
    """A new catalogue at ``db_url`` holding the repo (``catalogue init`` + a full apply)."""
    subprocess.run(
        [*CLI, "catalogue", "init", "--database", db_url, "--tenant", TENANT, "--api-key", KEY],
        check=True,
        capture_output=True,
        env=env,
    )
    with EmbeddedCatalogue.open(db_url, TENANT) as embedded:
        repo = load_valid_repo(work)
        plan, ctx = compute_plan(repo, embedded)
        assert apply_repo(repo, embedded, plan, ctx, concurrency=4).ok
    (work / CACHE_FILE).unlink(missing_ok=True)


# --- one size ---------------------------------------------------------------------------


def edit_twenty(root: Path, count: int, round_: int) -> list[tuple[str, str]]:
    """Change the prompt of 20 personas spread over the repo (a new text each round);
    the slugs and their new prompts."""
    step, edits = max(1, count // 20), []
    for i in range(0, min(count, 20 * step), step):
        path = root / "personas" / f"bench-{i:05d}.yaml"
        lines = path.read_text().splitlines()
        lines[6] = f"  Answer briefly and cite your sources (round {round_})."
        path.write_text("\n".join(lines) + "\n")
        edits.append((path.stem, f"You are bench persona {i}.\n{lines[6].strip()}\n"))
    return edits


def bench_size(count: int, args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"sync-bench-{count}-"))
    generate(work, count)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(work / "xdg")}
    env = {k: v for k, v in env.items() if not k.startswith(("SCAIGRID_", "PERSONAS_DATA"))}
    os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]  # the parse cache's key
    sqlite_url = f"sqlite:///{work / 'catalogue.db'}"
    print(f"\n{count} personas (medians of {args.repeat} A B pairs; ratio = median of pair ratios)")
    print(
        f"  {'measure':<44}{'wall s':>9}{'floor':>9}{'ratio':>8}{'cpu s':>9}{'floor':>9}"
        f"{'ratio':>8}  goal"
    )
    with postgres() as pg:
        backends: dict[str, tuple[dict[str, str], list[str]]] = {}
        if "sqlite" in args.backends:
            fill(work, sqlite_url, env)
            backends["sqlite"] = ({"PERSONAS_DATABASE_URL": sqlite_url}, ["sql", sqlite_url])
        served_url = sqlite_url
        if pg is not None and {"postgres", "http"} & set(args.backends):
            fill(work, pg[0], env)
            served_url = pg[0]
            backends["postgres"] = ({"PERSONAS_DATABASE_URL": pg[0]}, ["sql", pg[1], pg[2]])
        elif "http" in args.backends and "sqlite" not in backends:
            fill(work, sqlite_url, env)
        with served(served_url, env) as base:
            http_env = {"SCAIGRID_HOST": base, "SCAIGRID_API_KEY": KEY}
            backends["http"] = (http_env, ["http", base, KEY, API_PREFIX])
            chosen = [b for b in args.backends if b in backends]
            for name in chosen:  # no-op plans first: every catalogue matches the repo
                bench_plans(work, args, name, {**env, **backends[name][0]}, backends[name][1])
            rounds = iter(range(1, 10_000))
            for name in chosen:
                bench_apply(
                    work, count, args, name, {**env, **backends[name][0]}, backends[name][1], rounds
                )
    shutil.rmtree(work, ignore_errors=True)


def floor_argv(
    work: Path, kind: list[str], edits: list[tuple[str, str]] | None = None
) -> list[str]:
    code = FLOOR_PARSE + EDITS + (FLOOR_HTTP if kind[0] == "http" else FLOOR_SQL)
    return [sys.executable, "-c", code, str(work), *kind[1:], json.dumps(edits or [])]


def bench_plans(work: Path, args, name: str, env: dict[str, str], kind: list[str]) -> None:
    out, floor_out = work / "plan-out.txt", work / "floor-out.txt"
    plan = [PERSONAS, "plan", "--repo", str(work)]
    floor = floor_argv(work, kind)

    def drop_cache() -> None:
        (work / CACHE_FILE).unlink(missing_ok=True)

    cold = pairs(
        lambda: run(plan, env, out),
        lambda: run(floor, env, floor_out),
        args.repeat,
        before=drop_cache,
    )
    assert "No changes" in out.read_text(), out.read_text()[-2000:]
    row(f"no-op plan, cold, {name}", cold, "<= 1.5x")
    run(plan, env, out)  # leaves the parse cache
    warm = pairs(lambda: run(plan, env, out), lambda: run(floor, env, floor_out), args.repeat)
    assert "No changes" in out.read_text()
    row(f"no-op plan, warm (parse cache), {name}", warm, "<= 1.0x")
    rss_row(f"plan peak RSS, cold, {name}", cold, "<= 1.5x")


def bench_apply(work, count, args, name, env, kind, rounds) -> None:
    """``personas apply --auto-approve`` of 20 edits, no parse cache, stdout to a file."""
    out, floor_out = work / "apply-out.txt", work / "floor-out.txt"
    apply = [PERSONAS, "apply", "--auto-approve", "--repo", str(work)]
    edits: list[tuple[str, str]] = []

    def edit() -> None:
        edits[:] = edit_twenty(work, count, next(rounds))
        (work / CACHE_FILE).unlink(missing_ok=True)

    def applied() -> tuple[float, float, float]:
        figures = run(apply, env, out)
        text = out.read_text()
        assert "Apply complete: 20 persona(s) applied, 0 failed" in text, text[-2000:]
        return figures

    result = pairs(
        applied,
        lambda: run(floor_argv(work, kind, edits), env, floor_out),
        args.repeat,
        before=edit,
    )
    row(f"apply 20 edits (CI: no cache), {name}", result, "<= 1.5x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000", help="comma-separated persona counts")
    parser.add_argument("--repeat", type=int, default=3, help="A B pairs per figure")
    parser.add_argument("--backends", default="http,sqlite,postgres")
    args = parser.parse_args()
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    precompile()
    print("sync benchmark: `personas plan` / `apply` as processes beside their floors")
    for size in (int(s) for s in args.sizes.split(",")):
        bench_size(size, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
