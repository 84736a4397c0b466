"""The committed JSON Schema files match the models."""

from __future__ import annotations

import json

from personas_as_code.schemas.generate import REGENERATE_COMMAND, expected_files


def test_committed_schemas_are_current() -> None:
    for path, content in expected_files().items():
        assert path.exists(), f"{path.name} is missing; run `{REGENERATE_COMMAND}`"
        assert path.read_text(encoding="utf-8") == content, (
            f"{path.name} is stale; run `{REGENERATE_COMMAND}` and commit the result"
        )


def test_persona_schema_forbids_unknown_keys_and_carries_ranges() -> None:
    schema = json.loads(
        next(c for p, c in expected_files().items() if p.name.startswith("persona"))
    )
    assert schema["additionalProperties"] is False
    top_k = schema["$defs"]["Rag"]["properties"]["top_k"]
    assert (top_k["minimum"], top_k["maximum"]) == (1, 50)
    weight = schema["$defs"]["Source"]["properties"]["weight"]
    assert (weight["minimum"], weight["maximum"]) == (0.0, 10.0)
