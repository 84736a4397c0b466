"""What the OpenAI-compatible layer costs: chat latency through ``/oai/v1/chat/completions``
vs ``POST /v1/inference/chat`` vs a bare route, all over loopback HTTP.

    .venv/bin/python bench/gateway_bench.py [--requests N] [--stream]

The example repo is applied into a fresh SQLite catalogue (personas published, knowledge
indexed with the offline embedder, the ``mirror`` backend), then served by
``personas catalogue serve`` in its own process, as a user runs it.  The floor is a bare
Starlette route in another process, served by uvicorn with the same settings, answering
canned bytes: the ``/oai/v1`` answer recorded from the catalogue, so the same size.  One
``httpx`` client sends the requests, interleaved request by request (floor, ``/v1``,
``/oai/v1``, ...), for the bare model ``scaigrid/gpt-4o`` (where the layer's share is
largest) and the persona ``tenant/acme/support-agent`` (enricher and retrieval).

It prints the first (cold) request of each -- ``/v1/inference/chat`` goes first, so it
pays the server's first-call costs for both -- then p50/p95 of the warm ones, each beside
the floor and as a ratio; goal: ``/oai/v1`` p95 <= 1.10x ``/v1/inference/chat`` p95.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Can I get a refund on my annual plan?"
GOAL = 1.10
MODELS = ("scaigrid/gpt-4o", "tenant/acme/support-agent")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def prepare(tmp: Path) -> tuple[str, str]:
    """The examples applied into a new SQLite catalogue (set-up, not measured): its URL
    and an API key of tenant ``acme``."""
    from personas_as_code.catalogue.db import make_engine
    from personas_as_code.catalogue.embedded import EmbeddedCatalogue
    from personas_as_code.catalogue.seed import add_api_key, bootstrap, seed_starter
    from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo
    from sqlalchemy.orm import Session

    shutil.copy(ROOT / "personas.toml", tmp / "personas.toml")
    for folder in ("personas", "test-personas", "knowledge"):
        shutil.copytree(ROOT / folder, tmp / folder)
    database = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(database)
    try:
        bootstrap(engine, "acme")
        with Session(engine, expire_on_commit=False) as session:
            key = add_api_key(session, seed_starter(session, "acme"))
        catalogue = EmbeddedCatalogue(engine, "acme")
        repo = load_valid_repo(tmp)
        plan, ctx = compute_plan(repo, catalogue)
        if not apply_repo(repo, catalogue, plan, ctx).ok:
            raise SystemExit("apply of the examples failed")
    finally:
        engine.dispose()
    return database, key


@contextlib.contextmanager
def process(command: list[str], base: str, log: Path) -> Iterator[float]:
    """Run ``command`` until ``base/healthz`` answers; yield the start-up seconds."""
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None:
                raise SystemExit(f"{command[:4]} exited:\n{log.read_text()}")
            time.sleep(0.05)
        yield time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def serve_floor(port: int, body_file: Path, stream: bool) -> None:
    """The floor: a bare Starlette route answering canned bytes (not this project's code),
    under uvicorn with the settings ``personas catalogue serve`` uses."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    body = body_file.read_bytes()

    async def chat(request: object) -> Response:
        await request.body()  # type: ignore[attr-defined]
        if stream:
            return StreamingResponse(iter([body]), media_type="text/event-stream")
        return Response(body, media_type="application/json")

    async def health(request: object) -> Response:
        return Response(b'{"data":{"status":"ok"}}', media_type="application/json")

    app = Starlette(routes=[Route("/chat", chat, methods=["POST"]), Route("/healthz", health)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")


def measure(args: argparse.Namespace, database: str, key: str, tmp: Path) -> None:
    port, floor_port = free_port(), free_port()
    base, floor = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{floor_port}"
    auth = {"Authorization": f"Bearer {key}"}
    serve = [sys.executable, "-m", "personas_as_code.cli.main", "catalogue", "serve"]
    with (
        process([*serve, "--database", database, "--port", str(port)], base, tmp / "s.log") as up,
        httpx.Client(timeout=60) as client,
    ):
        print(f"personas catalogue serve ready in {up:.2f}s")
        for model in MODELS:
            body = {
                "model": model,
                "messages": [{"role": "user", "content": QUESTION}],
                "stream": args.stream,
            }
            targets = {
                "/v1/inference/chat": (base + "/v1/inference/chat", auth),
                "/oai/v1/chat/completions": (base + "/oai/v1/chat/completions", auth),
            }
            cold = {name: _time(client, url, body, h) for name, (url, h) in targets.items()}
            canned = client.post(targets["/oai/v1/chat/completions"][0], json=body, headers=auth)
            (tmp / "canned").write_bytes(canned.content)
            floor_cmd = [
                sys.executable,
                __file__,
                "--serve-floor",
                str(floor_port),
                str(tmp / "canned"),
            ]
            floor_cmd += ["--stream"] if args.stream else []
            with process(floor_cmd, floor, tmp / "f.log"):
                targets = {"floor (bare route)": (floor + "/chat", {}), **targets}
                cold["floor (bare route)"] = _time(client, floor + "/chat", body, {})
                timings = run(client, targets, body, args.requests)
            report(model, args, timings, cold, len(canned.content))


def _time(
    client: httpx.Client, url: str, body: dict[str, object], headers: dict[str, str]
) -> float:
    started = time.perf_counter()
    resp = client.post(url, json=body, headers=headers)
    elapsed = time.perf_counter() - started
    if resp.status_code != 200:
        raise SystemExit(f"{url} answered {resp.status_code}: {resp.text[:300]}")
    return elapsed


def run(
    client: httpx.Client,
    targets: dict[str, tuple[str, dict[str, str]]],
    body: dict[str, object],
    requests: int,
) -> dict[str, list[float]]:
    """``requests`` timed calls of each target, interleaved, after 20 untimed rounds."""
    for _ in range(20):
        for url, headers in targets.values():
            _time(client, url, body, headers)
    timings: dict[str, list[float]] = {name: [] for name in targets}
    names = list(targets)
    for round_ in range(requests):  # the order turns each round: no route always goes first
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            url, headers = targets[name]
            timings[name].append(_time(client, url, body, headers))
    return timings


def report(
    model: str,
    args: argparse.Namespace,
    timings: dict[str, list[float]],
    cold: dict[str, float],
    size: int,
) -> None:
    kind = "stream" if args.stream else "plain"
    print(f"\n{model} ({kind}, {args.requests} requests each, interleaved; answer {size:,} bytes)")
    floor50 = percentile(timings["floor (bare route)"], 0.5)
    floor95 = percentile(timings["floor (bare route)"], 0.95)
    print(
        f"{'route':28} {'cold ms':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p50/floor':>10} {'p95/floor':>10}"
    )
    for name, values in timings.items():
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        print(
            f"{name:28} {cold[name] * 1000:8.2f} {p50 * 1000:8.2f} {p95 * 1000:8.2f} "
            f"{p50 / floor50:10.2f} {p95 / floor95:10.2f}"
        )
    oai, v1 = timings["/oai/v1/chat/completions"], timings["/v1/inference/chat"]
    r50 = percentile(oai, 0.5) / percentile(v1, 0.5)
    r95 = percentile(oai, 0.95) / percentile(v1, 0.95)
    verdict = "met" if r95 <= GOAL else "NOT met"
    print(
        f"/oai/v1 vs /v1/inference/chat: p50 x{r50:.3f}, p95 x{r95:.3f} "
        f"(goal p95 <= x{GOAL}: {verdict})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="Timed requests per route.")
    parser.add_argument("--stream", action="store_true", help="Stream the answers (SSE).")
    parser.add_argument("--serve-floor", nargs=2, metavar=("PORT", "BODY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(int(args.serve_floor[0]), Path(args.serve_floor[1]), args.stream)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        database, key = prepare(Path(tmp))
        print(f"examples applied (knowledge indexed) in {time.perf_counter() - started:.2f}s")
        measure(args, database, key, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
