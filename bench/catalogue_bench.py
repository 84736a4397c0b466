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

The apply concurrency is the CLI's default.  Keep 10,000 for one run at the end:
it takes several minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import socket
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000", help="comma-separated persona counts")
    parser.add_argument("--gets", type=int, default=2000, help="GET requests timed per server")
    args = parser.parse_args()
    random.seed(13)
    for count in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            rows = run_size(count, args.gets, Path(tmp))
        print(f"\ncatalogue bench at {count:,} personas (SQLite, loopback)")
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        print(json.dumps({"size": count, "rows": rows}))


if __name__ == "__main__":
    main()
