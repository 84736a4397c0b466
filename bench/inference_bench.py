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

Then issue 21's row: a persona whose one hybrid source holds ``--docs`` generated
documents (1,000: ``bench/knowledge_bench.py``'s), applied into a fresh catalogue,
``POST /v1/inference/chat`` p50/p95 against a bare FastAPI route in the same process
that checks the same bearer key, does the same retrieval raw (FTS5 bm25 + numpy dot +
rank fusion over the same index) and answers the mirror's echo with ``json.dumps``
(goal <= 1.5x), alternating request by request.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import HTTPBearer
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


PERSONA_1000 = """\
name: Bench RAG
model: scaigrid/gpt-4o
status: active
system_prompt: You answer from the context.
publish: {enabled: true, groups: [mg_internal_chat]}
rag: {enabled: true, strategy: single_step, top_k: 5}
sources:
  - {type: collection, id: col_bench, search_config: {search_type: hybrid}}
"""


def bare_chat_app(db_path: str, key: str):
    """The floor: bearer check, raw retrieval, the mirror's echo as JSON."""
    from knowledge_bench import RawRetrieval
    from personas_as_code.knowledge_index.embeddings import WordLlamaEmbedder

    keys = {hashlib.sha256(key.encode()).hexdigest()}
    bearer = HTTPBearer(auto_error=False)
    raw = RawRetrieval(db_path, WordLlamaEmbedder(), check_same_thread=False)
    app = FastAPI()

    def caller(credentials=Depends(bearer)) -> None:
        if (
            not credentials
            or hashlib.sha256(credentials.credentials.encode()).hexdigest() not in keys
        ):
            raise HTTPException(401)

    @app.post("/v1/inference/chat", dependencies=[Depends(caller)])
    async def chat(request: Request) -> Response:
        body = await request.json()
        question = body["messages"][-1]["content"]
        texts = raw(question)
        system = "You answer from the context.\n" + "\n\n".join(texts)
        messages = [{"role": "system", "content": system}, *body["messages"]]
        answer = {"data": {"message": messages[-1], "messages": messages, "retrieval": texts}}
        return Response(json.dumps(answer), media_type="application/json")

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    return app


def chat_with_documents(docs: int, requests: int) -> None:
    """Issue 21's chat row: our route against the bare one, alternating."""
    sys.path.insert(0, str(ROOT / "bench"))
    from knowledge_bench import generate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        (root / "personas").mkdir(parents=True)
        shutil.copy(ROOT / "personas.toml", root / "personas.toml")
        (root / "personas" / "bench-rag.yaml").write_text(PERSONA_1000)
        folder = root / "knowledge" / "col_bench"
        folder.mkdir(parents=True)
        for doc in generate(docs):
            (folder / Path(doc.path).name).write_text(doc.text)
        engine = make_engine(f"sqlite:///{tmp}/chat.db")
        bootstrap(engine, "acme")
        with Session(engine, expire_on_commit=False) as session:
            key = add_api_key(session, seed_starter(session, "acme"))
        catalogue = EmbeddedCatalogue(engine, "acme")
        repo = load_valid_repo(root)
        plan, ctx = compute_plan(repo, catalogue)
        assert apply_repo(repo, catalogue, plan, ctx).ok
        apps = {"ours": create_app(engine), "floor": bare_chat_app(f"{tmp}/chat.db", key)}
        body = {
            "model": "tenant/acme/bench-rag",
            "messages": [{"role": "user", "content": "How do I get a refund on my invoice?"}],
        }
        timings: dict[str, list[float]] = {name: [] for name in apps}
        with contextlib.ExitStack() as stack:
            clients = {
                name: stack.enter_context(
                    httpx.Client(
                        base_url=stack.enter_context(serve_in_thread(app)),
                        headers={"Authorization": f"Bearer {key}"},
                    )
                )
                for name, app in apps.items()
            }
            for round_ in range(requests + 20):
                for name, client in clients.items():
                    t0 = time.perf_counter()
                    resp = client.post("/v1/inference/chat", json=body)
                    elapsed = time.perf_counter() - t0
                    if resp.status_code != 200:
                        raise RuntimeError(f"{name}: {resp.status_code} {resp.text[:300]}")
                    if round_ >= 20:
                        timings[name].append(elapsed * 1000)
            chunks = len(
                clients["ours"].post("/v1/inference/chat", json=body).json()["data"]["retrieval"]
            )
        engine.dispose()
    ours, floor = timings["ours"], timings["floor"]
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        a, b = percentile(ours, q), percentile(floor, q)
        print(
            f"issue 21: POST /v1/inference/chat {name}, {docs} documents, mirror "
            f"({chunks} chunks): {a:.2f} ms; floor (bare route + raw retrieval) {b:.2f} ms; "
            f"{a / b:.2f}x (goal <= 1.5x)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="Requests per model.")
    parser.add_argument("--docs", type=int, default=1000, help="Documents of issue 21's row.")
    parser.add_argument("--only-issue21", action="store_true", help="Issue 21's row alone.")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # wordllama turns INFO on for all
    chat_with_documents(args.docs, args.requests)
    if args.only_issue21:
        return 0
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
                    if resp.status_code != 200:
                        raise RuntimeError(f"{name}: {resp.status_code} {resp.text[:300]}")
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
