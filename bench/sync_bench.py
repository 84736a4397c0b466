"""Benchmark of the sync engine over loopback HTTP (issue 4).

    .venv/bin/python bench/sync_bench.py [--personas 2000] [--quick]

Generates N persona files, serves an embedded SQLite catalogue with
``personas catalogue serve`` in a separate process, and measures:

(a) the floor: parse every file + list the whole catalogue;
(b) a no-op plan, as a ratio of the floor measured in the same run (goal <= 1.5x);
(c) a full apply from an empty catalogue;
(d) plan + apply after editing 20 personas, counting API calls
    (goal: list pages + a small constant per change, not per persona).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from personas_as_code.catalogue.client import HttpCatalogue  # noqa: E402
from personas_as_code.catalogue.embedded import EmbeddedCatalogue  # noqa: E402
from personas_as_code.schemas.loader import load_repo  # noqa: E402
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo  # noqa: E402

KEY = "sk_bench_" + "x" * 32
MODELS = ["scaigrid/gpt-4o", "scaigrid/gpt-4o-mini", "scaigrid/claude-sonnet-4"]
GROUPS = ["mg_internal_chat", "mg_qa", "mg_support"]


def generate(root: Path, count: int) -> None:
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


def timed(fn, repeat: int = 1):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--personas", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="300 personas")
    args = parser.parse_args()
    count = 300 if args.quick else args.personas
    work = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    generate(work, count)
    db = f"sqlite:///{work / 'catalogue.db'}"
    personas_cli = [sys.executable, "-m", "personas_as_code.cli.main"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [
            *personas_cli,
            "catalogue",
            "init",
            "--database",
            db,
            "--tenant",
            "acme",
            "--api-key",
            KEY,
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    port = free_port()
    server = subprocess.Popen(
        [*personas_cli, "catalogue", "serve", "--database", db, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        cat = HttpCatalogue(base, KEY, timeout=60)

        def floor():
            load_repo(work)
            return sum(1 for _ in cat.iter_personas(page_size=200))

        def plan():
            return compute_plan(load_valid_repo(work), cat)

        repo = load_valid_repo(work)
        start_calls = cat.request_count
        t_apply_plan, (full_plan, ctx) = timed(lambda: compute_plan(repo, cat))
        t_apply, result = timed(lambda: apply_repo(repo, cat, full_plan, ctx, concurrency=4))
        assert result.ok, result.failed[:3]
        apply_calls = cat.request_count - start_calls

        t_floor, listed = timed(floor, repeat=3)
        assert listed == count
        t_noop, (noop, _) = timed(plan, repeat=3)
        assert not noop.has_changes, [p.to_dict() for p in noop.changed[:2]]

        for i in range(0, 20 * (count // 20), count // 20):
            path = work / "personas" / f"bench-{i:05d}.yaml"
            path.write_text(path.read_text().replace("Answer briefly", "Answer very briefly"))
        before = cat.request_count
        t_plan20, (plan20, ctx20) = timed(lambda: compute_plan(load_valid_repo(work), cat))
        plan_calls = cat.request_count - before
        before = cat.request_count
        t_apply20, result20 = timed(lambda: apply_repo(load_valid_repo(work), cat, plan20, ctx20))
        apply20_calls = cat.request_count - before
        assert result20.ok and len(plan20.changed) == 20
        pages = -(-count // 200)

        # baseline for (c): the same full apply in-process, without HTTP
        with EmbeddedCatalogue.open(f"sqlite:///{work / 'inproc.db'}", "acme") as embedded:
            fresh = load_valid_repo(work)
            inproc_plan, inproc_ctx = compute_plan(fresh, embedded)
            t_inproc, inproc = timed(
                lambda: apply_repo(fresh, embedded, inproc_plan, inproc_ctx, concurrency=4)
            )
            assert inproc.ok
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"sync engine benchmark: {count} personas, embedded SQLite catalogue over loopback HTTP")
    print(f"{'measure':<44}{'seconds':>10}{'per persona':>14}{'calls':>8}")
    rows = [
        ("(a) floor: parse files + list catalogue", t_floor, None),
        ("(b) no-op plan", t_noop, None),
        ("(c) full apply from empty (plan)", t_apply_plan, None),
        ("(c) full apply from empty (apply, conc. 4)", t_apply, apply_calls),
        ("    baseline: same apply in-process, no HTTP", t_inproc, None),
        ("(d) plan after 20 edits", t_plan20, plan_calls),
        ("(d) apply 20 changes", t_apply20, apply20_calls),
    ]
    for name, seconds, calls in rows:
        per = f"{1000 * seconds / count:.2f} ms"
        print(f"{name:<44}{seconds:>10.3f}{per:>14}{'' if calls is None else calls:>8}")
    print(f"no-op plan / floor = {t_noop / t_floor:.2f}x (goal <= 1.5x)")
    print(f"full apply over HTTP / in-process = {t_apply / t_inproc:.2f}x")
    print(
        f"plan calls = {plan_calls} ({pages} list pages + groups + models); apply calls for 20 "
        f"changes = {apply20_calls} ({apply20_calls / 20:.1f} per change)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
