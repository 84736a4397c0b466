"""The read-only tools over the example repo, in process with the real MCP client."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from personas_as_code.mcp_server import build_server

from tests.mcp_server.conftest import call, call_error

pytestmark = pytest.mark.anyio

WRITE_TOOLS = {
    "patch_persona_draft",
    "discard_persona_draft",
    "duplicate_persona",
    "delete_persona",
    "propose_persona_draft",
}


async def test_every_tool_has_annotations_and_output_schema(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} >= {
        "get_persona",
        "search_personas",
        "export_personas",
        "preview_persona",
        "validate_personas",
        "list_persona_drafts",
        *WRITE_TOOLS,
    }
    for tool in tools:
        a = tool.annotations
        assert a is not None, tool.name
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert getattr(a, hint) is not None, (tool.name, hint)
        assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name
        assert a.read_only_hint is (tool.name not in WRITE_TOOLS)
    by_name = {t.name: t for t in tools}
    assert by_name["discard_persona_draft"].annotations.destructive_hint is True
    assert by_name["patch_persona_draft"].annotations.destructive_hint is False
    assert by_name["patch_persona_draft"].annotations.idempotent_hint is False


async def test_read_only_mode_hides_write_tools(git_repo: Path) -> None:
    async with Client(build_server(git_repo, read_only=True)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert not names & WRITE_TOOLS
    assert "get_persona" in names


async def test_get_persona(client: Client, git_repo: Path) -> None:
    view = await call(client, "get_persona", slug="support-agent")
    assert view["origin"] == "repo" and view["valid"] is True
    assert view["path"] == "personas/support-agent.yaml"
    assert view["yaml_text"] == (git_repo / "personas/support-agent.yaml").read_text()
    assert view["fields"]["rag"]["top_k"] == 5
    assert view["system_prompt"].startswith("You are the support agent")
    assert view["last_commit"]["summary"] == "initial personas"
    assert view["last_commit"]["author"].startswith("Test User")
    assert view["catalogue"] is None  # no catalogue configured


async def test_get_persona_with_prompt_file(client: Client) -> None:
    view = await call(client, "get_persona", slug="onboarding-coach")
    assert view["prompt_path"] == "personas/prompts/onboarding-coach.md"
    assert "Onboarding Coach" in view["system_prompt"]


async def test_get_renamed_slug_says_so(client: Client) -> None:
    message = await call_error(client, "get_persona", slug="doc-translator")
    assert "NOT_FOUND" in message and "renamed to 'translator'" in message


async def test_search_text_snippets_and_facets(client: Client) -> None:
    result = await call(client, "search_personas", query="support")
    slugs = [r["slug"] for r in result["results"]]
    assert slugs[0] == "support-agent" and result["total_count"] == len(slugs)
    assert any(s["field"] == "name" for s in result["results"][0]["snippets"])
    statuses = {f["value"]: f["count"] for f in result["facets"]["status"]}
    assert sum(statuses.values()) == result["total_count"]


async def test_search_filters_and_pagination(client: Client) -> None:
    everything = await call(client, "search_personas")
    assert everything["total_count"] == 7
    facets = {k: {f["value"]: f["count"] for f in v} for k, v in everything["facets"].items()}
    assert facets["rag"] == {"on": 5, "off": 2}
    assert facets["group"]["mg_internal_chat"] == 4

    published = await call(client, "search_personas", published=True, rag=True)
    assert {r["slug"] for r in published["results"]} == {
        "support-agent",
        "legal-reviewer",
        "onboarding-coach",
    }
    drive = await call(client, "search_personas", source_type="scaidrive")
    assert {r["slug"] for r in drive["results"]} == {"legal-reviewer", "onboarding-coach"}
    group = await call(client, "search_personas", group="mg_qa", model="scaigrid/llama-3.1-8b")
    assert [r["slug"] for r in group["results"]] == ["translator"]
    src = await call(client, "search_personas", source_id="col_faq_2024", status="archived")
    assert [r["slug"] for r in src["results"]] == ["legacy-faq-bot"]

    page1 = await call(client, "search_personas", page_size=3)
    page3 = await call(client, "search_personas", page_size=3, page_offset=6)
    assert len(page1["results"]) == 3 and len(page3["results"]) == 1
    assert page3["total_count"] == 7
    too_big = await client.call_tool("search_personas", {"page_size": 1000})
    assert too_big.is_error


async def test_search_prompt_text_and_no_match(client: Client) -> None:
    hit = await call(client, "search_personas", query="playbook redline")
    assert [r["slug"] for r in hit["results"]] == ["legal-reviewer"]
    none = await call(client, "search_personas", query="zzz-nothing")
    assert none["total_count"] == 0 and none["results"] == []


async def test_export_csv_and_json(client: Client, git_repo: Path) -> None:
    result = await call(client, "export_personas", status="active")
    assert result["row_count"] == 5
    assert result["relative_path"].startswith(".personas/exports/")
    written = Path(result["path"])
    assert written.is_file() and written.is_relative_to(git_repo / ".personas/exports")
    rows = list(csv.DictReader(io.StringIO(result["content"])))
    support = next(r for r in rows if r["slug"] == "support-agent")
    assert support["groups"] == "mg_internal_chat; mg_support"
    assert support["sources"].startswith("collection:col_product_docs(w=1.5,active")
    assert "; collection:col_help_centre(" in support["sources"]

    as_json = await call(client, "export_personas", format="json", file_name="all.json")
    assert as_json["relative_path"] == ".personas/exports/all.json"
    document = json.loads(as_json["content"])
    assert document["format_version"] == 1 and len(document["personas"]) == 7
    bad = await call_error(client, "export_personas", file_name="../escape.csv")
    assert "INVALID_INPUT" in bad


async def test_preview_blocks_budget_and_trimming(client: Client) -> None:
    history = [{"role": "user", "content": f"question {i} " * 50} for i in range(3)]
    p = await call(
        client,
        "preview_persona",
        slug="onboarding-coach",
        trigger_text="Where is the handbook?",
        history=history,
        temperature=0.9,
    )
    sources = [b["source"] for b in p["messages"]]
    assert sources == [
        "system:persona",
        "rag:context",
        "history:0",
        "history:1",
        "history:2",
        "trigger",
    ]
    assert p["messages"][0]["priority"] == 100 and p["messages"][-1]["priority"] == 0
    priorities = [b["priority"] for b in p["messages"][2:5]]
    assert priorities == sorted(priorities)  # newer history, higher priority
    rag = p["messages"][1]["content"]
    # retrieval ran over the working tree's knowledge (the filler history drowns the query)
    assert "[retrieval ran and found nothing at min_score 0.25]" in rag
    assert "shr_hr_onboarding" in rag
    assert "Skipped (disabled)" in rag and "col_old_wiki" in rag
    assert rag.startswith("Company documents relevant")  # the persona's context_template
    assert p["params"] == {"temperature": 0.9, "max_tokens": 1200}
    assert p["context_window"] == 200_000 and p["context_window_source"] == "builtin"
    assert p["budget"] == 200_000 - 1200 and p["would_be_trimmed"] == []
    assert p["estimated_tokens"] == sum(b["tokens"] for b in p["messages"])
    assert "approx" in p["token_estimator"]

    # llama-3.1-8b has 8192 tokens: a long history must be trimmed, oldest first
    long = [{"role": "user", "content": "word " * 3000} for _ in range(3)]
    t = await call(client, "preview_persona", slug="translator", history=long, trigger_text="hi")
    assert t["budget"] == 8192 - 1500
    assert t["would_be_trimmed"][:2] == ["history:0", "history:1"]
    assert "system:persona" not in t["would_be_trimmed"] and "trigger" not in t["would_be_trimmed"]


async def test_preview_without_rag_and_with_override(client: Client) -> None:
    p = await call(
        client,
        "preview_persona",
        slug="sql-helper",
        system_prompt_override="Be brief.",
        max_tokens=50,
    )
    assert [b["source"] for b in p["messages"]] == ["system:persona"]
    assert p["messages"][0]["content"] == "Be brief."
    assert p["params"]["max_tokens"] == 50 and p["reply_reservation"] == 50


async def test_validate(client: Client) -> None:
    report = await call(client, "validate_personas")
    assert (
        report["valid"] is True and report["personas"] == 7 and report["target"] == "working tree"
    )


async def test_resources(client: Client, git_repo: Path) -> None:
    text = (await client.read_resource("persona://translator")).contents[0]
    assert text.text == (git_repo / "personas/translator.yaml").read_text()
    assert text.mime_type == "text/yaml"
    schema = json.loads((await client.read_resource("schema://persona")).contents[0].text)
    assert "properties" in schema and "system_prompt" in schema["properties"]
    with pytest.raises(MCPError):
        await client.read_resource("persona://no-such-persona")
