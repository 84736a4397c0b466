"""Benchmark the MCP server's hot paths over a generated 2,000-persona git repo.

    .venv/bin/python bench/mcp_bench.py [--personas 2000] [--rounds 200]
        [--only inproc|cold|stdio ...] [--repo /tmp/mcp10k]

Prints p50/p95 of search (goal p95 <= 20 ms, in-process and over stdio from the
official MCP client, beside the raw FTS5 query of the same mix on the same texts
via sqlite3 and, over stdio, beside a bare SDK server answering the same pages under
the same output schema, call for call interleaved), the cold first MCP request over
stdio with no parse cache (goal <= 1.5x its floor, ``import mcp`` + a PyYAML
CSafeLoader parse of the same files in a fresh interpreter, run A B interleaved),
preview (goal p95 <= 50 ms) and draft patch (goal p95 <= 150 ms at 10,000 personas),
with the baselines
measured in the same run: a plain ``loader.repo.load_repo`` of the same repo
(what every request would pay without the cached index), and for draft patches the
floor of one git commit of one changed file (hash-object + commit-tree + update-ref
via subprocess), printed as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp import Client, StdioServerParameters
from personas_as_code.application.models import HistoryMessage, SearchFilters
from personas_as_code.application.preview import PreviewRequest
from personas_as_code.application.service import PersonaService
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.loader.parse_cache import CACHE_FILE
from personas_as_code.loader.repo import Repo, load_repo

MODELS = [
    "scaigrid/gpt-4o",
    "scaigrid/gpt-4o-mini",
    "scaigrid/claude-sonnet-4",
    "scaigrid/llama-3.1-8b",
]
WORDS = [
    "invoice",
    "refund",
    "contract",
    "onboarding",
    "laptop",
    "policy",
    "travel",
    "expense",
    "sql",
    "report",
    "legal",
]
TEMPLATE = """\
# yaml-language-server: $schema=../schemas/persona.schema.json
name: Persona {i} {w1}
model: {model}
description: Helps with {w1} and {w2} questions for team {team}.
status: {status}
system_prompt: |
  You are persona {i}. You help colleagues with {w1}, {w2} and {w3}.
  Answer from the context; if unsure, say so and suggest who to ask.
  Keep answers short and cite the document title.
publish:
  enabled: {published}
  groups: [mg_{team}]
rag:
  enabled: {rag}
  top_k: {top_k}
  context_template: "Context:\\n$context"
sources:
  - type: collection
    id: col_{w1}_{team}
    name: {w1} docs
    weight: 1.5
  - type: scaidrive
    id: shr_{w2}
    name: {w2} share
    status: {source_status}
default_params: {{temperature: 0.3, max_tokens: 800}}
metadata: {{team: t{team}}}
"""


def generate(root: Path, count: int) -> None:
    """Write ``count`` personas and commit them."""
    rng = random.Random(42)
    (root / "personas").mkdir(parents=True)
    (root / "personas.toml").write_text('[repo]\nid = "bench/personas"\n')
    for i in range(count):
        w1, w2, w3 = rng.sample(WORDS, 3)
        (root / f"personas/p-{i:05d}.yaml").write_text(
            TEMPLATE.format(
                i=i,
                w1=w1,
                w2=w2,
                w3=w3,
                model=rng.choice(MODELS),
                team=rng.randrange(20),
                status=rng.choice(["draft", "active", "active", "archived"]),
                published=str(rng.random() < 0.5).lower(),
                rag=str(rng.random() < 0.7).lower(),
                top_k=rng.randrange(1, 20),
                source_status=rng.choice(["active", "disabled"]),
            )
        )
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "bench"],
        ["config", "user.email", "bench@example.com"],
        ["add", "-A"],
        ["commit", "-q", "-m", "bench personas"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True)


def git_commit_floor(root: Path, path: str, i: int) -> None:
    """The least git work one changed file costs: store the blob, commit the base tree
    on the previous floor commit, move a ref (three git processes, no tree rewrite)."""

    def git(*args: str, data: bytes | None = None) -> str:
        out = subprocess.run(["git", *args], cwd=root, input=data, capture_output=True, check=True)
        return out.stdout.decode().strip()

    content = (root / path).read_bytes() + f"# floor {i}\n".encode()
    git("hash-object", "-w", "--stdin", data=content)
    parent = git("rev-parse", "refs/heads/bench-floor") if i else git("rev-parse", "HEAD")
    commit = git("commit-tree", "HEAD^{tree}", "-p", parent, "-m", f"floor {i}")
    git("update-ref", "refs/heads/bench-floor", commit)


SEARCH_QUERIES = ["", "refund", "legal contract", "persona 1", "nothing-matches", "sql report"]
SEARCH_FILTERS = [
    SearchFilters(),
    SearchFilters(status="active"),
    SearchFilters(rag=True, published=True),
    SearchFilters(source_type="scaidrive", model="scaigrid/gpt-4o"),
]


def fts_floor(repo: Repo) -> tuple[Callable[[int], object], Callable[[int], object]]:
    """The raw FTS5 (trigram) lookups of ``SEARCH_QUERIES`` over the same five texts:
    matching row ids, and the bm25-ranked first page (a reference, not our ranking)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(n, s, d, src, p, tokenize='trigram')")
    db.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
        (
            (
                p.spec.name,
                p.slug,
                p.spec.description or "",
                "\n".join(f"{s.type}:{s.id} {s.name or ''}" for s in p.spec.sources),
                p.system_prompt,
            )
            for p in repo.personas.values()
        ),
    )
    matches = [
        " ".join('"' + w.replace('"', '""') + '"' for w in q.lower().split() if len(w) >= 3)
        for q in SEARCH_QUERIES
    ]

    def rows(i: int) -> object:
        match = matches[i % len(matches)]
        if not match:
            return db.execute("SELECT rowid FROM t").fetchall()
        return db.execute("SELECT rowid FROM t WHERE t MATCH ?", (match,)).fetchall()

    def ranked(i: int) -> object:
        match = matches[i % len(matches)]
        if not match:
            return db.execute("SELECT rowid FROM t LIMIT 20").fetchall()
        sql = "SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t, 5, 5, 3, 2, 1) LIMIT 20"
        return db.execute(sql, (match,)).fetchall()

    return rows, ranked


def stdio_session(root: Path, rounds: int = 0) -> tuple[float, list[float]]:
    """Milliseconds from starting ``personas mcp`` (stdio) to its first search answer,
    then the round trip of ``rounds`` searches of the query mix over the same stdio."""
    personas = str(Path(sys.executable).with_name("personas"))
    params = StdioServerParameters(command=personas, args=["mcp", "--repo", str(root)])

    async def session() -> tuple[float, list[float]]:
        start = time.perf_counter()
        async with Client(params) as client:
            result = await client.call_tool("search_personas", {"query": "refund"})
            elapsed = (time.perf_counter() - start) * 1000
            assert not result.is_error, result.content
            times = []
            for i in range(rounds):
                start = time.perf_counter()
                result = await client.call_tool(
                    "search_personas", {"query": SEARCH_QUERIES[i % len(SEARCH_QUERIES)]}
                )
                times.append((time.perf_counter() - start) * 1000)
                assert not result.is_error, result.content
        return elapsed, times

    return asyncio.run(session())


FLOOR_SERVER = """
import json, sys
from typing import Any
from mcp.server.mcpserver import MCPServer
pages = json.load(open(sys.argv[1]))
server = MCPServer("floor")

@server.tool()
def search_personas(query: str = "") -> dict[str, Any]:
    return pages[query]

server._tool_manager.get_tool("search_personas").fn_metadata.output_schema = json.load(
    open(sys.argv[2])
)
server.run("stdio")
"""


def stdio_search(root: Path, rounds: int) -> tuple[list[float], list[float]]:
    """Round trips of the search mix over stdio from the official client: ``personas
    mcp`` and, call for call interleaved, its floor: a bare SDK server (``MCPServer``)
    answering canned copies of the same pages under the same published output schema
    (so the client parses and validates the same bytes)."""
    personas = str(Path(sys.executable).with_name("personas"))
    ours = StdioServerParameters(command=personas, args=["mcp", "--repo", str(root)])

    async def session(tmp: Path) -> tuple[list[float], list[float]]:
        async with Client(ours) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            pages = {}
            for query in SEARCH_QUERIES:
                result = await client.call_tool("search_personas", {"query": query})
                pages[query] = result.structured_content
            (tmp / "pages.json").write_text(json.dumps(pages))
            schema = tools["search_personas"].output_schema
            (tmp / "schema.json").write_text(json.dumps(schema))
            (tmp / "floor.py").write_text(FLOOR_SERVER)
            args = [str(tmp / n) for n in ("floor.py", "pages.json", "schema.json")]
            floor_params = StdioServerParameters(command=sys.executable, args=args)
            async with Client(floor_params) as floor:
                times: tuple[list[float], list[float]] = ([], [])
                for i in range(rounds + 2 * len(SEARCH_QUERIES)):  # the first two mixes warm
                    arguments = {"query": SEARCH_QUERIES[i % len(SEARCH_QUERIES)]}
                    for side, target in enumerate((client, floor)):
                        start = time.perf_counter()
                        result = await target.call_tool("search_personas", arguments)
                        if i >= 2 * len(SEARCH_QUERIES):
                            times[side].append((time.perf_counter() - start) * 1000)
                        assert not result.is_error, result.content
                        assert result.structured_content == pages[arguments["query"]]
        return times

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(session(Path(tmp)))


def cold_first_request(root: Path) -> float:
    """Milliseconds from starting ``personas mcp`` (stdio) to its first search answer."""
    return stdio_session(root)[0]


COLD_FLOOR = """
import glob, mcp, yaml
for path in glob.glob("personas/*.yaml"):
    with open(path, "rb") as f:
        yaml.load(f, Loader=yaml.CSafeLoader)
"""


def cold_floor(root: Path) -> float:
    """Milliseconds of a fresh interpreter importing mcp and parsing the persona files
    with PyYAML's C loader: what any server answering from these files pays."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", COLD_FLOOR], cwd=root, check=True)
    return (time.perf_counter() - start) * 1000


def measure(fn: Callable[[int], object], rounds: int) -> list[float]:
    """Milliseconds per call of ``fn(i)`` for ``rounds`` calls."""
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


PARTS = ("inproc", "cold", "stdio")


def in_process(root: Path, args: argparse.Namespace) -> None:
    """Search, preview and draft patches in-process, beside load_repo, raw FTS5 and git."""
    start = time.perf_counter()
    baseline = load_repo(root)
    baseline_ms = (time.perf_counter() - start) * 1000
    assert len(baseline.personas) == args.personas, baseline.problems[:3]

    service = PersonaService(root)
    start = time.perf_counter()
    service.snapshot()
    cold_ms = (time.perf_counter() - start) * 1000
    service.snapshot()  # settles the fingerprint

    queries = SEARCH_QUERIES
    start = time.perf_counter()
    service.search("refund")  # the first search builds the snapshot's bitsets
    index_build_ms = (time.perf_counter() - start) * 1000
    filters = SEARCH_FILTERS
    search = measure(
        lambda i: service.search(queries[i % len(queries)], filters[i % len(filters)]),
        args.rounds,
    )
    fts_rows, fts_ranked = fts_floor(baseline)
    search_floor = measure(fts_rows, args.rounds)
    search_bm25 = measure(fts_ranked, args.rounds)
    history = [HistoryMessage(role="user", content="How do I file an expense? " * 20)] * 6
    slugs = list(baseline.personas)
    preview = measure(
        lambda i: service.preview(
            slugs[i % len(slugs)],
            None,
            PreviewRequest(history=history, trigger_text="And the refund policy?"),
        ),
        args.rounds,
    )
    index = service.index
    refresh = measure(lambda i: index.fingerprint("personas", ()), args.rounds)

    created = service.patch_draft(slugs[0], PatchSpec(set={"description": "first"}))
    draft_id = created.draft.draft_id

    def patch(i: int) -> None:
        service.patch_draft(
            slugs[0],
            PatchSpec(merge={"rag": {"top_k": 1 + i % 40}}, set={"description": f"v{i}"}),
            draft_id=draft_id,
            expected_version=i + 1,
        )

    patches = measure(patch, args.patches)
    new_drafts = measure(
        lambda i: service.patch_draft(slugs[1 + i], PatchSpec(set={"status": "archived"})),
        args.patches,
    )
    first_file = f"personas/{slugs[0]}.yaml"
    floor = measure(lambda i: git_commit_floor(root, first_file, i), args.patches)

    rows = [
        ("baseline: load_repo (uncached, per request)", [baseline_ms], None),
        ("index cold load", [cold_ms], None),
        ("stat fingerprint (at most every 0.5 s)", refresh, None),
        ("search_personas", search, 20.0),
        ("preview_persona", preview, 50.0),
        ("floor: git hash-object + commit-tree + update-ref", floor, None),
        ("patch_persona_draft (existing draft)", patches, 150.0),
        ("patch_persona_draft (new draft)", new_drafts, 150.0),
    ]
    print_table(rows, args, statistics.median(floor))
    print_beside(
        [
            ("search postings build (first search)", [index_build_ms], None, None),
            ("floor: raw FTS5 MATCH, same query mix", search_floor, None, None),
            ("reference: FTS5 bm25 ORDER BY ... LIMIT 20", search_bm25, None, search_floor),
            ("search_personas (in-process)", search, 20.0, search_floor),
        ]
    )


def print_table(
    rows: list[tuple[str, list[float], float | None]], args: argparse.Namespace, floor_p50: float
) -> None:
    """Rows of p50/p95 with their goal; draft patches also as a ratio to the git floor."""
    print(f"\n{args.personas} personas, {args.rounds} rounds (ms)\n")
    print(f"{'operation':46} {'n':>5} {'p50':>9} {'p95':>9} {'goal p95':>9}  ok")
    for name, values, goal in rows:
        p50, p95 = statistics.median(values), pct(values, 0.95)
        ok = "" if goal is None else ("yes" if p95 <= goal else "NO")
        goal_text = "" if goal is None else f"{goal:.0f}"
        ratio = f"  {p50 / floor_p50:.1f}x floor" if name.startswith("patch_") else ""
        print(f"{name:46} {len(values):>5} {p50:>9.2f} {p95:>9.2f} {goal_text:>9}  {ok}{ratio}")


def cold(root: Path, args: argparse.Namespace) -> None:
    """The first request of a fresh server without, then with, the parse cache, A B
    interleaved with its floor."""
    (root / ".personas").mkdir(exist_ok=True)  # as after any plan: the cache is kept
    cache = root / CACHE_FILE
    first_request, cold_floors, restarted = [], [], []
    for _ in range(args.cold_runs):  # A B A B: the floor, then the server without cache
        cold_floors.append(cold_floor(root))
        cache.unlink(missing_ok=True)
        first_request.append(cold_first_request(root))
    for _ in range(args.cold_runs):  # from the parse cache the last one saved
        restarted.append(cold_first_request(root))
    print_beside(
        [
            ("floor: python -c 'import mcp' + CSafeLoader parse", cold_floors, None, None),
            ("cold first request: personas mcp (stdio)", first_request, None, cold_floors),
            ("...restarted (parse cache in .personas/)", restarted, None, cold_floors),
        ]
    )
    pairs = [a / b for a, b in zip(first_request, cold_floors, strict=True)]
    print(
        f"\ncold first request, no parse cache: median of {len(pairs)} A B pair ratios "
        f"{statistics.median(pairs):.2f}x its floor (goal <= 1.5x); "
        + ", ".join(f"{r:.2f}" for r in pairs)
    )


def stdio(root: Path, args: argparse.Namespace) -> None:
    """Search over stdio beside the bare SDK server, call for call interleaved."""
    stdio_times, stdio_floor = stdio_search(root, args.rounds)
    print_beside(
        [
            ("floor: bare MCPServer, same pages, stdio", stdio_floor, None, None),
            ("search_personas over stdio (MCP client)", stdio_times, 20.0, stdio_floor),
        ]
    )
    for name, values in (("floor", stdio_floor), ("ours", stdio_times)):
        marks = ", ".join(f"p{q}={pct(values, q / 100):.1f}" for q in (10, 25, 50, 75, 90, 95, 99))
        print(f"  {name:5} {marks}, max={max(values):.1f}")


def print_beside(rows: list[tuple[str, list[float], float | None, list[float] | None]]) -> None:
    """Rows of p50/p95 with the goal and the ratios to a floor measured in the same run."""
    print(f"\n{'beside its floor (same run, ms)':46} {'p50':>9} {'p95':>9} {'goal':>7}  ratio")
    for name, values, goal, base in rows:
        p50, p95 = statistics.median(values), pct(values, 0.95)
        ok = "" if goal is None else (" yes" if p95 <= goal else " NO")
        goal_text = "" if goal is None else f"{goal:.0f}"
        ratio = ""
        if base is not None:
            ratio = f"  {p50 / statistics.median(base):.1f}x / {p95 / pct(base, 0.95):.1f}x"
        print(f"{name:46} {p50:>9.2f} {p95:>9.2f} {goal_text:>7}{ok}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--personas", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--patches", type=int, default=30)
    parser.add_argument("--cold-runs", type=int, default=3, help="A B pairs of the cold start")
    parser.add_argument(
        "--only", choices=PARTS, action="append", help="run only these parts (repeatable)"
    )
    parser.add_argument(
        "--repo",
        type=Path,
        help="generate the repo here once and reuse it on later runs (default: a temp dir); "
        "the in-process part leaves draft branches in it",
    )
    args = parser.parse_args()
    parts = {"inproc": in_process, "cold": cold, "stdio": stdio}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.repo or Path(tmp) / "repo"
        if not (root / ".git").is_dir():
            generate(root, args.personas)
        for name in args.only or PARTS:
            parts[name](root, args)


if __name__ == "__main__":
    main()
