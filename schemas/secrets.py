"""Detection and redaction of things that look like credentials.

Used by the validator (a prompt must never carry a key) and by every plan
renderer (secrets never reach output, the PR comment included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("OpenAI-style API key", re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("Stripe secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{16,}")),
    (
        "JSON web token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    (
        "credential assignment",
        re.compile(
            r"(?i)\b(?:api[_-]?key|secret|password|passwd|access[_-]?token|bearer)\b"
            r"\s*[:=]\s*['\"]?([A-Za-z0-9_\-+/=.]{16,})"
        ),
    ),
)

REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class SecretFinding:
    """Where a secret-looking string was found (1-based line and column)."""

    kind: str
    line: int
    col: int


def find_secrets(text: str) -> list[SecretFinding]:
    """Every secret-looking match in ``text``, in order of position."""
    findings: list[SecretFinding] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            start = m.start(1) if m.lastindex else m.start()
            line = text.count("\n", 0, start) + 1
            col = start - (text.rfind("\n", 0, start) + 1) + 1
            findings.append(SecretFinding(kind, line, col))
    findings.sort(key=lambda f: (f.line, f.col))
    return findings


def redact(text: str) -> str:
    """``text`` with every secret-looking match replaced by ``[REDACTED]``."""
    for _kind, pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(0).replace(m.group(1), REDACTED), text)
        else:
            text = pattern.sub(REDACTED, text)
    return text
