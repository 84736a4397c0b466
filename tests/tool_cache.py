"""Where tests keep tools they install from a registry (npm packages, PyPI wheels).

One folder outside the repo, kept between runs so only the first run downloads:
``$PERSONAS_TEST_CACHE`` or ``~/.cache/personas-as-code``.  Callers install into a
staging folder and rename it into place, so a broken install is never reused.
"""

from __future__ import annotations

import os
from pathlib import Path


def tool_cache(name: str) -> Path:
    """The cache folder ``name`` (created; its content is the caller's)."""
    root = Path(
        os.environ.get("PERSONAS_TEST_CACHE") or Path.home() / ".cache" / "personas-as-code"
    )
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
