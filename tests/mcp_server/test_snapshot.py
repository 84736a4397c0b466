"""The tool list (names, schemas, annotations) is a reviewed contract.

A change fails this test. To accept it, regenerate the snapshot and review the diff:

    UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/mcp_server/test_snapshot.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from tests.snapshots import assert_snapshot

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"


async def test_tool_list_matches_snapshot(client: Client) -> None:
    tools = (await client.list_tools()).tools
    current = [
        {
            "name": t.name,
            "title": t.title,
            "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True)
            if t.annotations
            else None,
            "inputSchema": t.input_schema,
            "outputSchema": t.output_schema,
        }
        for t in sorted(tools, key=lambda t: t.name)
    ]
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    assert_snapshot(SNAPSHOT, text, "the MCP tool list")
