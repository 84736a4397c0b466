"""YAML of any shape ends in located problems, never in a crash or a traceback.

The C composer used to recurse once per nesting level, so a 100 KB file of
``[[[[…`` killed ``personas validate`` (and the MCP server) with a segfault; the
deep inputs therefore run through the real CLI in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from personas_as_code.loader.repo import load_repo
from personas_as_code.untrusted.yaml import MAX_DEPTH, MAX_YAML_BYTES, YamlRefused, parse_yaml

from tests.repos import MINIMAL, RepoBuilder

HEAD = "name: Deep\nmodel: scaigrid/gpt-4o\n"
DEEP = 50_000


def nested_block_maps(levels: int) -> str:
    return (
        "metadata:\n"
        + "".join(" " * (i + 1) + "a:\n" for i in range(levels))
        + " " * (levels + 1)
        + "end\n"
    )


# name -> (file content, line and column of the refusal)
DEEP_SHAPES: dict[str, tuple[str, str]] = {
    "flow-sequences": (HEAD + "metadata: {a: " + "[" * DEEP + "]" * DEEP + "}\n", "3:54"),
    "flow-maps": (HEAD + "metadata: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n", "3:168"),
    "mixed-flow": (
        HEAD + "metadata: {a: " + "[{b: " * 30_000 + "1" + "}]" * 30_000 + "}\n",
        "3:111",
    ),
    "block-indentation": (HEAD + nested_block_maps(600), "43:41"),
    "compact-sequences": (HEAD + "metadata:\n  - " + "- " * DEEP + "x\n", "4:83"),
    "complex-keys": (HEAD + "metadata:\n  " + "? " * DEEP + "x\n", "4:83"),
    "deep-through-aliases": (
        HEAD + "metadata:\n  a: &a " + "[" * 30 + "]" * 30 + "\n  b: " + "[" * 15 + "*a"
        "" + "]" * 15 + "\n",
        "5:21",
    ),
}


def run_validate(root: Path) -> subprocess.CompletedProcess[str]:
    project = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "personas_as_code.cli.main", "validate", "--repo", str(root)],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(project)},
        timeout=120,
    )


@pytest.mark.slow  # personas validate as a process
def test_deep_nesting_of_every_shape_is_a_located_problem_not_a_crash(repo: RepoBuilder) -> None:
    for name, (content, _) in DEEP_SHAPES.items():
        assert len(content.encode()) <= MAX_YAML_BYTES, name
        repo.persona(name, content)
    repo.persona("fine", MINIMAL)

    result = run_validate(repo.root)

    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    for name, (_, where) in DEEP_SHAPES.items():
        expected = f"personas/{name}.yaml:{where}: nesting deeper than {MAX_DEPTH} levels"
        assert expected in result.stdout.splitlines(), (expected, result.stdout)
    assert result.stdout.splitlines()[-1].endswith("1 persona(s) valid.")


def test_nesting_up_to_the_limit_is_accepted() -> None:
    # the root map is level 0 and metadata's map level 1: 39 brackets reach level 40
    deep_ok = HEAD + "metadata: {a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}\n"
    assert parse_yaml(deep_ok.encode(), "p.yaml").data["metadata"]["a"] is not None
    too_deep = HEAD + "metadata: {a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}\n"
    with pytest.raises(YamlRefused, match="nesting deeper than 40 levels"):
        parse_yaml(too_deep.encode(), "p.yaml")


# name -> (file content, expected "line:col: message" fragment)
HOSTILE: dict[str, tuple[str, str]] = {
    "wide-flow": (HEAD + "metadata: {a: [" + "x, " * 30_000 + "]}\n", "more than 20,000 nodes"),
    "many-anchors": (
        HEAD + "metadata: {a: [" + ", ".join(f"&a{i} x" for i in range(21_000)) + "]}\n",
        "more than 20,000 nodes",
    ),
    "undefined-alias": (HEAD + "metadata: {a: *nowhere}\n", "3:15: alias '*nowhere' has no anchor"),
    "recursive-sequence-alias": (
        HEAD + "metadata: {a: &r [1, [2, *r]]}\n",
        "3:26: alias '*r' refers to a collection that contains it",
    ),
    "many-documents": (HEAD + "---\n" * 20_000, "3:1: a second YAML document"),
    "long-line-of-brackets-in-a-string": (HEAD + "description: '" + "[" * 200_000 + "'\n", ""),
    "brackets-in-comments": (HEAD + "# " + "{[" * 100_000 + "\n", ""),
    "bad-bool": (HEAD + "protect: !!bool maybe\n", "3:10: 'maybe' is not a valid !!bool value"),
    "bad-float": (HEAD + "metadata: {a: !!float abc}\n", "3:15: 'abc' is not a valid !!float"),
    "integer-of-5000-digits": (HEAD + "metadata: {a: " + "9" * 5000 + "}\n", "3:15: integer out"),
    "merge-of-a-scalar": (HEAD + "metadata:\n  <<: 1\n", "invalid YAML value"),
    "tagged-root": (
        "!!set {a, b}\n",
        "1:1: a set (!!set) is not allowed",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_shapes_are_refused_or_accepted_without_crashing(
    repo: RepoBuilder, name: str
) -> None:
    content, fragment = HOSTILE[name]
    repo.persona(name, content)
    loaded = load_repo(repo.root)
    messages = [str(p) for p in loaded.problems]
    if not fragment:
        assert loaded.ok, messages
        return
    assert any(fragment in m for m in messages), messages
    assert all(m.startswith(f"personas/{name}.yaml:") for m in messages), messages


def test_merge_keys_of_maps_are_allowed(repo: RepoBuilder) -> None:
    repo.persona(
        "merged",
        MINIMAL + "metadata:\n  base: &base {team: support}\n  more:\n    <<: *base\n    tier: 1\n",
    )
    loaded = load_repo(repo.root)
    assert loaded.ok, [str(p) for p in loaded.problems]
    assert loaded.personas["merged"].spec.metadata["more"] == {"team": "support", "tier": 1}


def test_every_json_problem_of_a_file_is_reported_at_once(repo: RepoBuilder) -> None:
    repo.persona(
        "many",
        MINIMAL + "metadata:\n  when: 2024-05-01\n  1: one\n  blob: !!binary aGk=\n",
    )
    problems = load_repo(repo.root).problems
    assert [(p.line, p.code) for p in problems] == [
        (4, "json_value"),
        (5, "json_value"),
        (6, "json_value"),
    ]
