"""Knowledge for the tree under test: what ``personas test`` costs on a fresh clone, after
``apply``, and for the baseline side of a comparison (issue 17).

    .venv/bin/python bench/tree_knowledge_bench.py [--docs 1000] [--runs 3]

A generated persona repo (git, one committed history): one persona whose RAG reads the
``col_bench`` knowledge folder of ``--docs`` documents of about 2 KB, four cases that
cite it.  A second commit changes 5 % of the documents.  Every figure is a whole
``personas`` process run as CI runs it (a new process, JSON report to a file), the
median of ``--runs``; each cold run gets its own fresh ``git clone`` (no ``.personas``).

* **cold**: ``personas test`` on a fresh clone: the content store and the tree's index
  are built (every document chunked and embedded) before the cases run.
* **warm**: the same command again in that clone: the tree's index is reused.
* **after apply**: a fresh clone, ``personas apply --auto-approve`` (not timed), then
  ``personas test`` -- apply filled the shared store, so the test embeds nothing.
* **baseline side**: in a warm clone, ``personas test --baseline HEAD~1``; the baseline's
  cost is that run less the warm run (it embeds only the 5 % that differ).  Goal: at
  most 10 % of the cold build (cold less warm).
* **floor** of the cold build, not this project's code: a bare Python process that
  reads the same documents, cuts them into paragraphs, embeds them with the same
  wordllama model and inserts them into a SQLite FTS5 table.

The JSON reports of the cold, warm and after-apply runs must be identical (latency
and the knowledge account aside): the script says so or prints the first difference.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from knowledge_bench import generate  # noqa: E402

BIN = Path(sys.executable).parent
PERSONAS = str(BIN / "personas")
CHANGED_SHARE = 0.05
GOAL_BASELINE_SHARE = 0.10

CONFIG = """\
[repo]
id = "bench/knowledge"
tenant = "bench"
personas_dir = "personas"

[catalogue]
database = "sqlite:///.personas/catalogue.db"
"""

PERSONA = """\
name: KB Agent
model: scaigrid/gpt-4o
description: Answers from the bench knowledge.
status: active
system_prompt: You answer from the provided context only.
rag:
  enabled: true
  top_k: 5
  min_score: 0.2
sources:
  - type: collection
    id: col_bench
    name: Bench docs
"""

CASES = """\
cases:
  - name: refunds
    message: "How do I get a refund for my invoice payment?"
    assert: [{cites: col_bench}]
  - name: storage
    message: "What is the storage quota for uploads and backups?"
    assert: [{cites: col_bench}]
  - name: travel
    message: "Which hotel and travel expenses are covered?"
    assert: [{cites: col_bench}]
  - name: security
    message: "How do SSO login and badge access work?"
    assert: [{cites: col_bench}]
"""

FLOOR = r"""
import sqlite3, sys
from pathlib import Path
from wordllama import WordLlama
docs = sorted(Path(sys.argv[1]).glob("*.md"))
chunks = []
for path in docs:
    block = []
    for para in path.read_text().split("\n\n"):
        block.append(para)
        if sum(map(len, block)) > 1000:
            chunks.append("\n\n".join(block)); block = []
    if block:
        chunks.append("\n\n".join(block))
model = WordLlama.load()
vectors = model.embed(chunks, norm=True)
db = sqlite3.connect(sys.argv[2])
db.execute("CREATE VIRTUAL TABLE fts USING fts5(text, tokenize='porter unicode61')")
db.execute("CREATE TABLE vec (id INTEGER PRIMARY KEY, v BLOB)")
with db:
    db.executemany("INSERT INTO fts(rowid, text) VALUES (?, ?)", enumerate(chunks))
    rows = ((i, v.tobytes()) for i, v in enumerate(vectors))
    db.executemany("INSERT INTO vec VALUES (?, ?)", rows)
print(len(chunks))
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_origin(base: Path, count: int) -> Path:
    """The origin repo: commit 1 with ``count`` documents, commit 2 changing 5 % of them."""
    origin = base / "origin"
    (origin / "personas").mkdir(parents=True)
    folder = origin / "knowledge" / "col_bench"
    folder.mkdir(parents=True)
    (origin / "personas.toml").write_text(CONFIG)
    (origin / ".gitignore").write_text(".personas/\n")
    (origin / "personas" / "kb-agent.yaml").write_text(PERSONA)
    (origin / "personas" / "kb-agent.tests.yaml").write_text(CASES)
    docs = generate(count)
    for doc in docs:
        (origin / doc.path).write_text(doc.text)
    git(origin, "init", "-q", "-b", "main")
    git(origin, "-c", "user.name=b", "-c", "user.email=b@x", "add", "-A")
    git(origin, "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "base")
    rng = random.Random(11)
    for doc in rng.sample(docs, max(1, round(count * CHANGED_SHARE))):
        (origin / doc.path).write_text(doc.text + "\nRevised: refunds now take 14 days.\n")
    git(origin, "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qam", "edit 5 %")
    return origin


def clone(origin: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True)
    return where


def timed(cmd: list[str], cwd: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one process, its stdout to ``out``."""
    before = os.times()
    started = time.perf_counter()
    with out.open("wb") as sink:
        code = subprocess.run(cmd, cwd=cwd, stdout=sink, stderr=subprocess.PIPE).returncode
    wall = time.perf_counter() - started
    after = os.times()
    if code not in (0, 1):  # 1: a case failed, which is still a report
        raise SystemExit(f"{' '.join(cmd)} exited {code}")
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def comparable(report_file: Path) -> dict:
    """The report without what may differ between equal runs (latency, knowledge account)."""
    data = json.loads(report_file.read_text())
    data.pop("notes", None)
    for result in data.get("results", []):
        result.pop("latency_ms", None)
    return data


def median(values: list[float]) -> float:
    return statistics.median(values)


def row(label: str, walls: list[float], cpus: list[float], extra: str = "") -> None:
    print(f"{label:<46} wall {median(walls):7.2f} s   cpu {median(cpus):7.2f} s  {extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    test = [PERSONAS, "test", "--format", "json"]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        origin = make_origin(base, args.docs)
        print(
            f"{args.docs} documents, {round(args.docs * CHANGED_SHARE)} changed in HEAD; "
            f"medians of {args.runs} runs, each a new process"
        )
        # the floor first, so the page cache holds wordllama for everyone
        floor_walls, floor_cpus = [], []
        for n in range(args.runs):
            db = base / f"floor{n}.db"
            wall, cpu = timed(
                [sys.executable, "-c", FLOOR, str(origin / "knowledge" / "col_bench"), str(db)],
                base,
                base / "floor.out",
            )
            floor_walls.append(wall)
            floor_cpus.append(cpu)
        cold, warm, applied, baseline = ([], []), ([], []), ([], []), ([], [])
        reports: dict[str, Path] = {}
        for n in range(args.runs):
            fresh = clone(origin, base / f"cold{n}")
            for bucket, name in ((cold, "cold"), (warm, "warm")):
                out = base / f"{name}{n}.json"
                wall, cpu = timed(test, fresh, out)
                bucket[0].append(wall)
                bucket[1].append(cpu)
                reports[name] = out
            out = base / f"baseline{n}.json"
            wall, cpu = timed([*test, "--baseline", "HEAD~1"], fresh, out)
            baseline[0].append(wall)
            baseline[1].append(cpu)
            shutil.rmtree(fresh)
            fresh = clone(origin, base / f"applied{n}")
            subprocess.run(
                [PERSONAS, "apply", "--auto-approve"], cwd=fresh, check=True, capture_output=True
            )
            out = base / f"applied{n}.json"
            wall, cpu = timed(test, fresh, out)
            applied[0].append(wall)
            applied[1].append(cpu)
            reports["after apply"] = out
            shutil.rmtree(fresh)
        row("floor: bare wordllama embed + FTS5 insert", floor_walls, floor_cpus)
        row("personas test, fresh clone (cold)", *cold)
        row("personas test, second run (warm)", *warm)
        row("personas test, fresh clone after apply", *applied)
        row("personas test --baseline HEAD~1 (warm)", *baseline)
        build = median(cold[0]) - median(warm[0])
        base_side = median(baseline[0]) - median(warm[0])
        print(
            f"cold build (cold - warm): {build:.2f} s, {build / median(floor_walls):.2f}x the floor"
        )
        share = base_side / build if build > 0 else float("nan")
        verdict = "met" if share <= GOAL_BASELINE_SHARE else "NOT met"
        print(
            f"baseline side (baseline - warm): {base_side:.2f} s = {share:.1%} of the cold build "
            f"(goal <= {GOAL_BASELINE_SHARE:.0%}: {verdict})"
        )
        ratio = median(warm[0]) / median(applied[0])
        verdict = "met" if ratio <= 1.0 else "NOT met"
        print(
            f"second run on a fresh clone vs after apply: {ratio:.2f}x "
            f"(goal <= 1.00x, as fast as after apply: {verdict})"
        )
        first = comparable(reports["cold"])
        same = all(comparable(reports[k]) == first for k in ("warm", "after apply"))
        print(f"reports identical (cold, warm, after apply): {'yes' if same else 'NO'}")
        if not same:
            for key in ("warm", "after apply"):
                other = comparable(reports[key])
                if other != first:
                    print(f"  {key} differs: {json.dumps(other)[:400]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
