"""Knowledge indexing and retrieval figures, SQLite and PostgreSQL.

    .venv/bin/python bench/knowledge_bench.py [--docs 1000] [--queries 200] [--pg-url URL]

* Indexing: ``--docs`` generated documents of about 2 KB each (sentences drawn from a
  fixed vocabulary, seeded), offline wordllama embeddings.  Printed: seconds,
  documents/s, and the floor measured in the same run -- the embedder alone on the
  same chunks.
* Incremental re-index with nothing changed (must embed nothing).
* Retrieval p50/p95 over the index for keyword, semantic and hybrid at top_k 5
  (goal: hybrid p95 <= 30 ms), each search type starting with empty caches (the
  vectors are loaded by one warm-up query; the per-word chunk counts are not warmed,
  so the first queries of each type pay for them).
* recall@1 / recall@3 on the labelled handbook set of the tests.

Issue 21's rows (SQLite), each beside a floor measured in the same run, A B A B:

* indexing ``--docs`` documents against the same chunks embedded with wordllama and
  inserted with bare ``sqlite3`` (a table and an FTS5 index of the texts, vectors as
  blobs) -- goal <= 1.3x;
* hybrid retrieval p50/p95 against the same retrieval done raw: one FTS5 ``bm25`` query,
  a numpy dot over the source's vectors (loaded once, like ours), reciprocal rank
  fusion and a read of the top texts -- goal <= 1.5x.

PostgreSQL runs in a throwaway schema on ``--pg-url`` (default
``PERSONAS_TEST_PG_URL`` or postgresql://postgres@127.0.0.1:5432/test) and is skipped
when unreachable.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personas_as_code.knowledge_index.chunking import chunk_text
from personas_as_code.knowledge_index.embeddings import WordLlamaEmbedder
from personas_as_code.knowledge_index.indexer import Document, SourceDocuments, index_sources
from personas_as_code.knowledge_index.retrieval import SourceRef, clear_caches, retrieve
from ruamel.yaml import YAML
from sqlalchemy import Engine, create_engine, text

PG_DEFAULT = os.environ.get(
    "PERSONAS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
).replace("postgresql://", "postgresql+psycopg://", 1)
LABELLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "knowledge" / "labelled"


def _words(text: str) -> list[str]:
    return text.split()


TOPICS = _words(
    "billing invoice refund payment plan subscription renewal card tax receipt "
    "storage quota upload file folder version trash export archive backup restore "
    "security password login sso badge token key encryption audit access role "
    "holiday leave salary pension expense travel hotel laptop vpn printer network "
    "meeting room calendar booking canteen lunch parking office desk chair monitor"
)
FILLER = _words("the a of to and in for with on is are be this that each every when after")


def generate(count: int, seed: int = 7) -> list[Document]:
    """``count`` documents of about 2 KB, deterministic."""
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        title = " ".join(rng.sample(TOPICS, 3))
        paragraphs = []
        size = 0
        while size < 2000:
            words = [rng.choice(TOPICS if rng.random() < 0.45 else FILLER) for _ in range(14)]
            sentence = " ".join(words).capitalize() + "."
            paragraphs.append(sentence)
            size += len(sentence) + 1
        body = f"# {title}\n\n" + "\n".join(
            " ".join(paragraphs[j : j + 4]) + "\n" for j in range(0, len(paragraphs), 4)
        )
        docs.append(
            Document(
                f"knowledge/col_bench/doc-{i:05d}.md",
                body,
                hashlib.sha256(body.encode()).hexdigest(),
            )
        )
    return docs


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def databases(pg_url: str) -> Iterator[tuple[str, Engine]]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/bench.db")
        yield "sqlite", engine
        engine.dispose()
    schema = f"kb_{secrets.token_hex(4)}"
    try:
        admin = create_engine(pg_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        print(f"postgresql: skipped ({str(exc).splitlines()[0]})")
        return
    sep = "&" if "?" in pg_url else "?"
    engine = create_engine(f"{pg_url}{sep}options={quote(f'-csearch_path={schema}')}")
    try:
        yield "postgresql", engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench_database(name: str, engine: Engine, docs: list[Document], queries: int) -> None:
    embedder = WordLlamaEmbedder()
    embedder.embed(["warm up the model"])
    source = SourceDocuments("collection", "col_bench", docs)
    chunks = [c for d in docs for c in chunk_text(d.text, source.chunking)]
    start = time.perf_counter()
    embedder.embed(chunks)
    floor = time.perf_counter() - start
    start = time.perf_counter()
    stats = index_sources(engine, "ten_bench", "bench/repo", [source], embedder)
    took = time.perf_counter() - start
    print(
        f"{name}: indexed {len(docs)} documents ({stats.chunks_embedded} chunks) in {took:.2f} s "
        f"= {len(docs) / took:.0f} documents/s; floor (embedder alone on the same chunks) "
        f"{floor:.2f} s = {len(docs) / floor:.0f} documents/s"
    )
    start = time.perf_counter()
    again = index_sources(engine, "ten_bench", "bench/repo", [source], embedder)
    print(
        f"{name}: re-index, nothing changed: {time.perf_counter() - start:.2f} s, "
        f"{again.documents_embedded} documents embedded"
    )
    rng = random.Random(11)
    questions = [" ".join(rng.sample(TOPICS, 3)) + "?" for _ in range(queries)]
    for search_type in ("keyword", "semantic", "hybrid"):
        ref = [SourceRef("collection", "col_bench", search_type=search_type)]
        # each search type starts cold: no word counts cached, vectors loaded once here
        clear_caches()
        retrieve(engine, "ten_bench", ref, "warm up", top_k=5)
        timings = []
        for q in questions:
            start = time.perf_counter()
            retrieve(engine, "ten_bench", ref, q, top_k=5)
            timings.append((time.perf_counter() - start) * 1000)
        print(
            f"{name}: retrieval {search_type:8} top_k 5: p50 {statistics.median(timings):.1f} ms, "
            f"p95 {percentile(timings, 95):.1f} ms over {len(questions)} queries"
        )


RAW_SCHEMA = """
CREATE TABLE chunks (id INTEGER PRIMARY KEY, doc TEXT, ordinal INTEGER, text TEXT,
                     embedding BLOB);
CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='id',
                                           tokenize='porter unicode61');
"""


def raw_index(path: Path, docs: list[Document], source: SourceDocuments, embedder) -> float:
    """The indexing floor: chunk, embed with wordllama, insert with bare sqlite3."""
    start = time.perf_counter()
    con = sqlite3.connect(path)
    con.executescript(RAW_SCHEMA)
    with con:
        for doc in docs:
            chunks = chunk_text(doc.text, source.chunking)
            vectors = embedder.embed(chunks)
            rows = [
                (doc.path, n, text_, vec.astype(np.float32).tobytes())
                for n, (text_, vec) in enumerate(zip(chunks, vectors, strict=True))
            ]
            con.executemany(
                "INSERT INTO chunks (doc, ordinal, text, embedding) VALUES (?, ?, ?, ?)", rows
            )
        con.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('rebuild')")
    con.close()
    return time.perf_counter() - start


class RawRetrieval:
    """The retrieval floor over the same index: FTS5 bm25, numpy dot, rank fusion."""

    def __init__(self, path: str, embedder, *, check_same_thread: bool = True) -> None:
        self.con = sqlite3.connect(path, check_same_thread=check_same_thread)
        self.embedder = embedder
        rows = self.con.execute(
            "SELECT id, embedding FROM knowledge_chunks WHERE source_id = 'col_bench' ORDER BY id"
        ).fetchall()
        self.ids = np.array([r[0] for r in rows])
        self.matrix = np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    def __call__(self, query: str, top_k: int = 5, depth: int = 20) -> list[str]:
        words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 2]
        keyword = [
            r[0]
            for r in self.con.execute(
                "SELECT rowid FROM knowledge_chunks_fts WHERE knowledge_chunks_fts MATCH ? "
                "ORDER BY bm25(knowledge_chunks_fts) LIMIT ?",
                (" OR ".join(f'"{w}"' for w in words), depth),
            )
        ]
        scores = self.matrix @ self.embedder.embed([query])[0]
        best = np.argpartition(-scores, depth)[:depth]
        semantic = [int(self.ids[i]) for i in best[np.argsort(-scores[best])]]
        fused: dict[int, float] = {}
        for ranked in (keyword, semantic):
            for rank, chunk in enumerate(ranked, start=1):
                fused[chunk] = fused.get(chunk, 0.0) + 1 / (60 + rank)
        top = sorted(fused, key=lambda c: -fused[c])[:top_k]
        marks = ",".join("?" * len(top))
        return [
            r[0]
            for r in self.con.execute(
                f"SELECT text FROM knowledge_chunks WHERE id IN ({marks})", top
            )
        ]


def issue21_rows(docs: list[Document], queries: int, rounds: int) -> None:
    """Indexing and hybrid retrieval against their floors, SQLite, A B A B."""
    embedder = WordLlamaEmbedder()
    embedder.embed(["warm up the model"])
    source = SourceDocuments("collection", "col_bench", docs)
    ours_t, floor_t, ours_cpu, floor_cpu = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            engine = create_engine(f"sqlite:///{tmp}/ours-{n}.db")
            start, cpu = time.perf_counter(), time.process_time()
            index_sources(engine, "ten_bench", "bench/repo", [source], embedder)
            ours_t.append(time.perf_counter() - start)
            ours_cpu.append(time.process_time() - cpu)
            engine.dispose()
            cpu = time.process_time()
            floor_t.append(raw_index(Path(tmp) / f"raw-{n}.db", docs, source, embedder))
            floor_cpu.append(time.process_time() - cpu)
        size = sum(len(d.text.encode()) for d in docs) / 1e6
        ratio = statistics.median(o / f for o, f in zip(ours_t, floor_t, strict=True))
        cpu_ratio = statistics.median(o / f for o, f in zip(ours_cpu, floor_cpu, strict=True))
        print(
            f"issue 21: indexing {len(docs)} documents ({size:.1f} MB): "
            f"{statistics.median(ours_t):.2f} s wall, {statistics.median(ours_cpu):.2f} s CPU; "
            f"floor (wordllama + sqlite3 insert) {statistics.median(floor_t):.2f} s wall, "
            f"{statistics.median(floor_cpu):.2f} s CPU; {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
            "(goal <= 1.3x)"
        )
        engine = create_engine(f"sqlite:///{tmp}/ours-0.db")
        raw = RawRetrieval(f"{tmp}/ours-0.db", embedder)
        ref = [SourceRef("collection", "col_bench", search_type="hybrid")]
        rng = random.Random(11)
        questions = [" ".join(rng.sample(TOPICS, 3)) + "?" for _ in range(queries)]
        retrieve(engine, "ten_bench", ref, "warm up", top_k=5)
        for q in questions[:20]:  # the word counts cached, as a serving process has them
            retrieve(engine, "ten_bench", ref, q, top_k=5)
        mine, floor = [], []
        for q in questions:  # A B per query
            start = time.perf_counter()
            retrieve(engine, "ten_bench", ref, q, top_k=5)
            mine.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            raw(q)
            floor.append((time.perf_counter() - start) * 1000)
        engine.dispose()
        raw.con.close()
    for name, pct in (("p50", 50), ("p95", 95)):
        a, b = percentile(mine, pct), percentile(floor, pct)
        print(
            f"issue 21: hybrid retrieval {name} {a:.2f} ms; floor (FTS5 bm25 + numpy dot + "
            f"rank fusion, raw) {b:.2f} ms; {a / b:.2f}x (goal <= 1.5x)"
        )


def recall() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/recall.db")
        docs = []
        for path in sorted((LABELLED / "col_handbook").glob("*.md")):
            data = path.read_bytes()
            docs.append(
                Document(
                    f"knowledge/col_handbook/{path.name}",
                    data.decode(),
                    hashlib.sha256(data).hexdigest(),
                )
            )
        source = SourceDocuments("collection", "col_handbook", docs)
        index_sources(engine, "t", "r", [source], WordLlamaEmbedder())
        rows = YAML(typ="safe").load((LABELLED / "questions.yaml").read_text())
        for search_type in ("keyword", "semantic", "hybrid"):
            ref = [SourceRef("collection", "col_handbook", search_type=search_type)]
            figures = []
            for k in (1, 3):
                hits = sum(
                    f"knowledge/col_handbook/{row['doc']}"
                    in [c.document for c in retrieve(engine, "t", ref, row["q"], top_k=k).chunks]
                    for row in rows
                )
                figures.append(f"recall@{k} {hits / len(rows):.2f}")
            print(
                f"labelled set ({len(rows)} questions, {len(docs)} documents) {search_type:8}: "
                + ", ".join(figures)
            )
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--pg-url", default=PG_DEFAULT)
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds of indexing")
    parser.add_argument("--only-issue21", action="store_true", help="issue 21's rows alone")
    args = parser.parse_args()
    docs = generate(args.docs)
    print(
        f"{len(docs)} documents, {sum(len(d.text) for d in docs) / len(docs):.0f} bytes on average"
    )
    issue21_rows(docs, args.queries, args.rounds)
    if args.only_issue21:
        return 0
    for name, engine in databases(args.pg_url):
        bench_database(name, engine, docs, args.queries)
    recall()
    return 0


if __name__ == "__main__":
    sys.exit(main())
