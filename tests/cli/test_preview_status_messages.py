"""``personas preview`` shows a persona's status messages (seed 000): a custom persona's
templates, a standard one's built-in texts, nothing for mode none."""

from __future__ import annotations

import json
from pathlib import Path

from tests.inference.realmodel import personas
from tests.repos import copy_examples


def test_preview_shows_the_status_messages(tmp_path: Path) -> None:
    repo = copy_examples(tmp_path / "repo")
    text = personas("preview", "onboarding-coach", "--no-catalogue", cwd=repo)
    assert text.returncode == 0, text.stdout + text.stderr
    lines = [line for line in text.stdout.splitlines() if line.startswith("status message: ")]
    assert lines == [
        "status message: Looking through the onboarding handbook…",
        "status message: Reading {count} documents…",
        "status message: Putting your answer together…",
    ]
    shown = personas("preview", "support-agent", "--no-catalogue", "-f", "json", cwd=repo)
    assert json.loads(shown.stdout)["status_messages"][0] == "Searching the knowledge base…"
    quiet = personas("preview", "legal-reviewer", "--no-catalogue", "-f", "json", cwd=repo)
    assert json.loads(quiet.stdout)["status_messages"] == []  # mode none
