"""Plan renderers: text (terminals), JSON (machines), markdown (PR comments)."""

from sync.render.json_plan import render_json
from sync.render.markdown import render_markdown
from sync.render.text import render_text

__all__ = ["render_json", "render_markdown", "render_text"]
