"""Resources, prompts, completion and logging/setLevel through the real MCP client."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, PromptReference, ResourceTemplateReference
from personas_as_code.application.service import PersonaService
from personas_as_code.mcp_server import build_server
from personas_as_code.mcp_server.resources import PAGE_SIZE

from tests.repos import MINIMAL, RepoBuilder

pytestmark = pytest.mark.anyio

MANY = PAGE_SIZE * 2 + 50
PROMPT_REF = PromptReference(type="ref/prompt", name="review_persona_prompt")
TEMPLATE_REF = ResourceTemplateReference(type="ref/resource", uri="persona://{slug}")


@pytest.fixture
def many_repo(repo: RepoBuilder) -> RepoBuilder:
    """A repo with more personas than two pages of resources/list hold."""
    for n in range(MANY):
        repo.persona(f"p-{n:04d}", MINIMAL.replace("Minimal", f"Persona {n}"))
    return repo


@pytest.fixture
async def many_client(many_repo: RepoBuilder) -> AsyncIterator[Client]:
    service = PersonaService(many_repo.root, max_staleness=0)
    async with Client(build_server(many_repo.root, service=service)) as c:
        yield c


async def expect_invalid_params(call: object) -> str:
    """Await ``call``; it must fail with JSON-RPC invalid params. Return the message."""
    with pytest.raises(MCPError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code == INVALID_PARAMS, caught.value.error
    return caught.value.error.message


# --- resources -----------------------------------------------------------------


async def test_resources_list_every_persona_with_its_name_and_description(
    client: Client, git_repo: Path
) -> None:
    listed = (await client.list_resources()).resources
    personas = {r.name: r for r in listed if r.uri.startswith("persona://")}
    assert sorted(personas) == sorted(
        p.stem for p in (git_repo / "personas").glob("*.yaml") if ".tests" not in p.name
    )
    sql = personas["sql-helper"]
    assert (sql.uri, sql.title, sql.mime_type) == (
        "persona://sql-helper",
        "SQL Helper",
        "text/yaml",
    )
    assert sql.description and sql.description.startswith("Writes and explains PostgreSQL")
    assert "schema://persona" in {r.uri for r in listed}
    for resource in personas.values():  # every listed uri reads back its file
        text = (await client.read_resource(resource.uri)).contents[0].text  # type: ignore[union-attr]
        assert text == (git_repo / f"personas/{resource.name}.yaml").read_text()


async def test_system_prompt_resource_resolves_the_prompt_file(
    client: Client, git_repo: Path
) -> None:
    text = (await client.read_resource("persona://onboarding-coach/system-prompt")).contents[0]
    assert text.text == (git_repo / "personas/prompts/onboarding-coach.md").read_text()  # type: ignore[union-attr]
    with pytest.raises(MCPError):
        await client.read_resource("persona://no-such-persona/system-prompt")


async def test_resources_list_pages_by_slug_and_survives_a_persona_added_between_pages(
    many_client: Client, many_repo: RepoBuilder
) -> None:
    first = await many_client.list_resources(cache_mode="bypass")
    first_slugs = [r.name for r in first.resources if r.uri.startswith("persona://")]
    assert first_slugs == [f"p-{n:04d}" for n in range(PAGE_SIZE)]
    assert first.next_cursor
    many_repo.persona("a-new-one", MINIMAL)  # sorts before every page already read
    seen = list(first_slugs)
    cursor = first.next_cursor
    while cursor:
        page = await many_client.list_resources(cursor=cursor, cache_mode="bypass")
        assert all(r.uri.startswith("persona://") for r in page.resources)  # schema: page 1 only
        seen += [r.name for r in page.resources]
        cursor = page.next_cursor
    assert seen == [f"p-{n:04d}" for n in range(MANY)]


@pytest.mark.parametrize("cursor", ["garbage", "YWZ0ZXI", "x" * 5000, "Zm9vOmJhcg=="])
async def test_a_bad_cursor_is_invalid_params(client: Client, cursor: str) -> None:
    message = await expect_invalid_params(client.list_resources(cursor=cursor, cache_mode="bypass"))
    assert "invalid cursor" in message


# --- prompts -------------------------------------------------------------------


async def test_prompts_are_listed_with_their_arguments(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) == {"draft_new_persona", "review_persona_prompt"}
    draft = {a.name: a.required for a in prompts["draft_new_persona"].arguments or []}
    assert draft == {"purpose": True, "audience": False, "model": False}
    review = prompts["review_persona_prompt"].arguments or []
    assert [(a.name, a.required) for a in review] == [("slug", True)]


async def test_review_prompt_embeds_the_persona_file_and_its_prompt_file(
    client: Client, git_repo: Path
) -> None:
    result = await client.get_prompt("review_persona_prompt", {"slug": "onboarding-coach"})
    text, persona, prompt = result.messages
    assert "onboarding-coach" in text.content.text  # type: ignore[union-attr]
    assert "patch_persona_draft" in text.content.text  # type: ignore[union-attr]
    assert persona.content.resource.uri == "persona://onboarding-coach"  # type: ignore[union-attr]
    yaml_file = git_repo / "personas/onboarding-coach.yaml"
    assert persona.content.resource.text == yaml_file.read_text()  # type: ignore[union-attr]
    prompt_file = git_repo / "personas/prompts/onboarding-coach.md"
    assert prompt.content.resource.text == prompt_file.read_text()  # type: ignore[union-attr]


async def test_review_prompt_of_an_invalid_file_names_its_issues(
    client: Client, git_repo: Path
) -> None:
    (git_repo / "personas/broken.yaml").write_text("name: Broken\nmodel: [not, a, string]\n")
    result = await client.get_prompt("review_persona_prompt", {"slug": "broken"})
    text = result.messages[0].content.text  # type: ignore[union-attr]
    assert "validation error at personas/broken.yaml:2" in text
    assert [m.content.type for m in result.messages] == ["text", "resource"]


async def test_read_only_server_offers_no_drafting_prompt(git_repo: Path) -> None:
    async with Client(build_server(git_repo, read_only=True)) as c:
        names = [p.name for p in (await c.list_prompts()).prompts]
        assert names == ["review_persona_prompt"]
        review = await c.get_prompt("review_persona_prompt", {"slug": "translator"})
        text = review.messages[0].content.text  # type: ignore[union-attr]
        assert "read-only" in text and "patch_persona_draft" not in text
        await expect_invalid_params(c.get_prompt("draft_new_persona", {"purpose": "x"}))


async def test_review_prompt_of_an_inline_prompt_embeds_only_the_file(client: Client) -> None:
    result = await client.get_prompt("review_persona_prompt", {"slug": "sql-helper"})
    assert [m.content.type for m in result.messages] == ["text", "resource"]


async def test_draft_prompt_carries_the_purpose_literally_and_the_schema(client: Client) -> None:
    purpose = "Answer {questions} about <b>invoices</b> & refunds"
    result = await client.get_prompt("draft_new_persona", {"purpose": purpose})
    text, schema = result.messages
    assert purpose in text.content.text  # type: ignore[union-attr]
    assert "new_persona=true" in text.content.text  # type: ignore[union-attr]
    assert schema.content.resource.uri == "schema://persona"  # type: ignore[union-attr]
    assert '"properties"' in schema.content.resource.text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("no_such_prompt", {}, "unknown prompt 'no_such_prompt'"),
        ("review_persona_prompt", {}, "needs the argument 'slug'"),
        ("review_persona_prompt", {"slug": "x", "slugg": "y"}, "takes no argument 'slugg'"),
        ("review_persona_prompt", {"slug": "nobody"}, "no persona 'nobody'"),
        ("review_persona_prompt", {"slug": "../etc/passwd"}, "slug"),
        ("draft_new_persona", {"purpose": "   "}, "argument 'purpose' is empty"),
        ("draft_new_persona", {"purpose": "x" * 5000}, "longer than 2000 characters"),
    ],
)
async def test_bad_prompt_requests_are_invalid_params_without_a_traceback(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    name: str,
    arguments: dict[str, str],
    expected: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    message = await expect_invalid_params(client.get_prompt(name, arguments))
    assert expected in message
    assert "Traceback" not in message
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert "Traceback" not in caplog.text


# --- completion ----------------------------------------------------------------


async def test_slug_completes_for_the_prompt_argument_and_the_template(client: Client) -> None:
    by_prompt = (await client.complete(PROMPT_REF, {"name": "slug", "value": "s"})).completion
    assert (by_prompt.values, by_prompt.total, by_prompt.has_more) == (
        ["sql-helper", "support-agent"],
        2,
        False,
    )
    by_template = (await client.complete(TEMPLATE_REF, {"name": "slug", "value": "TR"})).completion
    assert by_template.values == ["translator"]
    nothing = (await client.complete(TEMPLATE_REF, {"name": "slug", "value": "zz"})).completion
    assert (nothing.values, nothing.total) == ([], 0)


async def test_model_argument_completes_from_the_repos_models(client: Client) -> None:
    ref = PromptReference(type="ref/prompt", name="draft_new_persona")
    models = (await client.complete(ref, {"name": "model", "value": "scaigrid/gpt-4o"})).completion
    assert "scaigrid/gpt-4o-mini" in models.values
    assert all(m.startswith("scaigrid/gpt-4o") for m in models.values)
    free_text = (await client.complete(ref, {"name": "purpose", "value": "sup"})).completion
    assert free_text.values == []


async def test_completion_is_capped_at_100_with_the_total(many_client: Client) -> None:
    result = (await many_client.complete(PROMPT_REF, {"name": "slug", "value": "p-"})).completion
    assert result.values == [f"p-{n:04d}" for n in range(100)]
    assert (result.total, result.has_more) == (MANY, True)


@pytest.mark.parametrize(
    ("ref", "argument", "expected"),
    [
        (PromptReference(type="ref/prompt", name="nope"), "slug", "unknown prompt 'nope'"),
        (PROMPT_REF, "colour", "no argument 'colour'"),
        (
            ResourceTemplateReference(type="ref/resource", uri="persona://{id}"),
            "id",
            "unknown resource template",
        ),
    ],
)
async def test_completing_what_the_server_does_not_have_is_invalid_params(
    client: Client, ref: PromptReference | ResourceTemplateReference, argument: str, expected: str
) -> None:
    message = await expect_invalid_params(client.complete(ref, {"name": argument, "value": ""}))
    assert expected in message


# --- logging -------------------------------------------------------------------


# logging/setLevel is deprecated from protocol 2026-07-28 on; 2025-era clients still send it.
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_logging_set_level_is_advertised_and_honoured(git_repo: Path) -> None:
    received: list[tuple[str, str]] = []

    async def on_log(params: object) -> None:
        received.append((params.level, params.data))  # type: ignore[attr-defined]

    server = build_server(git_repo)
    async with Client(server, mode="legacy", logging_callback=on_log) as c:
        caps = c.server_capabilities
        assert caps.logging is not None and caps.completions is not None and caps.prompts
        await c.set_logging_level("debug")
        await c.call_tool("get_persona", {"slug": "translator"})
        assert ("debug", "logging/setLevel answered") in [(lv, d[:25]) for lv, d in received]
        assert any(
            lv == "debug" and d.startswith("tools/call get_persona answered") for lv, d in received
        )

        received.clear()
        await c.set_logging_level("warning")
        await c.call_tool("get_persona", {"slug": "translator"})
        await c.call_tool("get_persona", {"slug": "nobody"})
        assert [lv for lv, _ in received] == ["warning"]
        assert "tools/call get_persona failed" in received[0][1] and "nobody" in received[0][1]

        received.clear()
        await c.set_logging_level("error")
        await c.call_tool("get_persona", {"slug": "nobody"})
        with pytest.raises(MCPError):
            await c.get_prompt("nope", {})
        assert received == []
