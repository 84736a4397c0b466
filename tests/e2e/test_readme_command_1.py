"""README command 1, step by step, on a fresh copy of the example repo (real processes):
validate, plan, apply, plan again (no changes), then ask a published persona a question
with ``personas run`` and get an answer -- from the offline ``mirror`` backend -- that
visibly carries the persona's prompt and a retrieved knowledge chunk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

QUESTION = "Can I get a refund on my annual plan?"


def personas(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "personas"
    command = (
        [str(script)] if script.exists() else [sys.executable, "-m", "personas_as_code.cli.main"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    return subprocess.run(
        [*command, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_readme_command_1_ends_with_an_answer_from_a_published_persona(
    example_repo: Path,
) -> None:
    for step in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        done = personas(example_repo, *step)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
    again = personas(example_repo, "plan")
    assert again.returncode == 0 and "No changes." in again.stdout, again.stdout
    answer = personas(example_repo, "run", "support-agent", QUESTION)
    assert answer.returncode == 0, answer.stderr
    out = answer.stdout
    spec = YAML(typ="safe").load((example_repo / "personas" / "support-agent.yaml").read_text())
    assert spec["publish"]["enabled"] is True  # a published example persona
    first_prompt_line = spec["system_prompt"].splitlines()[0]
    assert "answered by: mirror as backend openai/gpt-4o" in out
    assert "--- message 1 (system) ---\n" + first_prompt_line in out
    assert "--- message 2 (system) ---\nAnswer from this context:\n[1] collection:" in out
    assert "knowledge/col_product_docs/refunds.md" in out
    refund_policy = (example_repo / "knowledge/col_product_docs/refunds.md").read_text()
    assert "full refund within 30 days" in refund_policy and "full refund within 30 days" in out
    assert out.rstrip().endswith("nothing was published or persisted")
    # and asking it changed nothing
    assert "No changes." in personas(example_repo, "plan").stdout
