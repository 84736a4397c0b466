"""search_personas over the FTS5 index: substring semantics, ranking, facets, hostile
queries and incremental re-indexing."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.application.index import RepoIndex
from personas_as_code.application.models import SearchFilters
from personas_as_code.application.service import PersonaService
from personas_as_code.mcp_server import build_server

from tests.mcp_server.conftest import call
from tests.repos import RepoBuilder

LONG_WORD = "supercalifragilistic" * 4  # 80 characters: longer than the indexed prefix

PERSONAS = {
    "alpha": ("Refund Helper", "Answers invoices.", "You help with travel.", "col_a"),
    "bravo": ("Travel Desk", "Handles refund questions.", "Be brief.", "col_b"),
    "charlie": ("Charlie", "General help.", "Mention the refund policy.", "col_refund"),
    "delta": ("Delta", "Plain persona.", 'Quote: "exact" NEAR(a b) * a OR b ^x', "col_d"),
    "echo": ("Echo", "Another one.", f"The word {LONG_WORD} is long.", "col_e"),
    "foxtrot": ("Foxtrot", "Für Übersetzungen.", "Ünïcode prompt about refunds.", "col_f"),
}


def persona_yaml(name: str, description: str, prompt: str, source: str, i: int) -> str:
    status = ["active", "draft", "archived"][i % 3]
    return (
        f"name: {name}\nmodel: scaigrid/m{i % 2}\ndescription: {description}\n"
        f"status: {status}\nsystem_prompt: {prompt!r}\n"
        f"publish: {{enabled: {str(i % 2 == 0).lower()}, groups: [mg_{i % 3}]}}\n"
        f"sources: [{{type: collection, id: {source}, name: {source} docs}}]\n"
    )


def build(repo: RepoBuilder) -> Path:
    for i, (slug, (name, description, prompt, source)) in enumerate(PERSONAS.items()):
        repo.persona(slug, persona_yaml(name, description, prompt, source, i))
    return repo.root


def oracle(service: PersonaService, query: str) -> set[str]:
    """Slugs whose name, slug, description, sources or prompt hold every term."""
    terms = query.replace("\x00", " ").lower().split()[:20]
    found = set()
    for slug, persona in service.snapshot().repo.personas.items():
        spec = persona.spec
        sources = " ".join(f"{s.type}:{s.id} {s.name or ''}" for s in spec.sources)
        fields = [spec.name, slug, spec.description or "", sources, persona.system_prompt]
        if all(any(t in f.lower() for f in fields) for t in terms):
            found.add(slug)
    return found


def slugs(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [hit.slug for hit in result.results]


def test_terms_match_as_substrings_of_any_field(repo: RepoBuilder) -> None:
    service = PersonaService(build(repo))
    for query in ["refund", "REFUND", "fund", "elp", "re", "e", "col_", "collection:col_b",
                  "travel refund", "über", "ÜNÏCODE", LONG_WORD, LONG_WORD[:-1] + "x",
                  "supercalifragilistic", "nothing-here", "refund zzz"]:  # fmt: skip
        result = service.search(query, page_size=100)
        assert set(slugs(result)) == oracle(service, query), query
        assert result.total_count == len(oracle(service, query))
    assert slugs(service.search(LONG_WORD)) == ["echo"]
    assert slugs(service.search(LONG_WORD[:-1] + "x")) == []


def test_ranking_follows_the_field_weights(repo: RepoBuilder) -> None:
    service = PersonaService(build(repo))
    result = service.search("refund")
    # name 5 > description 3 > sources 2 > prompt 1; foxtrot's prompt says "refunds"
    assert slugs(result) == ["alpha", "bravo", "charlie", "foxtrot"]
    assert [hit.score for hit in result.results] == [5.0, 3.0, 2.0, 1.0]
    two = service.search("refund travel")
    assert [(h.slug, h.score) for h in two.results] == [("bravo", 8.0), ("alpha", 6.0)]
    fields = {s.field for s in result.results[0].snippets}
    assert "name" in fields and "prompt" not in fields
    page = service.search("refund", page_size=2, page_offset=2)
    assert slugs(page) == ["charlie", "foxtrot"] and page.total_count == 4


def test_facets_and_filters_over_the_matched_set(repo: RepoBuilder) -> None:
    service = PersonaService(build(repo))
    for query in ["", "e", "refund", "o"]:  # all, most (counted from the rest), some
        matched = oracle(service, query)
        result = service.search(query, page_size=100)
        personas = service.snapshot().repo.personas
        expected = Counter(personas[s].spec.status for s in matched)
        assert {f.value: f.count for f in result.facets["status"]} == expected, query
        active = service.search(query, SearchFilters(status="active"), page_size=100)
        assert set(slugs(active)) == {s for s in matched if personas[s].spec.status == "active"}
        assert active.facets == result.facets  # facets are counted before the filters


@pytest.mark.anyio
async def test_hostile_queries_are_plain_text(repo: RepoBuilder) -> None:
    root = build(repo)
    service = PersonaService(root)
    hostile = ['"', '""', "NEAR(", "NEAR(a b)", "*", "a OR", "OR", "AND NOT", "^x", "-",
               "name:refund", "{name}: refund", "'", "\x00", "refund\x00travel",
               "x" * 10_000, "\ud800abc", "abc\udfff", ("refund " * 2_000).strip(),
               "é" * 3_000]  # fmt: skip
    for query in hostile:
        result = service.search(query, page_size=100)
        assert set(slugs(result)) == oracle(service, query), repr(query[:20])
    assert slugs(service.search('"exact"')) == ["delta"]
    assert slugs(service.search("NEAR(a")) == ["delta"]
    assert slugs(service.search("name:refund")) == []
    async with Client(build_server(root)) as client:
        for query in ['"', "NEAR(", "*", "a OR", "x" * 500]:
            result = await call(client, "search_personas", query=query)
            assert {r["slug"] for r in result["results"]} == oracle(service, query)


def test_only_changed_personas_are_reindexed(repo: RepoBuilder) -> None:
    root = build(repo)
    service = PersonaService(root, max_staleness=0)
    assert slugs(service.search("travel")) == ["bravo", "alpha"]
    text_index = service.index.text_index
    assert text_index.indexed_rows == len(PERSONAS)

    path = root / "personas/charlie.yaml"
    path.write_text(path.read_text().replace("General help.", "Travel help."))
    os.utime(path, ns=(1, 1))
    assert slugs(service.search("travel")) == ["bravo", "charlie", "alpha"]
    assert text_index.indexed_rows == len(PERSONAS) + 1  # charlie alone

    (root / "personas/bravo.yaml").unlink()
    repo.persona("golf", persona_yaml("Golf", "Travel agent.", "Hi.", "col_g", 7))
    assert slugs(service.search("travel")) == ["charlie", "golf", "alpha"]
    assert slugs(service.search("brief")) == []  # bravo's prompt is gone
    assert text_index.indexed_rows == len(PERSONAS) + 2
    assert set(slugs(service.search("", page_size=100))) == set(PERSONAS) - {"bravo"} | {"golf"}


def wait_for_cache_saves() -> None:
    for thread in threading.enumerate():
        if thread.name == "parse-cache-save":
            thread.join()


def test_a_restarted_server_starts_from_the_saved_parse_cache(
    repo: RepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    root = build(repo)
    first = PersonaService(root)
    first.search("refund")
    wait_for_cache_saves()
    assert not (root / ".personas").exists()  # a read-only server creates no folder

    (root / ".personas").mkdir()
    first.index.max_staleness = 0
    repo.persona("golf", persona_yaml("Golf", "Travel agent.", "Hi.", "col_g", 7))
    first.search("refund")
    wait_for_cache_saves()
    assert (root / ".personas/parse-cache.json").is_file()

    restarted = PersonaService(root)
    assert slugs(restarted.search("refund")) == ["alpha", "bravo", "charlie", "foxtrot"]
    assert (restarted.cache.hits, restarted.cache.misses) == (len(PERSONAS) + 1, 0)


def test_the_parse_cache_is_not_written_through_a_symlink(
    repo: RepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    root = build(repo)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / ".personas").symlink_to(outside)
    PersonaService(root).search("refund")
    wait_for_cache_saves()
    assert list(outside.iterdir()) == []


def wait_for_background_checks() -> None:
    for thread in threading.enumerate():
        if thread.name == "repo-index-check":
            thread.join()


def test_busy_requests_check_for_changes_in_the_background(repo: RepoBuilder) -> None:
    root = build(repo)
    index = RepoIndex(root, max_staleness=0)
    index.snapshot()
    stable = index.snapshot()  # the fingerprint is settled
    index.max_staleness = 0.5
    path = root / "personas/alpha.yaml"
    path.write_text(path.read_text().replace("Refund Helper", "Refund Expert"))
    os.utime(path, ns=(1, 1))
    time.sleep(0.6)  # older than max_staleness, younger than a pause
    assert index.snapshot() is stable  # answered at once; the walk runs in a thread
    wait_for_background_checks()
    assert index.walker.helper_walks == 1  # walked by the helper process
    assert index.snapshot().repo.personas["alpha"].spec.name == "Refund Expert"

    index.max_staleness = 0.1
    path.write_text(path.read_text().replace("Refund Expert", "Refund Guru"))
    os.utime(path, ns=(2, 2))
    time.sleep(0.5)  # a pause: the request walks first
    assert index.snapshot().repo.personas["alpha"].spec.name == "Refund Guru"


def refs(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in refs(item)]
    return []


@pytest.mark.anyio
async def test_the_search_output_schema_has_no_refs_for_the_client_to_resolve(
    repo: RepoBuilder,
) -> None:
    """The official client validates each result against the output schema; every
    $ref costs it a lookup per item (about 40 % of a page's validation)."""
    from jsonschema.validators import validator_for
    from personas_as_code.application.models import SearchResult
    from personas_as_code.mcp_server.tools_read import inline_refs

    async with Client(build_server(build(repo))) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        schema = tools["search_personas"].output_schema
        assert schema is not None and refs(schema) == [] and "$defs" not in schema
        result = await client.call_tool("search_personas", {"query": "refund"})
        assert not result.is_error and result.structured_content is not None
    good = result.structured_content
    bad = {**good, "results": [{**good["results"][0], "snippets": [{"field": 1}]}]}
    original = SearchResult.model_json_schema()
    for content in (good, bad):  # the inlined schema accepts and refuses the same
        verdicts = [validator_for(s)(s).is_valid(content) for s in (original, schema)]
        assert verdicts[0] == verdicts[1] == (content is good)
    recursive = {"$defs": {"N": {"properties": {"next": {"$ref": "#/$defs/N"}}}},
                 "$ref": "#/$defs/N"}  # fmt: skip
    assert inline_refs(recursive) is recursive
