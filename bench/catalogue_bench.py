"""Benchmark of the catalogue's REST server against floors measured in the same run (issue 13).

    .venv/bin/python bench/catalogue_bench.py [--sizes 2000,10000] [--gets 2000]

Per size N (a generated repo of N personas, two in three published; SQLite):

- full apply from empty: ``personas apply --auto-approve`` run as CI does (a
  subprocess, stdout to a file), once in-process (the embedded catalogue: the
  floor) and once over HTTP against ``personas catalogue serve`` in its own
  process (goal <= 1.5x);
- server CPU per ``GET /personas/{id}`` (the server process's own CPU time over
  sequential keep-alive requests; the median of 3 rounds alternating between the
  servers) against a bare FastAPI route doing the same bearer-key check and
  answering the same body from memory (goal <= 2x);
- ``GET /v1/models`` read whole (every page), against what the plan reads: the
  model slugs it checks (one small request) and the published models it
  compares with their personas.

Then, at ``--serving-size`` personas (default 10,000: the example of 200 applied, then
copied row by row in SQL, which takes seconds, not an apply of minutes), issue 21's
read rows, each against ``bench/serving_floor.py`` (a bare FastAPI route with the same
bearer check, a raw ``sqlite3`` read of the same rows and ``json.dumps``: its answer is
checked equal to ours first), server CPU per request in rounds alternating A B A B:

- a list page (``limit=200``; goal <= 1.3x);
- ``GET /personas/{id}`` (goal <= 1.2x).

The apply concurrency is the CLI's default.  Keep 10,000 for one run at the end:
it takes several minutes.  ``--only serving`` runs the read rows alone.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from personas_as_code.catalogue.client import HttpCatalogue  # noqa: E402
from sync_bench import MODELS, generate  # noqa: E402

KEY = "sk_bench_" + "c" * 32
CLI = [sys.executable, "-m", "personas_as_code.cli.main"]
P = "/v1/modules/scaipersona"
TICKS = os.sysconf("SC_CLK_TCK")

# The floor of a GET: FastAPI, the same bearer scheme, a sha256 of the key looked up
# in memory, and the answer's bytes from memory; served by uvicorn like ours.
BARE_APP = """
import hashlib, os, uvicorn
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import Response
from fastapi.security import HTTPBearer

KEYS = {os.environ["BARE_KEY_HASH"]: "acme"}
BODY = open(os.environ["BARE_BODY"], "rb").read()
bearer = HTTPBearer(auto_error=False)
app = FastAPI()

def caller(credentials=Depends(bearer)):
    tenant = credentials and KEYS.get(hashlib.sha256(credentials.credentials.encode()).hexdigest())
    if not tenant:
        raise HTTPException(401)
    return tenant

@app.get("/v1/modules/scaipersona/personas/{persona_id}")
def get_persona(persona_id: str, tenant: str = Depends(caller)):
    return Response(BODY, media_type="application/json")

@app.get("/healthz")
def healthz():
    return {"ok": True}

uvicorn.run(app, host="127.0.0.1", port=int(os.environ["BARE_PORT"]), log_level="info")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """Run a server command until its ``/healthz`` answers; yield its pid."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def timed_cli(args: list[str], env: dict[str, str], out: Path) -> float:
    start = time.perf_counter()
    with out.open("w") as stream:
        done = subprocess.run([*CLI, *args], env=env, stdout=stream, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"personas {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")
    return elapsed


def server_cpu_per_get(base: str, pid: int, ids: list[str], count: int) -> float:
    """Seconds of server CPU per ``GET /personas/{id}``, sequential, over keep-alive."""
    headers = {"Authorization": f"Bearer {KEY}"}
    picks = [random.choice(ids) for _ in range(count)]
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for pid_ in picks[:200]:  # warm up
            assert client.get(f"{P}/personas/{pid_}").status_code == 200
        before = cpu_seconds(pid)
        for pid_ in picks:
            client.get(f"{P}/personas/{pid_}")
        return (cpu_seconds(pid) - before) / count


class Counting(httpx.HTTPTransport):
    """A transport that adds up the bytes of the answers it receives."""

    bytes = 0
    requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.requests += 1
        self.bytes += int(response.headers.get("content-length", 0))
        return response


def model_reads(base: str, published_ids: list[str]) -> dict[str, tuple[float, int, int]]:
    """(seconds, bytes, requests) of reading the model list whole, the plan's slug check and
    the plan's read of the published models."""
    out = {}
    reads = {
        "GET /v1/models, whole (every page)": lambda c: c.list_models(),
        "plan's model-slug check": lambda c: c.list_models(slugs=MODELS),
        "plan's published-model read": lambda c: c.list_models(ids=published_ids),
    }
    for name, read in reads.items():
        transport = Counting()
        with HttpCatalogue(base, KEY, transport=transport) as cat:
            start = time.perf_counter()
            read(cat)
            out[name] = (time.perf_counter() - start, transport.bytes, transport.requests)
    return out


def run_size(count: int, gets: int, tmp: Path) -> list[tuple[str, str, str, str]]:
    repo = tmp / f"repo-{count}"
    generate(repo, count)
    rows: list[tuple[str, str, str, str]] = []

    t_inproc = timed_cli(
        ["apply", "--auto-approve", "--repo", str(repo)],
        cli_env(PERSONAS_DATABASE_URL=f"sqlite:///{tmp}/inproc-{count}.db"),
        tmp / "apply-inproc.txt",
    )
    database = f"sqlite:///{tmp}/http-{count}.db"
    timed_cli(
        ["catalogue", "init", "--database", database, "--tenant", "acme", "--api-key", KEY],
        cli_env(),
        tmp / "init.txt",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [*CLI, "catalogue", "serve", "--database", database, "--port", str(port)]
    with process(serve, cli_env(), port, tmp / "serve.log") as server_pid:
        t_http = timed_cli(
            ["apply", "--auto-approve", "--repo", str(repo)],
            cli_env(SCAIGRID_HOST=base, SCAIGRID_API_KEY=KEY),
            tmp / "apply-http.txt",
        )
        rows.append(
            (
                "full apply from empty, HTTP (CLI)",
                f"{t_http:.2f} s",
                f"in-process (CLI) {t_inproc:.2f} s",
                f"{t_http / t_inproc:.2f}x (goal <= 1.5x)",
            )
        )
        with HttpCatalogue(base, KEY) as cat:
            personas = list(cat.iter_personas())
        ids = [p.id for p in personas]
        published = [p.published_model_id for p in personas if p.published_model_id]
        body = httpx.get(
            f"{base}{P}/personas/{ids[0]}", headers={"Authorization": f"Bearer {KEY}"}
        ).content
        reads = model_reads(base, published)
        (tmp / "body.json").write_bytes(body)
        bare_port = free_port()
        bare_env = cli_env(
            BARE_KEY_HASH=hashlib.sha256(KEY.encode()).hexdigest(),
            BARE_BODY=str(tmp / "body.json"),
            BARE_PORT=str(bare_port),
        )
        bare_cmd = [sys.executable, "-c", BARE_APP]
        bare_base = f"http://127.0.0.1:{bare_port}"
        with process(bare_cmd, bare_env, bare_port, tmp / "bare.log") as bare_pid:
            # rounds alternate between the two servers, so a change of load hits both
            ours_rounds, bare_rounds = [], []
            for _ in range(3):
                ours_rounds.append(server_cpu_per_get(base, server_pid, ids, gets))
                bare_rounds.append(server_cpu_per_get(bare_base, bare_pid, ids, gets))
    ours, bare = statistics.median(ours_rounds), statistics.median(bare_rounds)
    rows.append(
        (
            "server CPU per GET /personas/{id}",
            f"{ours * 1000:.3f} ms",
            f"bare FastAPI route + bearer check {bare * 1000:.3f} ms",
            f"{ours / bare:.2f}x (goal <= 2x)",
        )
    )
    whole = reads["GET /v1/models, whole (every page)"]
    for name, (seconds, size, requests) in reads.items():
        rows.append(
            (
                name,
                f"{size / 1e6:.3f} MB, {seconds * 1000:.0f} ms, {requests} req",
                "the whole list" if name.startswith("GET") else "",
                "" if name.startswith("GET") else f"{size / max(whole[1], 1):.4f}x of its bytes",
            )
        )
    return rows


def serving_catalogue(tmp: Path, count: int) -> tuple[str, str]:
    """A SQLite catalogue of ``count`` personas: 200 applied as CI does, then copied in
    SQL (fresh ids and slugs, their sources too).  Returns (database URL, tenant id)."""
    repo = tmp / "serving-repo"
    generate(repo, 200)
    path = tmp / "serving.db"
    env = cli_env(PERSONAS_DATABASE_URL=f"sqlite:///{path}")
    timed_cli(["apply", "--auto-approve", "--repo", str(repo)], env, tmp / "serving-apply.txt")
    con = sqlite3.connect(path)
    base = con.execute("SELECT max(pk) FROM personas").fetchone()[0]
    copies = {
        "personas": {"pk": "pk + {off}", "id": "id || '_{k}'", "slug": "slug || '-{k}'"},
        "persona_sources": {
            "pk": "pk + {soff}",
            "id": "id || '_{k}'",
            "persona_pk": "persona_pk + {off}",
        },
    }
    key = {"personas": "pk", "persona_sources": "persona_pk"}
    for k in range(1, count // base):
        for table, changed in copies.items():
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            picks = [changed.get(c, c).format(k=k, off=k * base, soff=k * 10 * base) for c in cols]
            con.execute(
                f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(picks)} "
                f"FROM {table} WHERE {key[table]} <= {base}"
            )
    con.commit()
    tenant = con.execute("SELECT tenant_id FROM personas LIMIT 1").fetchone()[0]
    con.close()
    init = ["catalogue", "init", "--database", f"sqlite:///{path}", "--tenant", "acme"]
    timed_cli([*init, "--api-key", KEY], cli_env(), tmp / "serving-init.txt")
    return f"sqlite:///{path}", tenant


def server_cpu_per(base: str, pid: int, paths: list[str], count: int) -> float:
    """Seconds of server CPU per GET of ``paths`` (cycled), sequential, over keep-alive."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for path in paths[:20]:  # warm up
            assert client.get(path).status_code == 200
        before = cpu_seconds(pid)
        for i in range(count):
            client.get(paths[i % len(paths)])
        return (cpu_seconds(pid) - before) / count


def same_answer(ours: dict, floor: dict) -> None:
    """The floor answers what we answer (``meta`` aside: it keeps no cursor)."""
    ours.pop("meta", None), floor.pop("meta", None)
    if ours != floor:
        raise RuntimeError("the floor's answer differs from ours: the comparison is void")


def serving_rows(tmp: Path, count: int, rounds: int) -> list[tuple[str, str, str, str]]:
    database, tenant = serving_catalogue(tmp, count)
    headers = {"Authorization": f"Bearer {KEY}"}
    port, bare_port = free_port(), free_port()
    serve = [*CLI, "catalogue", "serve", "--database", database, "--port", str(port)]
    floor_env = cli_env(
        BARE_DB=database.removeprefix("sqlite:///"),
        BARE_KEY_HASH=hashlib.sha256(KEY.encode()).hexdigest(),
        BARE_TENANT_ID=tenant,
        BARE_PORT=str(bare_port),
    )
    floor_cmd = [sys.executable, str(ROOT / "bench" / "serving_floor.py")]
    ours_base, bare_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
    page = f"{P}/personas?limit=200"
    with (
        process(serve, cli_env(), port, tmp / "serve-10k.log") as ours_pid,
        process(floor_cmd, floor_env, bare_port, tmp / "floor.log") as bare_pid,
    ):
        first = httpx.get(ours_base + page, headers=headers).json()
        if "data" not in first:
            raise RuntimeError(f"our list failed: {first}")
        ids = random.sample([p["id"] for p in first["data"]], 50)
        gets = [f"{P}/personas/{i}" for i in ids]
        same_answer(first, httpx.get(bare_base + page, headers=headers).json())
        for path in gets[:5]:
            same_answer(
                httpx.get(ours_base + path, headers=headers).json(),
                httpx.get(bare_base + path, headers=headers).json(),
            )
        figures: dict[str, list[tuple[float, float]]] = {"list": [], "get": []}
        for _ in range(rounds):  # A B A B: a change of load hits both
            for name, paths, n in (("list", [page], 100), ("get", gets, 1000)):
                ours = server_cpu_per(ours_base, ours_pid, paths, n)
                bare = server_cpu_per(bare_base, bare_pid, paths, n)
                figures[name].append((ours, bare))
    rows = []
    for name, label, goal in (
        ("list", "server CPU per list page (limit=200)", 1.3),
        ("get", "server CPU per GET /personas/{id}", 1.2),
    ):
        ours = statistics.median(o for o, _ in figures[name])
        bare = statistics.median(b for _, b in figures[name])
        ratio = statistics.median(o / b for o, b in figures[name])
        rows.append(
            (
                f"{label} at {count:,}",
                f"{ours * 1000:.2f} ms",
                f"bare route + sqlite3 read + json.dumps {bare * 1000:.2f} ms",
                f"{ratio:.2f}x (goal <= {goal}x)",
            )
        )
    return rows


def print_rows(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    print(f"\n{title}")
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(json.dumps({"title": title, "rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000", help="comma-separated persona counts")
    parser.add_argument("--gets", type=int, default=2000, help="GET requests timed per server")
    parser.add_argument("--serving-size", type=int, default=10_000, help="personas served")
    parser.add_argument("--rounds", type=int, default=5, help="A B rounds of the read rows")
    parser.add_argument("--only", choices=["apply", "serving"], help="run one part")
    args = parser.parse_args()
    random.seed(13)
    if args.only != "serving":
        for count in [int(s) for s in args.sizes.split(",")]:
            with tempfile.TemporaryDirectory() as tmp:
                rows = run_size(count, args.gets, Path(tmp))
            print_rows(f"catalogue bench at {count:,} personas (SQLite, loopback)", rows)
    if args.only != "apply":
        with tempfile.TemporaryDirectory() as tmp:
            rows = serving_rows(Path(tmp), args.serving_size, args.rounds)
        print_rows(f"catalogue reads at {args.serving_size:,} personas (SQLite, loopback)", rows)


if __name__ == "__main__":
    main()
