"""Benchmark: one hung backend does not slow other tenants (issue 19).

    .venv/bin/python bench/isolation_bench.py [--hung 50] [--gets 100] [--rounds 3]

A ``personas catalogue serve`` process (SQLite) whose backend model ``openai/gpt-4o``
points at a loopback upstream that accepts calls and never answers.  Per round, tenant
globex's ``GET /v1/modules/scaipersona/personas`` is timed ``--gets`` times (sequential,
keep-alive) with no call hanging (the floor), then again while tenant acme has
``--hung`` chat calls hanging on that backend; the hung calls are then let go.  Rounds
alternate the two conditions, so a change of load on the machine hits both.  Prints
the p50/p95 of each condition (the median over rounds) and the p95 ratio (goal <= 1.5x).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from catalogue_bench import cli_env, free_port, process, timed_cli  # noqa: E402
from personas_as_code.catalogue.backends import configure_backend  # noqa: E402
from personas_as_code.catalogue.db import make_engine  # noqa: E402

from tests.inference.hostile import Hostile, serve_hostile, wait_for  # noqa: E402

KEY_A = "sk_bench_" + "a" * 32
KEY_B = "sk_bench_" + "b" * 32
PERSONAS = "/v1/modules/scaipersona/personas"
CHAT = "/v1/inference/chat"


def quantiles(times: list[float]) -> tuple[float, float]:
    """p50 and p95 of ``times``."""
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times), cuts[-1]


def timed_gets(base: str, count: int) -> list[float]:
    """Seconds of each of ``count`` sequential ``GET /personas`` of tenant globex."""
    times = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY_B}"}) as c:
        c.get(PERSONAS, timeout=120)  # the connection
        for _ in range(count):
            start = time.perf_counter()
            resp = c.get(PERSONAS, timeout=120)
            times.append(time.perf_counter() - start)
            resp.raise_for_status()
    return times


def hang(base: str, upstream: Hostile, count: int, pool: ThreadPoolExecutor) -> list:
    """Start ``count`` chat calls of tenant acme; return once all hang upstream."""
    limits = httpx.Limits(max_connections=count + 5)
    client = httpx.Client(base_url=base, timeout=120, limits=limits)
    body = {"model": "scaigrid/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    auth = {"Authorization": f"Bearer {KEY_A}"}
    before = upstream.accepted
    calls = [pool.submit(client.post, CHAT, json=body, headers=auth) for _ in range(count)]
    wait_for(lambda: upstream.accepted - before >= count, 60, f"{count} calls upstream")
    return [client, calls]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hung", type=int, default=50)
    parser.add_argument("--gets", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="isolation-bench-"))
    database = f"sqlite:///{tmp}/catalogue.db"
    for tenant, key in (("acme", KEY_A), ("globex", KEY_B)):
        init = ["catalogue", "init", "--database", database, "--tenant", tenant]
        timed_cli([*init, "--api-key", key], cli_env(), tmp / f"init-{tenant}.txt")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "personas_as_code.cli.main", "catalogue", "serve"]
    serve += ["--database", database]
    floors: list[tuple[float, float]] = []
    loads: list[tuple[float, float]] = []
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(serve_hostile("hang"))
        engine = make_engine(database)
        configure_backend(
            engine,
            "openai/gpt-4o",
            {
                "provider": "openai",
                "base_url": upstream.base_url,
                "model": "m",
                "timeout_seconds": 120,
                "max_retries": 0,
                "max_concurrent_calls": args.hung,
            },
            managed_by="bench",
        )
        engine.dispose()
        stack.enter_context(
            process([*serve, "--port", str(port)], cli_env(), port, tmp / "serve.log")
        )
        pool = stack.enter_context(ThreadPoolExecutor(args.hung))
        timed_gets(base, 50)  # warm: the key cache, the database pages, the imports
        for _ in range(args.rounds):
            floors.append(quantiles(timed_gets(base, args.gets)))
            client, calls = hang(base, upstream, args.hung, pool)
            loads.append(quantiles(timed_gets(base, args.gets)))
            upstream.release()
            for call in calls:
                with contextlib.suppress(httpx.HTTPError):
                    call.result(timeout=120)
            client.close()
    floor = [statistics.median(q[i] for q in floors) for i in (0, 1)]
    load = [statistics.median(q[i] for q in loads) for i in (0, 1)]
    print(f"GET {PERSONAS} of another tenant, {args.gets} sequential x {args.rounds} rounds")
    print(f"{'condition':<34}{'p50':>10}{'p95':>10}")
    print(f"{'0 hung backend calls (floor)':<34}{floor[0] * 1000:>8.1f}ms{floor[1] * 1000:>8.1f}ms")
    label = f"{args.hung} hung backend calls"
    print(f"{label:<34}{load[0] * 1000:>8.1f}ms{load[1] * 1000:>8.1f}ms")
    print(f"p95 ratio: {load[1] / floor[1]:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
