"""The persona model itself holds only JSON values, however it is built (the MCP server
builds ``DefaultParams`` from tool input, not from a file)."""

from __future__ import annotations

import datetime
import math

import pytest
from personas_as_code.schemas.persona import DefaultParams, PersonaFile
from pydantic import ValidationError

BASE = {"name": "P", "model": "scaigrid/gpt-4o"}


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"temperature": math.nan}, ("temperature",)),
        ({"top_p": math.inf}, ("top_p",)),
        ({"seed_bias": -math.inf}, ("seed_bias",)),
        ({"stop": ["a", {"x": math.nan}]}, ("stop", 1, "x")),
        ({"logit_bias": {"1": 2**70}}, ("logit_bias", "1")),
    ],
)
def test_default_params_refuse_non_json_values(params: dict, loc: tuple) -> None:
    with pytest.raises(ValidationError) as refused:
        DefaultParams.model_validate(params)
    assert tuple(refused.value.errors()[0]["loc"]) == loc


@pytest.mark.parametrize(
    "persona",
    [
        {**BASE, "metadata": {"reviewed": math.inf}},
        {**BASE, "metadata": {"when": datetime.date(2024, 5, 1)}},
        {**BASE, "sources": [{"type": "collection", "id": "c", "search_config": {"t": math.nan}}]},
    ],
)
def test_free_form_maps_refuse_non_json_values(persona: dict) -> None:
    with pytest.raises(ValidationError, match="not a JSON"):
        PersonaFile.model_validate(persona)


def test_json_values_pass() -> None:
    spec = PersonaFile.model_validate(
        {**BASE, "metadata": {"a": [1, 2.5, None, True, {"b": "c"}]}, "default_params": {"x": 1}}
    )
    assert spec.metadata["a"][4] == {"b": "c"} and spec.default_params.model_extra == {"x": 1}
