"""CLI start-up: ``personas --help`` and ``personas validate`` on a 10-persona repo.

    .venv/bin/python bench/cli_bench.py [--runs 5]

Each command runs as a user runs it (the ``personas`` console script, a new process,
stdout to a file), ``--runs`` times; the figure is the median wall time.  Beside them,
measured in the same run, the floors: ``python -c pass`` (the interpreter) and
``python -c "import typer"`` (the CLI framework alone).  The goal (issue 13) is
0.25 s for each command.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 0.25
PERSONAS = 10

PERSONA = """\
name: Helper {n}
slug: helper-{n}
model: scaigrid/gpt-4o
description: Answers questions about topic {n} for the support team.
status: active
system_prompt: >
  You are helper {n}. Answer questions about topic {n} briefly and precisely.
  Say so when you do not know; never invent policy.
publish:
  enabled: true
  groups: [mg_internal_chat]
default_params: {{temperature: 0.2, max_tokens: 1500}}
metadata: {{team: support, index: {n}}}
"""


def make_repo(root: Path) -> Path:
    """A persona repo with ``PERSONAS`` valid personas."""
    (root / "personas").mkdir(parents=True)
    (root / "personas.toml").write_text('[repo]\nid = "bench/cli"\ntenant = "acme"\n')
    for n in range(PERSONAS):
        (root / "personas" / f"helper-{n}.yaml").write_text(PERSONA.format(n=n))
    return root


def personas_command() -> list[str]:
    """The console script when installed beside this interpreter, else ``-m``."""
    script = Path(sys.executable).parent / "personas"
    return [str(script)] if script.exists() else [sys.executable, "-m", "personas_as_code.cli.main"]


def median_wall(command: list[str], cwd: Path, runs: int, out: Path) -> float:
    """Median wall seconds of ``command`` (stdout to a file); it must exit 0."""
    times = []
    for _ in range(runs):
        with out.open("wb") as sink:
            start = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, stdout=sink, stderr=subprocess.PIPE)
            times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{command} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo")
        out = Path(tmp) / "stdout.txt"
        personas = personas_command()
        python_pass = median_wall([sys.executable, "-c", "pass"], repo, args.runs, out)
        typer_floor = median_wall([sys.executable, "-c", "import typer"], repo, args.runs, out)
        rows = [
            ("personas --help", median_wall([*personas, "--help"], repo, args.runs, out)),
            (
                f"personas validate ({PERSONAS} personas)",
                median_wall([*personas, "validate"], repo, args.runs, out),
            ),
        ]
    print(f"CLI start-up, median of {args.runs} runs, stdout to a file")
    print(f"  floor python -c pass         {python_pass:6.3f} s")
    print(f"  floor python -c 'import typer' {typer_floor:6.3f} s")
    for name, seconds in rows:
        verdict = "ok" if seconds <= GOAL_SECONDS else f"over the {GOAL_SECONDS} s goal"
        print(
            f"  {name:32} {seconds:6.3f} s  {seconds / python_pass:5.1f}x python  "
            f"{seconds / typer_floor:5.2f}x import typer  ({verdict})"
        )


if __name__ == "__main__":
    main()
