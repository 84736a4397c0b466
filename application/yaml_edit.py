"""Round-trip edits of a persona file with ruamel.yaml.

Comments, key order, quoting and block scalars survive; the file's own
indentation is detected and reused; a multi-line string is written as a ``|``
block scalar (a value that was double-quoted stays double-quoted).
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from personas_as_code.schemas.errors import DraftError
from personas_as_code.schemas.file_keys import key_order
from personas_as_code.schemas.modeline import modeline_comment
from personas_as_code.schemas.yamlsafe import YamlRefused, parse_yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

# the order new keys are inserted in (after the closest preceding existing key)
KEY_ORDER = key_order()
_BLOCK_KEY = re.compile(r"^[A-Za-z_][\w-]*:\s*(#.*)?$")


@dataclass
class PatchSpec:
    """What to change: scalars to set, objects to merge, sources to replace, keys to remove."""

    set: dict[str, Any] = field(default_factory=dict)
    merge: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: list[dict[str, Any]] | None = None
    unset: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.set or self.merge or self.sources is not None or self.unset)


def guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation used by ``text``; defaults 2, 4, 2."""
    indent, block_seq = _scan_indent(text)
    lines = text.splitlines()
    mapping = None
    for line, following in itertools.pairwise(lines):
        if _BLOCK_KEY.match(line):
            stripped = following.lstrip(" ")
            if stripped and not stripped.startswith(("- ", "#")):
                mapping = len(following) - len(stripped)
                break
    if block_seq is None:
        mapping = mapping or indent or 2
        return mapping, mapping + 2, mapping
    return mapping or 2, indent or (block_seq + 2), block_seq


def _leading_spaces(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _scan_indent(text: str) -> tuple[int | None, int | None]:
    """(indent, block sequence indent) as ruamel's ``load_yaml_guess_indent`` guesses them,
    from the lines alone (that function also parses the whole document, a second time)."""
    map_indent = indent = block_seq = None
    prev_key_only: int | None = None
    key_indent = 0
    for line in text.splitlines():
        rline = line.rstrip()
        if rline.lstrip().startswith("- "):
            spaces = _leading_spaces(line)
            block_seq = spaces - key_indent
            after = _leading_spaces(rline[spaces + 1 :]) + spaces + 1
            if rline[after] == "#":  # a comment after the dash
                continue
            indent = after - key_indent
            break
        if map_indent is None and prev_key_only is not None and rline:
            depth = len(line) - len(line.lstrip(" -"))
            if depth > prev_key_only:
                map_indent = depth - prev_key_only
        if rline.endswith(":"):
            key_indent = prev_key_only = _leading_spaces(line)
            continue
        prev_key_only = None
    return (indent if indent is not None else map_indent), block_seq


def _yaml(text: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = guess_indent(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _node(value: Any, like: Any = None) -> Any:
    """``value`` as a ruamel node, styled like the value it replaces."""
    if isinstance(value, str):
        if isinstance(like, DoubleQuotedScalarString):
            return DoubleQuotedScalarString(value)
        if isinstance(like, SingleQuotedScalarString) and "\n" not in value:
            return SingleQuotedScalarString(value)
        if "\n" in value.rstrip("\n") or (isinstance(like, LiteralScalarString) and "\n" in value):
            return LiteralScalarString(value)
        return value
    if isinstance(value, dict):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _node(item)
        if isinstance(like, CommentedMap) and like.fa.flow_style():
            out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_node(v) for v in value)
        if isinstance(like, CommentedSeq) and like.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    return value


def _set(mapping: CommentedMap, key: str, value: Any, top_level: bool = False) -> None:
    if key in mapping:
        mapping[key] = _node(value, mapping[key])
        return
    position = len(mapping)
    if top_level and key in KEY_ORDER:
        rank = KEY_ORDER.index(key)
        earlier = [
            (KEY_ORDER.index(k), i)
            for i, k in enumerate(mapping.keys())
            if k in KEY_ORDER and KEY_ORDER.index(k) < rank
        ]
        position = max(earlier)[1] + 1 if earlier else 0
    mapping.insert(position, key, _node(value))


def _merge(mapping: CommentedMap, patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        current = mapping.get(key)
        if isinstance(value, dict) and isinstance(current, CommentedMap):
            _merge(current, value)
        else:
            _set(mapping, key, value)


def _replace_sources(data: CommentedMap, sources: list[dict[str, Any]]) -> None:
    old = data.get("sources")
    old_items = list(old) if isinstance(old, CommentedSeq) else []
    items = []
    for source in sources:
        match = next(
            (
                m
                for m in old_items
                if isinstance(m, CommentedMap)
                and m.get("type") == source.get("type")
                and m.get("id") == source.get("id")
            ),
            None,
        )
        if match is None:
            items.append(_node(source))
            continue
        for key in [k for k in match if k not in source]:
            del match[key]
        _merge(match, source)
        items.append(match)
    if isinstance(old, CommentedSeq):
        del old[:]
        old.extend(items)
    else:
        _set(data, "sources", CommentedSeq(items), top_level=True)


def _unset(data: CommentedMap, dotted: str, notes: list[str]) -> None:
    parts = dotted.split(".")
    target: Any = data
    for part in parts[:-1]:
        target = target.get(part) if isinstance(target, CommentedMap) else None
    if isinstance(target, CommentedMap) and parts[-1] in target:
        del target[parts[-1]]
    else:
        notes.append(f"unset '{dotted}': no such key in the file (nothing removed)")


def apply_patch(text: str, patch: PatchSpec) -> tuple[str, list[str]]:
    """Apply ``patch`` to the YAML ``text``; return the new text and notes.

    The text is first checked by the bounded parser (``schemas.yamlsafe``): the
    round-trip parser is recursive, so a hostile file must be refused before it.
    """
    checked_data(text)
    return edit_checked(text, patch)


def checked_data(text: str) -> Any:
    """The data of the YAML ``text`` by the bounded parser; DraftError when it refuses
    the file (the round-trip parser must never see a file it refuses)."""
    try:
        return parse_yaml(text.encode("utf-8"), "the file").data
    except YamlRefused as exc:
        problem = exc.problem
        raise DraftError(
            f"the file cannot be edited (line {problem.line}: {problem.message}); fix it by "
            "hand first"
        ) from None


def edit_checked(text: str, patch: PatchSpec) -> tuple[str, list[str]]:
    """``apply_patch`` of a ``text`` that ``checked_data`` has accepted: the round-trip
    load and edit only."""
    yaml = _yaml(text)
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        raise DraftError(f"the file is not valid YAML, fix it by hand first: {exc}") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise DraftError("the file is not a YAML mapping; fix it by hand first")
    notes: list[str] = []
    for dotted in patch.unset:
        _unset(data, dotted, notes)
    for key, value in patch.set.items():
        _set(data, key, value, top_level=True)
    for key, value in patch.merge.items():
        current = data.get(key)
        if isinstance(current, CommentedMap):
            _merge(current, value)
        else:
            _set(data, key, value, top_level=True)
    if patch.sources is not None:
        _replace_sources(data, patch.sources)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue(), notes


def new_persona_text(patch: PatchSpec, path: str) -> tuple[str, list[str]]:
    """The text of a new persona file at repo path ``path`` holding ``patch``'s fields."""
    header = modeline_comment(path)
    text, notes = apply_patch(header + "{}\n", patch)
    if text.startswith("{}"):
        text = header
    if not text.startswith("#"):
        text = header + text
    return text, notes
