"""Record (or check) the golden outputs that a refactor must keep byte-identical.

    python tests/golden/record.py          # write tests/golden/out/*
    python tests/golden/record.py --check  # exit 1 and name the files that differ

The outputs are the ones users and CI read: the example repo's plan (JSON, markdown,
text) on an empty embedded catalogue and after an edit to the applied repo, the apply
summary, the test report (markdown, JSON without timings), and the REST API's OpenAPI
document. The MCP tools snapshot lives in tests/mcp_server/snapshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "out"
EXAMPLE = ["personas", "knowledge", "test-personas", "personas.toml"]
GIT = ["git", "-c", "user.email=golden@example.com", "-c", "user.name=golden"]


def _personas(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    env.update(NO_COLOR="1", COLUMNS="100", TERM="dumb", TZ="UTC")
    done = subprocess.run(
        [sys.executable, "-m", "personas_as_code.cli.main", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr}"


def _scrub(text: str, repo: Path) -> str:
    text = text.replace(str(repo), "<repo>")
    text = re.sub(r"\b[0-9a-f]{40}\b", "<sha>", text)
    text = re.sub(r"\b[0-9a-f]{7,12}\b(?=[ )\]])", "<short-sha>", text)
    text = re.sub(r'"latency_ms": [0-9.]+', '"latency_ms": 0', text)
    text = re.sub(r"\b\d+(\.\d+)? ?(ms|s)\b", "<t>", text)
    ids: dict[str, str] = {}
    text = re.sub(
        r"\b(per|col|shr|doc|src)_[0-9a-f]{16}\b",
        lambda m: ids.setdefault(m.group(0), f"<{m.group(1)}-{len(ids) + 1}>"),
        text,
    )
    if ids:  # the ids are random, so the checksum over them is too
        text = re.sub(r"\b[0-9a-f]{64}\b", "<checksum>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "<time>", text)
    return text


def record() -> dict[str, str]:
    """Run the commands in a fresh copy of the example repo and return name -> output."""
    outputs: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        for name in EXAMPLE:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, repo / name)
            else:
                shutil.copy2(src, repo / name)
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
        subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
        subprocess.run([*GIT, "commit", "-qm", "example"], cwd=repo, check=True)

        def run(name: str, *args: str) -> None:
            text = _scrub(_personas(repo, *args), repo)
            if name.startswith("plan-edit"):  # over the applied personas' random ids
                text = re.sub(r"\b[0-9a-f]{64}\b", "<checksum>", text)
            outputs[name] = text

        run("validate.txt", "validate")
        run("plan-create.json", "plan", "--format", "json")
        run("plan-create.md", "plan", "--format", "markdown")
        run("plan-create.txt", "plan")
        run("apply.txt", "apply", "--auto-approve")
        run("plan-noop.json", "plan", "--format", "json")
        # an edit, a removal and a knowledge change against the applied catalogue
        agent = repo / "personas" / "support-agent.yaml"
        text = agent.read_text(encoding="utf-8")
        text = text.replace("top_k: 5", "top_k: 4").replace("three sentences", "two sentences")
        agent.write_text(text.replace("Support Agent", "Support Agent (EU)", 1), encoding="utf-8")
        (repo / "personas" / "translator.yaml").unlink()
        faq = next((repo / "knowledge").rglob("*.md"))
        faq.write_text(faq.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
        run("plan-edit.json", "plan", "--format", "json", "--prune")
        run("plan-edit.md", "plan", "--format", "markdown", "--prune")
        run("plan-edit.txt", "plan", "--prune")
        run("test.md", "test", "--format", "markdown")
        run("test.json", "test", "--format", "json")
        run("test.txt", "test")

    from personas_as_code.catalogue.db import make_engine
    from personas_as_code.catalogue.rest import create_app
    from starlette.testclient import TestClient

    with tempfile.TemporaryDirectory(prefix="golden-api-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/c.db")
        with TestClient(create_app(engine)) as client:
            doc = client.get("/openapi.json").json()
        engine.dispose()
    outputs["openapi.json"] = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return outputs


def main() -> int:
    """Write the golden files, or with ``--check`` compare against them."""
    outputs = record()
    if "--check" in sys.argv[1:]:
        differ = [
            name
            for name, text in outputs.items()
            if not (OUT / name).is_file() or (OUT / name).read_text(encoding="utf-8") != text
        ]
        for name in differ:
            print(f"differs: {name}")
        return 1 if differ else 0
    OUT.mkdir(exist_ok=True)
    for name, text in outputs.items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(outputs)} files to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
