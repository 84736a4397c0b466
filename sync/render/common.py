"""Shared pieces of the renderers: value display, prompt diffs, secret redaction."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from schemas.secrets import REDACTED, redact
from sync.changes import FieldDiff

MULTILINE_FIELDS = {"system_prompt", "rag_context_template"}
# Keys whose values are secrets: whole words such as "token" or "api_key",
# not "max_tokens".
SECRET_KEY = re.compile(
    r"(?i)(^|[_-])(secrets?|password|passwd|api[_-]?key|credentials?|private[_-]?key|"
    r"(access|auth|bearer|refresh)?[_-]?token)$"
)


def redact_value(value: Any, key: str = "") -> Any:
    """``value`` with secret-named keys and secret-looking strings redacted, recursively."""
    if key and SECRET_KEY.search(key) and value not in (None, "", {}, []):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def show(value: Any, key: str = "") -> str:
    """A short one-line display of a field value."""
    value = redact_value(value, key)
    if value is None:
        return "(none)"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 80 else text[:77] + '..."'
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def is_multiline(diff: FieldDiff) -> bool:
    """Whether a field diff reads best as a unified diff."""
    return diff.field in MULTILINE_FIELDS and any(
        isinstance(v, str) and "\n" in v for v in (diff.before, diff.after)
    )


def text_diff(before: str | None, after: str | None, name: str) -> list[str]:
    """A unified diff of two texts, redacted, without the header's timestamps."""
    a = redact(before or "").splitlines()
    b = redact(after or "").splitlines()
    lines = list(difflib.unified_diff(a, b, f"catalogue/{name}", f"repo/{name}", lineterm="", n=2))
    return lines
