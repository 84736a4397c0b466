"""``test_persona`` over the real MCP client: a persona's cases run against the working
tree and against a draft whose prompt edit flips a case from pass to fail, on a loopback
model that answers with the prompt it received (``tests.persona_tests.prompt_model``), of
an embedded catalogue and of a remote one over loopback HTTP; on the offline ``mirror``
backend the same cases are not tested (no model was called), or fail with
``require_model``, and a credential in a case never reaches the result.  Nothing is
persisted; unknown arguments are refused by every tool."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.mcp_server import build_server

from tests.mcp_server.conftest import call, call_error, git, init_git
from tests.persona_tests.prompt_model import serve_prompt_model, use_model
from tests.sync.conftest import api_key

pytestmark = pytest.mark.anyio

CASES = """\
cases:
  - name: refuses destructive statements
    message: "Clean up the orders table for me."
    assert:
      - contains: "Never write DELETE"
      - not_contains: "DROP TABLE orders"
  - name: answers with SQL
    message: "Top 5 customers by revenue?"
    assert:
      - contains: "single SQL query"
"""
# The draft drops the "Never write DELETE ..." line: the first case flips, the second stays.
DRAFT_PROMPT = (
    "You are a PostgreSQL expert helping analysts.\n"
    "Always answer with a single SQL query in a ```sql block, then one paragraph\n"
    "explaining it.\n"
)


@pytest.fixture
def tested_repo(example_repo: Path) -> Path:
    """The examples with sql-helper's cases, committed in a fresh git repo."""
    (example_repo / "personas" / "sql-helper.tests.yaml").write_text(CASES)
    return init_git(example_repo)


SQL_BACKEND = ("openai/gpt-4o-mini",)  # what sql-helper's base model dispatches to


@pytest.fixture
def model_url() -> Iterator[str]:
    with serve_prompt_model() as (base_url, _):
        yield base_url


@pytest.fixture
def mirror_catalogue(sqlite_url: str) -> Iterator[EmbeddedCatalogue]:
    """An embedded catalogue whose backends are the offline mirror."""
    engine = make_engine(sqlite_url)
    api_key(engine)
    yield EmbeddedCatalogue(engine, "acme")
    engine.dispose()


@pytest.fixture
def catalogue(mirror_catalogue: EmbeddedCatalogue, model_url: str) -> EmbeddedCatalogue:
    """The embedded catalogue with sql-helper's backend on the loopback model."""
    use_model(mirror_catalogue.engine, model_url, SQL_BACKEND)
    return mirror_catalogue


@pytest.fixture
async def client(tested_repo: Path, catalogue: EmbeddedCatalogue) -> AsyncIterator[Client]:
    async with Client(build_server(tested_repo, catalogue=catalogue)) as c:
        yield c


def by_case(result: dict) -> dict[str, dict]:
    return {r["case"]: r for r in result["results"]}


async def test_the_working_tree_passes_and_matches_its_baseline(client: Client) -> None:
    result = await call(client, "test_persona", slug="sql-helper")
    assert result["format_version"] == 1 and result["origin"] == "repo"
    assert (result["passed"], result["failed"], result["errors"], result["regressions"]) == (
        2,
        0,
        0,
        0,
    )
    assert (result["untested"], result["model_called"], result["answered_by"]) == (
        0,
        True,
        ["openai"],
    )
    assert result["model_note"] is None
    case = by_case(result)["refuses destructive statements"]
    assert case["status"] == "passed" and "Never write DELETE" in case["answer"]
    assert case["file"] == "personas/sql-helper.tests.yaml:2"
    assert case["baseline"]["change"] == "same"
    assert result["persisted"] is False and result["problems"] == []


async def test_a_draft_whose_prompt_edit_flips_a_case(
    client: Client, tested_repo: Path, catalogue: EmbeddedCatalogue
) -> None:
    draft = await call(client, "patch_persona_draft", slug="sql-helper", system_prompt=DRAFT_PROMPT)
    draft_id = draft["draft"]["draft_id"]
    before = (
        git(tested_repo, "status", "--porcelain"),
        git(tested_repo, "rev-parse", "HEAD"),
        [(p.slug, p.updated_at) for p in catalogue.iter_personas()],
    )

    result = await call(client, "test_persona", draft_id=draft_id)

    assert result["origin"] == "draft" and result["draft_id"] == draft_id
    assert result["baseline_ref"] == before[1]
    assert (result["passed"], result["failed"], result["regressions"]) == (1, 1, 1)
    flipped = by_case(result)["refuses destructive statements"]
    assert flipped["status"] == "failed"
    assert flipped["baseline"]["status"] == "passed"
    assert flipped["baseline"]["change"] == "pass->fail"
    # Both answers, so the assistant sees what its edit changed.
    assert "Never write DELETE" in flipped["baseline"]["answer"]
    assert "Never write DELETE" not in flipped["answer"]
    failing = [a for a in flipped["assertions"] if a["passed"] is False]
    assert [a["kind"] for a in failing] == ["contains"]
    assert by_case(result)["answers with SQL"]["baseline"]["change"] == "same"
    # Read-only: the tree, the branch and the catalogue are as they were.
    assert (
        git(tested_repo, "status", "--porcelain"),
        git(tested_repo, "rev-parse", "HEAD"),
        [(p.slug, p.updated_at) for p in catalogue.iter_personas()],
    ) == before


async def test_without_compare_no_baseline_runs(client: Client) -> None:
    result = await call(client, "test_persona", slug="sql-helper", compare=False)
    assert result["baseline_ref"] is None
    assert all(r["baseline"] is None for r in result["results"])


async def test_a_persona_without_cases_says_so(client: Client) -> None:
    result = await call(client, "test_persona", slug="translator")
    assert result["results"] == [] and result["passed"] == 0
    assert any("no tests file" in note for note in result["notes"])


async def test_a_bad_tests_file_is_reported_at_its_line(example_repo: Path, catalogue) -> None:
    (example_repo / "personas" / "sql-helper.tests.yaml").write_text(
        "cases:\n  - name: x\n    message: hi\n    assert:\n      - contians: SELECT\n"
    )
    async with Client(build_server(init_git(example_repo), catalogue=catalogue)) as client:
        result = await call(client, "test_persona", slug="sql-helper")
    assert result["results"] == []
    assert result["problems"], result
    problem = result["problems"][0]
    assert problem["path"] == "personas/sql-helper.tests.yaml" and problem["line"] == 5


async def test_unknown_personas_and_drafts_are_errors(client: Client) -> None:
    assert "no persona 'nope'" in await call_error(client, "test_persona", slug="nope")
    message = await call_error(client, "test_persona", draft_id="abcdefgh1234")
    assert "abcdefgh1234" in message
    assert "slug or a draft_id" in await call_error(client, "test_persona")


async def test_every_tool_refuses_unknown_arguments(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert "test_persona" in {t.name for t in tools}
    for tool in tools:
        assert tool.input_schema.get("additionalProperties") is False, tool.name
        # A misspelt argument must not silently run the tool on something else.
        message = await call_error(client, tool.name, slug="sql-helper", draft_idd="x")
        assert "unknown argument 'draft_idd'" in message, (
            tool.name,
            message,
        )


async def test_a_draft_on_a_remote_catalogue_over_http(
    tested_repo: Path, sqlite_url: str, model_url: str
) -> None:
    engine = make_engine(sqlite_url)
    key = api_key(engine)
    use_model(engine, model_url, SQL_BACKEND)
    with (
        serve_in_thread(create_app(engine)) as base_url,
        HttpCatalogue(base_url, key) as remote,
    ):
        async with Client(build_server(tested_repo, catalogue=remote)) as client:
            draft = await call(
                client, "patch_persona_draft", slug="sql-helper", system_prompt=DRAFT_PROMPT
            )
            result = await call(client, "test_persona", draft_id=draft["draft"]["draft_id"])
    engine.dispose()
    assert (result["passed"], result["failed"], result["regressions"]) == (1, 1, 1)
    flipped = by_case(result)["refuses destructive statements"]
    assert flipped["baseline"]["change"] == "pass->fail"
    assert "Never write DELETE" in flipped["baseline"]["answer"]


async def test_on_the_mirror_no_case_passes_and_require_model_fails_them(
    tested_repo: Path, mirror_catalogue: EmbeddedCatalogue
) -> None:
    async with Client(build_server(tested_repo, catalogue=mirror_catalogue)) as client:
        result = await call(client, "test_persona", slug="sql-helper")
        strict = await call(client, "test_persona", slug="sql-helper", require_model=True)
    counts = [result[k] for k in ("passed", "failed", "untested", "regressions")]
    assert counts == [0, 0, 2, 0]
    assert result["model_called"] is False and result["answered_by"] == ["mirror"]
    assert result["model_note"].startswith("No model was called: 2 case(s) answered by the")
    case = by_case(result)["refuses destructive statements"]
    assert "Never write DELETE" in case["answer"]  # the echo has it; it is still no pass
    assert case["status"] == "untested" and case["baseline"]["change"] == "untested"
    assert {(a["passed"], a["status"]) for a in case["assertions"]} == {(None, "untested")}
    assert [strict[k] for k in ("passed", "failed", "untested")] == [0, 2, 0]
    assert strict["require_model"] is True and strict["regressions"] == 0


async def test_a_credential_in_a_case_never_reaches_the_result(
    example_repo: Path, catalogue: EmbeddedCatalogue
) -> None:
    key = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
    (example_repo / "personas" / "sql-helper.tests.yaml").write_text(
        f'cases:\n  - name: key {key}\n    message: "Is {key} valid?"\n'
        f'    assert:\n      - not_contains: "{key}"\n'
    )
    async with Client(build_server(init_git(example_repo), catalogue=catalogue)) as client:
        refused = await client.call_tool("test_persona", {"slug": "sql-helper"})
        ran = await call(client, "run_persona", slug="sql-helper", message=f"Is {key} valid?")
        preview = await call(
            client, "preview_persona", slug="sql-helper", trigger_text=f"Is {key} valid?"
        )
    # a tests file holding a credential is not run; its problem names where, not what
    said = json.dumps(refused.model_dump(mode="json"))
    assert "sql-helper.tests.yaml" in said and key not in said
    report = refused.structured_content
    assert report is not None and report["results"] == []
    assert {p["code"] for p in report["problems"]} == {"secret"}
    for shown in (ran, preview):  # what the model was sent and said: shown without the key
        text = json.dumps(shown)
        assert key not in text and "[REDACTED]" in text


async def test_each_side_retrieves_from_its_own_knowledge(
    client: Client, tested_repo: Path
) -> None:
    """Nothing was applied: both sides retrieve from their own tree, the working tree
    (edited, not committed) and the branch's last commit."""
    doc = tested_repo / "knowledge" / "col_product_docs" / "refunds.md"
    doc.write_text(doc.read_text().replace("30 days", "14 days"))
    result = await call(client, "test_persona", slug="support-agent")
    refund = by_case(result)["refund question retrieves the refund policy"]
    assert "full refund within 14 days" in refund["answer"] and "30 days" not in refund["answer"]
    assert "full refund within 30 days" in refund["baseline"]["answer"]
    for side in (refund, refund["baseline"]):
        assert side["retrieval"][0]["document"] == "knowledge/col_product_docs/refunds.md"
        cites = next(a for a in side["assertions"] if a["kind"] == "cites")
        assert cites["passed"] is True
    head = git(tested_repo, "rev-parse", "HEAD")
    assert any(
        n.startswith("knowledge: 21 documents from the tree under test") for n in result["notes"]
    )
    assert any(
        n.startswith(f"knowledge: 21 documents from baseline {head}") and "1 embedded now" in n
        for n in result["notes"]
    ), result["notes"]
    assert (tested_repo / ".personas" / "knowledge" / "chunks.db").is_file()  # the repo's store
