"""README command 1, read from README.md and run as written on a fresh copy of the
example repo (real processes): it validates, plans, applies, plans again (no changes),
then asks a published persona a question with ``personas run`` and gets an answer --
from the offline ``mirror`` backend -- that visibly carries the persona's prompt and a
retrieved knowledge chunk.

Command 1 is the first command of the README's first fenced block.  Its set-up steps
(``python3 -m venv DIR``, ``DIR/bin/pip install ...``) are the installation this test
already runs in: ``DIR`` in the copy points at this environment, and every other step
runs exactly as the README has it, so a changed README command is what gets tested."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

README = Path(__file__).resolve().parents[2] / "README.md"
FENCED_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# the first retrieved chunk in the mirror's answer: its source path and its text
FIRST_CHUNK = re.compile(
    r"^\[1\] .* · (?P<path>knowledge/\S+) \(chunk \d+, score [\d.]+\)\n"
    r"(?P<text>.*?)(?=\n\n\[2\] |\n--- message )",
    re.MULTILINE | re.DOTALL,
)


def readme_command_1(text: str) -> str:
    """The first command of the first fenced block: its first line that is not blank or
    a comment, with backslash continuation lines joined."""
    match = FENCED_BLOCK.search(text)
    assert match, "README.md has no fenced code block"
    parts: list[str] = []
    for line in match.group(1).splitlines():
        if not parts and (not line.strip() or line.lstrip().startswith("#")):
            continue
        parts.append(line.rstrip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            break
    assert parts, "README.md's first fenced block holds no command"
    return " ".join(parts)


def steps_of(command: str) -> list[list[str]]:
    """The ``&&``-separated steps of a shell command line, each as its words."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    steps: list[list[str]] = [[]]
    for token in lexer:
        if token == "&&":
            steps.append([])
        else:
            assert token not in ("|", "||", ";", "&", ">", "<"), f"unsupported: {command}"
            steps[-1].append(token)
    return steps


def venv_of(step: list[str]) -> str | None:
    """The folder a ``python -m venv DIR`` step creates, else None."""
    if len(step) >= 4 and Path(step[0]).name.startswith("python") and step[1:3] == ["-m", "venv"]:
        return step[-1]
    return None


def is_install(step: list[str]) -> bool:
    """A ``.../pip install ...`` step (the project and its dependencies)."""
    pip = Path(step[0]).name in ("pip", "pip3") or step[1:3] == ["-m", "pip"]
    return pip and "install" in step[1:]


def test_readme_command_1_is_read_from_the_readme() -> None:
    text = "# t\n\n## Start\n\n```bash\n# 1. set up\nA && \\\n  B 'x y'\n\n# 2. more\nC\n```\n"
    assert readme_command_1(text) == "A &&    B 'x y'"
    assert steps_of("A && B 'x y' --flag") == [["A"], ["B", "x y", "--flag"]]
    assert venv_of(["python3", "-m", "venv", ".venv"]) == ".venv"
    assert is_install([".venv/bin/pip", "install", "-q", "-e", ".[dev]"])
    assert is_install([".venv/bin/python", "-m", "pip", "install", "-e", "."])
    assert not is_install([".venv/bin/personas", "validate"])


def test_readme_command_1_ends_with_an_answer_from_a_published_persona(
    example_repo: Path,
) -> None:
    steps = steps_of(readme_command_1(README.read_text(encoding="utf-8")))
    venvs = [venv_of(step) for step in steps if venv_of(step)]
    setup = [s for s in steps if venv_of(s) or is_install(s)]
    run_steps = [s for s in steps if s not in setup]
    assert len(venvs) == 1 and setup == steps[: len(setup)], steps  # set-up first, once
    (example_repo / venvs[0]).symlink_to(Path(sys.executable).parent.parent)
    assert (example_repo / venvs[0] / "bin" / "personas").exists()  # this install's script

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    script = " && ".join(shlex.join(step) for step in run_steps)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=example_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (script, done.stdout[-3000:], done.stderr[-3000:])

    names = [step[1] if len(step) > 1 else "" for step in run_steps]
    assert "apply" in names and "plan" in names[names.index("apply") :], names
    last = run_steps[-1]
    assert Path(last[0]).name == "personas" and last[1] == "run", last
    slug, question = last[2], last[3]
    out = done.stdout
    applied = out.index("Apply complete:")
    assert "No changes." in out[applied:]  # the second plan
    answer = out[out.index("answered by:") :]
    spec = YAML(typ="safe").load((example_repo / "personas" / f"{slug}.yaml").read_text())
    assert spec["publish"]["enabled"] is True  # a published example persona
    first_prompt_line = spec["system_prompt"].splitlines()[0]
    assert answer.startswith("answered by: mirror as backend ")
    assert "--- message 1 (system) ---\n" + first_prompt_line in answer
    assert "--- message 2 (system) ---\nAnswer from this context:\n[1] " in answer
    first = FIRST_CHUNK.search(answer)
    assert first, answer
    source = (example_repo / first["path"]).read_text(encoding="utf-8")
    chunk = [line.strip(" …") for line in first["text"].splitlines() if line.strip(" …")]
    assert chunk and all(line in source for line in chunk), (chunk, first["path"])
    assert question in answer
    assert answer.rstrip().endswith("nothing was published or persisted")
    # and asking it changed nothing
    again = subprocess.run(
        [str(example_repo / venvs[0] / "bin" / "personas"), "plan"],
        cwd=example_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0 and "No changes." in again.stdout, again.stdout
