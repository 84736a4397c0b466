"""``Problem``: one thing wrong with a file, located as ``path:line:col``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """A problem in a repo file. ``line`` and ``col`` are 1-based; 0 when unknown."""

    path: str
    line: int
    col: int
    message: str
    code: str = "invalid"
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.path
        if self.line:
            where += f":{self.line}:{self.col or 1}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as plain JSON-able data."""
        return asdict(self)


def errors_only(problems: list[Problem]) -> list[Problem]:
    """The problems that make a repo invalid (warnings excluded)."""
    return [p for p in problems if p.severity == "error"]
