"""Benchmark resources/list paging, completion and prompts/get over a generated repo.

    .venv/bin/python bench/mcp_protocol_bench.py [--personas 10000] [--rounds 100]

Every figure is a round trip through the real in-process ``mcp.Client``.  The
floor, measured in the same run, is ``resources/templates/list``: a request the
SDK answers from a static list, so it is the protocol's own cost with no repo
work.  Ratios are p50 against the floor's p50.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference
from mcp_bench import generate, pct
from personas_as_code.mcp_server import build_server


async def timed(call: Callable[[int], Awaitable[object]], rounds: int) -> list[float]:
    """Milliseconds per ``await call(i)`` for ``rounds`` calls."""
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        await call(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


async def run(root: Path, count: int, rounds: int) -> None:
    prompt_ref = PromptReference(type="ref/prompt", name="review_persona_prompt")
    template_ref = ResourceTemplateReference(type="ref/resource", uri="persona://{slug}")
    async with Client(build_server(root)) as c:
        start = time.perf_counter()
        await c.list_resources(cache_mode="bypass")
        print(
            f"first resources/list (loads the repo): {(time.perf_counter() - start) * 1000:.0f} ms"
        )

        async def all_pages(_: int) -> None:
            cursor, seen = None, 0
            while True:
                page = await c.list_resources(cursor=cursor, cache_mode="bypass")
                seen += len(page.resources)
                cursor = page.next_cursor
                if not cursor:
                    break
            assert seen >= count, seen

        cases: dict[str, Callable[[int], Awaitable[object]]] = {
            "floor: resources/templates/list": lambda i: c.list_resource_templates(
                cache_mode="bypass"
            ),
            "resources/list first page": lambda i: c.list_resources(cache_mode="bypass"),
            "complete slug 'p-0' (prompt)": lambda i: c.complete(
                prompt_ref, {"name": "slug", "value": "p-0"}
            ),
            "complete slug 'p-0123' (template)": lambda i: c.complete(
                template_ref, {"name": "slug", "value": f"p-{i % 100:02d}"}
            ),
            "prompts/get review_persona_prompt": lambda i: c.get_prompt(
                "review_persona_prompt", {"slug": f"p-{i % count:05d}"}
            ),
        }
        results = {name: await timed(call, rounds) for name, call in cases.items()}
        floor = statistics.median(results["floor: resources/templates/list"])
        print(f"{'case':40} {'p50 ms':>8} {'p95 ms':>8} {'x floor':>8}")
        for name, times in results.items():
            p50 = statistics.median(times)
            print(f"{name:40} {p50:8.2f} {pct(times, 95):8.2f} {p50 / floor:8.1f}")
        paging = await timed(all_pages, max(3, rounds // 20))
        pages = -(-count // 200)
        p50 = statistics.median(paging)
        print(
            f"{'resources/list, all ' + str(pages) + ' pages':40} {p50:8.1f} "
            f"{pct(paging, 95):8.1f} {p50 / floor:8.1f}  ({p50 / pages:.2f} ms/page)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--personas", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        start = time.perf_counter()
        generate(root, args.personas)
        print(f"generated {args.personas} personas in {time.perf_counter() - start:.1f} s")
        anyio.run(run, root, args.personas, args.rounds)


if __name__ == "__main__":
    main()
