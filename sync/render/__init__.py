"""Plan renderers: text (terminals), JSON (machines), markdown (PR comments)."""

from personas_as_code.sync.render.json_plan import render_json
from personas_as_code.sync.render.markdown import render_markdown
from personas_as_code.sync.render.text import render_text

__all__ = ["render_json", "render_markdown", "render_text"]
