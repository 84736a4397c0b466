"""Enrichment overhead of ``POST /v1/inference/chat`` on the ``mirror`` backend.

    .venv/bin/python bench/inference_bench.py [--requests N]

The example repo is applied into a fresh SQLite catalogue (personas published,
knowledge indexed with the offline embedder); the REST app serves it on a
loopback port.  In the same run, alternating request by request, it measures

* the baseline: a bare ``mirror`` call of the base model ``scaigrid/gpt-4o``
  (auth, model resolution, dispatch, envelope), and
* the persona: ``tenant/acme/support-agent`` (the same, plus the persona
  enricher: its sources, hybrid + semantic retrieval over the index, top_k 5,
  the context template and the params merge),

with the same question, and prints p50/p95 latency of each and their ratio
(goal: persona p95 <= 1.5x the bare call's p95).  Client and server share this
process (and the machine's cores), as in the other benches.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.seed import add_api_key, bootstrap, seed_starter
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Can I get a refund on my annual plan?"
GOAL = 1.5


def example_copy(target: Path) -> Path:
    """The example repo (personas and their tests, test personas, config, knowledge
    folders) under ``target``."""
    shutil.copy(ROOT / "personas.toml", target / "personas.toml")
    for folder in ("personas", "test-personas", "knowledge"):
        shutil.copytree(ROOT / folder, target / folder)
    return target


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="Requests per model.")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # wordllama turns INFO on for all
    with tempfile.TemporaryDirectory() as tmp:
        repo_root = example_copy(Path(tmp))
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        bootstrap(engine, "acme")
        with Session(engine, expire_on_commit=False) as session:
            key = add_api_key(session, seed_starter(session, "acme"))
        catalogue = EmbeddedCatalogue(engine, "acme")
        repo = load_valid_repo(repo_root)
        plan, ctx = compute_plan(repo, catalogue)
        started = time.perf_counter()
        assert apply_repo(repo, catalogue, plan, ctx).ok
        print(f"apply of the examples (knowledge indexed): {time.perf_counter() - started:.2f}s")
        models = {"bare scaigrid/gpt-4o": "scaigrid/gpt-4o", "persona": "tenant/acme/support-agent"}
        timings: dict[str, list[float]] = {name: [] for name in models}
        chunks = 0
        with (
            serve_in_thread(create_app(engine)) as base_url,
            httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as http,
        ):
            for round_ in range(args.requests + 20):  # 20 warm-up rounds, not counted
                for name, model in models.items():
                    body = {"model": model, "messages": [{"role": "user", "content": QUESTION}]}
                    t0 = time.perf_counter()
                    resp = http.post("/v1/inference/chat", json=body)
                    elapsed = time.perf_counter() - t0
                    resp.raise_for_status()
                    if round_ >= 20:
                        timings[name].append(elapsed * 1000)
                    if name == "persona":
                        chunks = len(resp.json()["data"]["retrieval"])
        engine.dispose()
    print(f"requests per model: {args.requests} (alternating; {chunks} chunks retrieved each)")
    print(f"{'model':<24}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name, values in timings.items():
        print(
            f"{name:<24}{percentile(values, 0.5):>10.2f}{percentile(values, 0.95):>10.2f}"
            f"{statistics.fmean(values):>10.2f}"
        )
    bare, persona = timings["bare scaigrid/gpt-4o"], timings["persona"]
    p50 = percentile(persona, 0.5) / percentile(bare, 0.5)
    p95 = percentile(persona, 0.95) / percentile(bare, 0.95)
    verdict = "meets" if p95 <= GOAL else "misses"
    print(f"overhead: p50 {p50:.2f}x, p95 {p95:.2f}x the bare call ({verdict} the {GOAL}x goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
