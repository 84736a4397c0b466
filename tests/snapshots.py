"""Snapshot files: a test compares what it produced with a file kept under ``tests/``.

A missing file fails like a different one, so a snapshot is never written unseen and a
deleted one cannot pass. ``UPDATE_SNAPSHOTS=1`` writes the file instead of comparing;
review its diff like any other change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

UPDATE = "UPDATE_SNAPSHOTS"


def assert_snapshot(path: Path, text: str, what: str) -> None:
    """Fail unless ``text`` equals the file at ``path``; write it when ``UPDATE_SNAPSHOTS=1``.

    ``what`` names the output in the failure message ("the MCP tool list").
    """
    if os.environ.get(UPDATE) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(
            f"snapshot {path} of {what} is missing: run this test with {UPDATE}=1 to write "
            "it, then review it",
            pytrace=False,
        )
    assert text == path.read_text(encoding="utf-8"), (
        f"{what} changed; review the diff and run with {UPDATE}=1 to accept it"
    )
