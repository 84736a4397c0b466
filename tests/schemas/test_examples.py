"""The shipped example personas are valid and exercise the whole format."""

from __future__ import annotations

from pathlib import Path

from personas_as_code.loader.repo import load_repo

MODELINE = "# yaml-language-server: $schema=../schemas/persona.schema.json"


def test_examples_are_valid(example_repo: Path) -> None:
    loaded = load_repo(example_repo)
    assert loaded.problems == []
    assert len(loaded.personas) >= 6


def test_examples_exercise_the_format(example_repo: Path) -> None:
    specs = [p.spec for p in load_repo(example_repo).personas.values()]
    personas = list(load_repo(example_repo).personas.values())
    sources = [s for spec in specs for s in spec.sources]
    assert any(s.rag.enabled for s in specs) and any(not s.rag.enabled for s in specs)
    assert {s.type for s in sources} == {"collection", "scaidrive"}
    assert any(s.status == "disabled" for s in sources)
    assert any(s.search_config for s in sources) and any(s.weight != 1.0 for s in sources)
    assert any(s.rag.status_messages.mode == "custom" for s in specs)
    assert any(p.prompt_path for p in personas)
    assert {p.avatar.mime for p in personas if p.avatar} == {"image/png", "image/svg+xml"}
    assert any(s.status == "draft" and not s.publish.enabled for s in specs)
    assert any(s.status == "archived" for s in specs)
    assert any(s.publish.groups for s in specs)
    assert any(s.protect for s in specs)


def test_example_files_carry_the_schema_modeline(example_repo: Path) -> None:
    tests_modeline = MODELINE.replace("persona.schema.json", "persona-tests.schema.json")
    for path in (example_repo / "personas").glob("*.yaml"):
        expected = tests_modeline if path.name.endswith(".tests.yaml") else MODELINE
        assert path.read_text().splitlines()[0] == expected, path.name
