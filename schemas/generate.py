"""Generate the JSON Schema files editors use: ``python -m personas_as_code.schemas.generate``.

Each schema carries a stable ``$id`` (``urn:personas-as-code:schema:<name>``) that
does not change between releases, so tools can key caches and catalogues on it.
``tests/schemas/test_json_schema.py`` fails when the committed files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from personas_as_code.schemas.collection import CollectionFile
from personas_as_code.schemas.config import RepoConfig
from personas_as_code.schemas.persona import PersonaFile
from personas_as_code.schemas.persona_tests import PersonaTestsFile
from personas_as_code.schemas.simulated_user import SimulatedUserFile
from pydantic import BaseModel

SCHEMA_DIR = Path(__file__).resolve().parent  # the source folder, not a strict install's link
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "persona.schema.json": (PersonaFile, "A persona file of a personas-as-code repo."),
    "config.schema.json": (RepoConfig, "personas.toml, the repo config of personas-as-code."),
    "test-persona.schema.json": (
        SimulatedUserFile,
        "test-personas/<slug>.yaml: a simulated user of personas-as-code persona tests.",
    ),
    "persona-tests.schema.json": (
        PersonaTestsFile,
        "personas/<slug>.tests.yaml: the test cases of one persona of personas-as-code.",
    ),
    "collection.schema.json": (
        CollectionFile,
        "knowledge/<source_id>/collection.yaml: one knowledge folder of personas-as-code.",
    ),
}
REGENERATE_COMMAND = "python -m personas_as_code.schemas.generate"
SCHEMA_ID_PREFIX = "urn:personas-as-code:schema:"


def schema_id(file_name: str) -> str:
    """The stable ``$id`` of a schema file: ``persona.schema.json`` -> ``urn:...:persona``."""
    return SCHEMA_ID_PREFIX + file_name.removesuffix(".schema.json")


def render(model: type[BaseModel], description: str, file_name: str) -> str:
    """The JSON Schema of ``model`` as stable, pretty-printed text."""
    schema = _defs_named_by_title(model.model_json_schema(mode="validation"))
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id(file_name),
        "description": description,
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _defs_named_by_title(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each ``$defs`` entry keyed by its title: a model whose class name
    differs from the name the files have always used (the simulated user's file model
    is titled "TestPersonaFile") keeps that name for editors."""
    defs = schema.get("$defs", {})
    renames = {key: d["title"] for key, d in defs.items() if d.get("title", key) != key}
    if not renames:
        return schema
    clash = set(renames.values()) & (defs.keys() - renames.keys())
    if clash:
        raise ValueError(f"$defs titles clash with other definitions: {sorted(clash)}")
    text = json.dumps(schema)
    for old, new in renames.items():
        text = text.replace(json.dumps(f"#/$defs/{old}"), json.dumps(f"#/$defs/{new}"))
    renamed: dict[str, Any] = json.loads(text)
    renamed["$defs"] = {renames.get(k, k): v for k, v in renamed["$defs"].items()}
    return renamed


def expected_files() -> dict[Path, str]:
    """Each schema file's path and the content it should have."""
    return {SCHEMA_DIR / name: render(model, desc, name) for name, (model, desc) in SCHEMAS.items()}


def main() -> int:
    for path, content in expected_files().items():
        path.write_text(content, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
