"""Plan renderers: text (terminals), JSON (machines), markdown (PR comments).

The renderers are imported on first use (PEP 562 ``__getattr__``): importing one
submodule such as ``sync.render.literal`` (which the CLI needs for every command)
must not import the plan, git and the catalogue tables behind the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from personas_as_code.sync.render.json_plan import render_json
    from personas_as_code.sync.render.markdown import render_markdown
    from personas_as_code.sync.render.text import render_text

__all__ = ["render_json", "render_markdown", "render_text"]

_HOMES = {
    "render_json": "personas_as_code.sync.render.json_plan",
    "render_markdown": "personas_as_code.sync.render.markdown",
    "render_text": "personas_as_code.sync.render.text",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
