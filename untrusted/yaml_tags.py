"""What a YAML tag means for a file that may hold only JSON values: the tags allowed, the
integers too long to convert, and the sentence that says why a tag or a key is refused."""

from __future__ import annotations

from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode

# Longer digit strings are far outside 64 bits, and Python refuses to convert
# more than 4,300 digits: refuse them before construction.
MAX_INT_CHARS = 40

YAML_TAG = "tag:yaml.org,2002:"
JSON_SCALAR_TAGS = frozenset(YAML_TAG + t for t in ("str", "int", "float", "bool", "null"))
STR_TAG = YAML_TAG + "str"
INT_TAG = YAML_TAG + "int"
MERGE_TAG = YAML_TAG + "merge"
SEQ_TAG = YAML_TAG + "seq"
MAP_TAG = YAML_TAG + "map"
TIMESTAMP_TAG = YAML_TAG + "timestamp"
TAG_MEANINGS = {
    "timestamp": "a date or time",
    "binary": "binary data",
    "set": "a set",
    "omap": "an ordered map",
    "pairs": "a list of pairs",
}
JSON_ONLY = "only JSON values are allowed (strings, numbers, booleans, null, lists, maps)"


def short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(YAML_TAG) if tag.startswith(YAML_TAG) else tag


def tag_problem(node: Node, tag: str) -> str | None:
    """Why this node's tag cannot become a JSON value, or None."""
    if isinstance(node, ScalarNode):
        if tag in JSON_SCALAR_TAGS:
            if tag == INT_TAG and len(node.value) > MAX_INT_CHARS:
                return "integer out of the 64-bit range"
            return None
        if tag == TIMESTAMP_TAG:
            return f"'{node.value}' is read as a date or time; quote it to keep it text"
    elif tag == (SEQ_TAG if isinstance(node, SequenceNode) else MAP_TAG):
        return None
    meaning = TAG_MEANINGS.get(tag.removeprefix(YAML_TAG), "a tagged value")
    return f"{meaning} ({short_tag(tag)}) is not allowed; {JSON_ONLY}"


def key_problem(key: Node, tag: str) -> str | None:
    """Why this mapping key is not a JSON map key, or None."""
    if isinstance(key, ScalarNode):
        if tag in (STR_TAG, MERGE_TAG):
            return None
        if tag in JSON_SCALAR_TAGS:
            return f"map key '{key.value}' is not a string; quote it (JSON map keys are strings)"
        return None  # an unusual tag: reported by the tag check
    return "a list or map cannot be a map key; JSON map keys are strings"
