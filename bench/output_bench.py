"""Benchmark of `personas apply` output as CI runs it (issue 9, item 19).

    .venv/bin/python bench/output_bench.py [--personas 1000 2000]

For each size, a fresh repo of N generated personas is applied from an empty
embedded SQLite catalogue by the real CLI, stdout to a file, three ways:

* text, stdout a file (every CI run, the reusable action);
* text through the terminal colour path (FORCE_COLOR=1), stdout a file;
* ``--format json`` (the baseline: the same apply with the least output).

It prints wall seconds, peak RSS (``/usr/bin/time``) and output size, and the
ratio of each text mode to the JSON baseline measured in the same run: output
must cost little and grow linearly.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sync_bench import generate  # noqa: E402

MODES = {
    "text, stdout to a file": ([], {"NO_COLOR": "1"}),
    "text, terminal colour path": ([], {"FORCE_COLOR": "1"}),
    "json (baseline)": (["--format", "json"], {"NO_COLOR": "1"}),
}


def run_apply(repo: Path, extra: list[str], env_extra: dict[str, str]) -> tuple[float, int, int]:
    """Apply ``repo`` from an empty catalogue; (wall seconds, peak RSS MB, output bytes)."""
    shutil.rmtree(repo / ".personas", ignore_errors=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCAIGRID_", "PERSONAS_DATABASE", "NO_COLOR", "FORCE_COLOR"))
    }
    env.update(env_extra, PYTHONPATH=str(ROOT))
    out_path, stats_path = repo / "apply.out", repo / "apply.time"
    with out_path.open("w") as out:
        subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%e %M",
                "-o",
                str(stats_path),
                sys.executable,
                "-m",
                "personas_as_code.cli.main",
                "apply",
                "--auto-approve",
                *extra,
            ],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    wall, rss_kb = stats_path.read_text().split()[-2:]
    return float(wall), int(rss_kb) // 1024, out_path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--personas", type=int, nargs="+", default=[1000, 2000])
    args = parser.parse_args()
    print("personas apply, from an empty embedded SQLite catalogue, stdout to a file")
    print(f"{'personas':>8}  {'mode':<28}{'seconds':>9}{'peak MB':>9}{'output':>11}{'/ json':>8}")
    for count in args.personas:
        repo = Path(tempfile.mkdtemp(prefix="output-bench-"))
        generate(repo, count)
        results = {mode: run_apply(repo, *spec) for mode, spec in MODES.items()}
        base = results["json (baseline)"][0]
        for mode, (seconds, rss, size) in results.items():
            print(
                f"{count:>8}  {mode:<28}{seconds:>9.2f}{rss:>9}{size / 1e6:>9.2f}MB"
                f"{seconds / base:>7.2f}x"
            )
        shutil.rmtree(repo, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
