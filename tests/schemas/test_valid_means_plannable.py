"""What ``validate`` accepts, ``plan`` can use: the desired state of every valid file is
strict JSON.  Checked for every file in tests/data and the examples, for the hostile
shapes, and for generated YAML values in every free-form field."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from personas_as_code.loader.files import DirectoryFiles
from personas_as_code.loader.repo import load_persona
from personas_as_code.sync.state import desired_from_file

from tests.repos import DATA, EXAMPLES, MINIMAL, RepoBuilder
from tests.schemas.test_hostile_yaml import HOSTILE


def plan_input(files: DirectoryFiles, path: str) -> str | None:
    """The strict JSON ``plan`` would build from ``path``, or None when it is invalid.

    Loading never raises, whatever the file holds.
    """
    persona, problems, _ = load_persona(files, path)
    if persona is None:
        assert problems, f"{path} refused without a problem"
        return None
    desired = desired_from_file(persona)
    state = {
        "fields": desired.fields,
        "sources": [dataclasses.asdict(s) for s in desired.sources.values()],
        "spec_hash": desired.spec_hash,
    }
    return json.dumps(state, allow_nan=False)


def yaml_files() -> list[Path]:
    return sorted(DATA.rglob("*.yaml")) + sorted((EXAMPLES / "personas").glob("*.yaml"))


@pytest.mark.parametrize("source", yaml_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_data_file_is_refused_or_plannable(repo: RepoBuilder, source: Path) -> None:
    shutil.copytree(EXAMPLES / "personas", repo.root / "personas", dirs_exist_ok=True)
    path = f"personas/probe-{source.stem.replace('_', '-')}.yaml"
    repo.write(path, source.read_bytes())
    plan_input(DirectoryFiles(repo.root), path)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_every_hostile_shape_is_refused_or_plannable(repo: RepoBuilder, name: str) -> None:
    repo.persona(name, HOSTILE[name][0])
    plan_input(DirectoryFiles(repo.root), f"personas/{name}.yaml")


SCALARS = [
    "plain",
    "'quoted'",
    '"esc\\u00e9"',
    '"nul\\0"',
    "2024-05-01",
    "2001-12-14t21:59:43.10-05:00",
    "!!timestamp 2024-05-01",
    ".inf",
    "-.Inf",
    ".nan",
    "1e999",
    "-1e999",
    "0x1F",
    "0o17",
    "1.5",
    "-0",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1" * 60,
    "true",
    "null",
    "~",
    "!!binary aGk=",
    "!!str 12",
    "!!float 1",
    "!!int '7'",
    "!!bool true",
    "!!null ''",
    "!custom x",
    "!!python/name:os.system",
    "1:20",
    "<<",
    "=",
    "*nowhere",
]
KEYS = ["a", "b", "'1'", "1", "true", "null", "~", "1.5", "2024-01-01", "<<", "!!str k", "[x]"]


def flow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    items = st.lists(children, max_size=4)
    pairs = st.lists(st.tuples(st.sampled_from(KEYS), children), max_size=4)
    return st.one_of(
        items.map(lambda xs: "[" + ", ".join(xs) + "]"),
        pairs.map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.sampled_from(["!!set {a, b}", "!!omap [a: 1]", "!!pairs [a: 1]"]),
    )


VALUES = st.recursive(st.sampled_from(SCALARS), flow, max_leaves=12)
ANCHORED = st.tuples(VALUES, VALUES).map(
    lambda ab: f"{{x: &anchor {ab[0]}, y: *anchor, z: {ab[1]}}}"
)
FIELDS = [
    "metadata: {{m: {}}}",
    "default_params: {{temperature: 0.5, extra: {}}}",
    "default_params: {{top_p: {}}}",
    "sources: [{{type: collection, id: c, search_config: {{k: {}}}}}]",
    "description: {}",
    "protect: {}",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=st.one_of(VALUES, ANCHORED))
def test_generated_values_are_refused_or_plannable(
    tmp_path_factory, field: str, value: str
) -> None:
    root = tmp_path_factory.mktemp("gen")
    (root / "personas").mkdir()
    (root / "personas" / "gen.yaml").write_text(MINIMAL + field.format(value) + "\n")
    plan_input(DirectoryFiles(root), "personas/gen.yaml")
