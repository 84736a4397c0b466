"""The schema files editors load: a stable ``$id``, hover help on every property, and
modelines that point at where the schema is from any folder of a persona repo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from personas_as_code.loader.modeline import SCHEMA_FILES, modeline_comment, schema_ref
from personas_as_code.schemas.generate import SCHEMAS, expected_files


def properties(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema anywhere in ``node``, with a readable location."""
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{where}.{name}", sub
        for key, value in node.items():
            yield from properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from properties(value, f"{where}[{index}]")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_property_has_a_description(name: str) -> None:
    schema = json.loads(next(c for p, c in expected_files().items() if p.name == name))
    found = list(properties(schema))
    assert len(found) >= 5
    missing = [where for where, sub in found if not str(sub.get("description", "")).strip()]
    assert missing == []


def test_the_checker_sees_a_missing_description() -> None:
    schema = {"$defs": {"X": {"properties": {"a": {"type": "string"}, "b": {"description": "B"}}}}}
    assert [w for w, sub in properties(schema) if "description" not in sub] == ["/$defs/X.a"]


def test_the_committed_files_are_what_generate_writes() -> None:
    for path, content in expected_files().items():
        assert path.read_text(encoding="utf-8") == content, path.name


def test_each_schema_has_its_own_stable_id() -> None:
    ids = {path.name: json.loads(content)["$id"] for path, content in expected_files().items()}
    assert ids["persona.schema.json"] == "urn:personas-as-code:schema:persona"
    assert ids["config.schema.json"] == "urn:personas-as-code:schema:config"
    assert len(set(ids.values())) == len(ids)


def test_the_modeline_module_names_every_generated_schema() -> None:
    assert set(SCHEMA_FILES) == set(SCHEMAS)


@pytest.mark.parametrize(
    ("file_path", "expected"),
    [
        ("personas/a.yaml", "../schemas/persona.schema.json"),
        ("a.yaml", "schemas/persona.schema.json"),
        ("team/personas/a.yaml", "../../schemas/persona.schema.json"),
        ("personas/sub/dir/a.yaml", "../../../schemas/persona.schema.json"),
        ("./personas//a.yaml", "../schemas/persona.schema.json"),
    ],
)
def test_schema_ref_is_relative_from_the_files_folder(file_path: str, expected: str) -> None:
    assert schema_ref(file_path) == expected


def test_modeline_names_the_schema_of_the_kind_of_file() -> None:
    assert modeline_comment("personas/a.tests.yaml", "persona-tests.schema.json") == (
        "# yaml-language-server: $schema=../schemas/persona-tests.schema.json\n"
    )


@pytest.mark.parametrize("file_path", ["../a.yaml", "personas/../../a.yaml"])
def test_a_path_outside_the_repo_is_refused(file_path: str) -> None:
    with pytest.raises(ValueError, match="outside the repo"):
        schema_ref(file_path)
