"""Fixtures: ``personas`` run as users run it (the installed console script), and a
repo freshly made by ``personas init``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PERSONAS = Path(sys.executable).parent / "personas"
MODELINE_RE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def personas(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``personas`` console script in ``cwd`` against the embedded catalogue."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_DATABASE"))
    }
    return subprocess.run(
        [str(PERSONAS), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (symlinks not followed): repo path -> bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and ".personas" not in p.parts
    }


def modeline_target(root: Path, rel: str) -> Path:
    """The file a YAML file's schema modeline points at, resolved from the file's folder."""
    first = (root / rel).read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE_RE.match(first)
    assert match, f"{rel} starts with {first!r}, not a schema modeline"
    return ((root / rel).parent / match.group(1)).resolve()


@pytest.fixture
def new_repo(tmp_path: Path) -> Path:
    """A repo made by ``personas init`` in a new folder."""
    done = personas("init", "acme-personas", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path / "acme-personas"
