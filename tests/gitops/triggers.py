"""When GitHub starts a workflow: the ``on:`` event and its branch and path filters,
evaluated as GitHub documents them (workflow syntax, "Filter pattern cheat sheet").

Patterns match the whole path from the repository root.  ``*`` matches any characters
except ``/``; ``**`` any characters, ``/`` included (``**/`` also none at all, so
``**/README.md`` matches ``README.md``); ``?`` and ``+`` make the preceding character
optional or repeatable; ``[...]`` is one character of a set or range (``a-z``, ``A-Z``,
``0-9``); ``\\`` escapes the next character.  A leading ``!`` negates: the patterns are
read in order and the last one that matches a value decides whether it is included.
A workflow with ``paths`` runs when at least one changed file is included; with
``paths-ignore`` unless every changed file is ignored.  (``fnmatch`` is not this: its
``*`` crosses ``/`` and its ``?`` is any one character.)
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

_RANGE_ENDS = ("az", "AZ", "09")


def _char_class(pattern: str, start: int) -> tuple[str, int]:
    """The regex of the ``[...]`` at ``pattern[start]``, and the index after it."""
    end = pattern.find("]", start + 1)
    if end <= start + 1:
        raise ValueError(f"pattern {pattern!r}: '[' without a closing ']' or with nothing in it")
    body, out, i = pattern[start + 1 : end], [], 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if not any(a <= low <= high <= b for a, b in _RANGE_ENDS):
                raise ValueError(f"pattern {pattern!r}: range {low}-{high} is not in a-z, A-Z, 0-9")
            out.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
        else:
            out.append(re.escape(body[i]))
            i += 1
    return f"[{''.join(out)}]", end + 1


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
    """One pattern (without a leading ``!``) as a regex for ``fullmatch``."""
    atoms: list[str] = []
    single: list[bool] = []  # whether the atom is one character, which ? and + may follow
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            atom, one, i = "(?:.*/)?", False, i + 3
        elif pattern.startswith("**", i):
            atom, one, i = ".*", False, i + 2
        elif char == "*":
            atom, one, i = "[^/]*", False, i + 1
        elif char in "?+" and single and single[-1]:
            atoms[-1], single[-1] = f"(?:{atoms[-1]}){char}", False
            i += 1
            continue
        elif char == "[":
            (atom, i), one = _char_class(pattern, i), True
        elif char == "\\":
            if i + 1 == len(pattern):
                raise ValueError(f"pattern {pattern!r} ends in an escape")
            atom, one, i = re.escape(pattern[i + 1]), True, i + 2
        else:
            atom, one, i = re.escape(char), True, i + 1
        atoms.append(atom)
        single.append(one)
    return re.compile("".join(atoms), re.S)


def included(patterns: Iterable[str], value: str) -> bool:
    """Whether ``value`` is included by the ordered ``patterns`` (``!`` excludes)."""
    decision = False
    for pattern in patterns:
        negative = pattern.startswith("!")
        if glob_regex(pattern[1:] if negative else pattern).fullmatch(value):
            decision = not negative
    return decision


def _filter_passes(spec: dict[str, Any], key: str, values: list[str]) -> bool:
    """The ``key`` / ``key-ignore`` pair of one event: whether it lets the run start (one
    value included, or not every value ignored)."""
    if key in spec and f"{key}-ignore" in spec:
        raise ValueError(f"{key} and {key}-ignore cannot both be set for one event")
    if key in spec:
        return any(included(spec[key], v) for v in values)
    if f"{key}-ignore" in spec:
        return not all(included(spec[f"{key}-ignore"], v) for v in values)
    return True


def triggers(workflow: dict[str, Any], event: str, *, branch: str, changed: Iterable[str]) -> bool:
    """Whether ``event`` starts ``workflow``: ``branch`` is the pushed branch (push) or the
    base branch (pull_request), ``changed`` the files the push or the pull request changes."""
    on = workflow["on"]
    if isinstance(on, str):
        on = {on: None}
    elif isinstance(on, list):
        on = dict.fromkeys(on)
    if event not in on:
        return False
    spec = on[event] or {}
    files = list(changed)
    if ("paths" in spec or "paths-ignore" in spec) and not files:
        return False
    return _filter_passes(spec, "branches", [branch]) and _filter_passes(spec, "paths", files)


def changed_files(repo: Path, base: str, head: str = "HEAD", *, merge_base: bool) -> list[str]:
    """The files GitHub compares for path filters: a pull request's against the merge base
    (``base...head``, ``merge_base``), a push's between the old and the new tip."""
    spec = f"{base}...{head}" if merge_base else f"{base}..{head}"
    done = subprocess.run(
        ["git", "diff", "--name-only", "--no-renames", "-z", spec],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [name for name in done.stdout.split("\0") if name]
