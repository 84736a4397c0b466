"""Tool inputs: unknown arguments refused by name, bad values in one plain sentence,
descriptions dedented."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.mcp_server.strict_args import plain_error

from tests.mcp_server.conftest import call_error, git

pytestmark = pytest.mark.anyio


def one_plain_sentence(message: str) -> None:
    assert "\n" not in message and "errors.pydantic.dev" not in message
    assert "validation error" not in message and "[type=" not in message


async def test_a_misnamed_search_argument_is_refused(client: Client) -> None:
    message = await call_error(client, "search_personas", search="sql")
    assert "unknown argument 'search'" in message and "query" in message
    one_plain_sentence(message)


async def test_a_misspelt_patch_field_creates_no_draft(client: Client, git_repo: Path) -> None:
    message = await call_error(client, "patch_persona_draft", slug="translator", descriptoin="x")
    assert "unknown argument 'descriptoin'" in message
    nested = await call_error(client, "patch_persona_draft", slug="translator", rag={"topk": 3})
    assert "rag has no field 'topk'" in nested
    one_plain_sentence(nested)
    assert git(git_repo, "for-each-ref", "refs/heads/persona-drafts/") == ""


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("search_personas", {"page_size": 500}, "page_size must be at most 100"),
        ("search_personas", {"page_offset": -1}, "page_offset must be at least 0"),
        ("search_personas", {"page_size": "many"}, "page_size must be an integer"),
        ("search_personas", {"status": "gone"}, "status must be one of 'draft', 'active'"),
        ("get_persona", {"slug": 5}, "slug must be a string"),
        ("get_persona", {"slug": "s" * 65}, "slug must have at most 64 characters"),
        ("duplicate_persona", {"slug": "translator"}, "new_slug is required"),
        ("patch_persona_draft", {"name": "x"}, "give a slug to start a draft"),
        ("patch_persona_draft", {"slug": "translator", "name": ""}, "at least 1 character"),
        ("patch_persona_draft", {"slug": "translator", "rag": {"top_k": 99}}, "rag.top_k must"),
    ],
)
async def test_bad_values_read_as_one_sentence(
    client: Client, tool: str, arguments: dict, expected: str
) -> None:
    message = await call_error(client, tool, **arguments)
    assert message.endswith(expected) or expected in message, message
    assert "INVALID_INPUT" in message
    one_plain_sentence(message)


async def test_many_errors_are_summarised(client: Client) -> None:
    message = await call_error(
        client, "search_personas", page_size=500, page_offset=-1, status="x", rag=[], group=1
    )
    assert message.endswith("and 2 more problems"), message
    one_plain_sentence(message)


def test_an_unmapped_error_keeps_pydantics_sentence() -> None:
    error = {"type": "mystery_kind", "loc": ("x",), "msg": "Something Odd happened", "input": 1}
    assert plain_error(error, []) == "x: something Odd happened"  # type: ignore[arg-type]


async def test_every_tool_is_strict_and_its_description_dedented(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert {"duplicate_persona", "delete_persona", "propose_persona_draft"} <= {
        t.name for t in tools
    }
    for tool in tools:
        assert tool.input_schema.get("additionalProperties") is False, tool.name
        assert "ctx" not in tool.input_schema.get("properties", {}), tool.name
        description = tool.description or ""
        assert description.strip(), tool.name
        assert not any(line.startswith(" ") for line in description.splitlines()), tool.name
        message = await call_error(client, tool.name, slug="translator", bogus_argument=1)
        assert "unknown argument 'bogus_argument'" in message, (tool.name, message)
