"""Shared pieces of the renderers: value display, prompt diffs, secret redaction."""

from __future__ import annotations

import difflib
import json
from typing import Any

from personas_as_code.sync.changes import FieldDiff
from personas_as_code.untrusted.secrets import redact, redact_data

MULTILINE_FIELDS = {"system_prompt", "rag_context_template"}


def redact_value(value: Any, key: str = "") -> Any:
    """``value`` with secrets redacted by key name and by shape (``untrusted.secrets``).

    Renderers get an already redacted plan (``sync.render.redact.redact_plan``);
    this second pass keeps single values safe wherever they are shown."""
    return redact_data(value, key)


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
