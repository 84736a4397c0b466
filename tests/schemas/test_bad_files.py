"""Every kind of bad persona file gets a clear, located problem."""

from __future__ import annotations

import pytest
from personas_as_code.loader.repo import load_repo

from tests.repos import DATA, MINIMAL, RepoBuilder

# (file under tests/data/bad, expected line, expected message fragment)
BAD_FILES = [
    ("malformed_yaml", 5, "malformed YAML"),
    ("duplicate_key", 4, "duplicate key 'status' (first defined on line 3)"),
    ("unknown_key", 3, "unknown key 'sytem_prompt'; did you mean 'system_prompt'?"),
    ("unknown_nested_key", 5, "unknown key 'rag.topk'; did you mean 'rag.top_k'?"),
    ("wrong_type", 5, "rag.top_k: Input should be a valid integer"),
    ("top_k_out_of_range", 5, "rag.top_k: Input should be less than or equal to 50 (got 51)"),
    ("weight_out_of_range", 6, "sources.0.weight: Input should be less than or equal to 10"),
    ("bad_enum", 5, "rag.strategy: Input should be 'single_step', 'multi_step' or 'agentic'"),
    ("bad_status", 3, "status: Input should be 'draft', 'active' or 'archived' (got 'live')"),
    ("invalid_slug", 2, "slug: String should match pattern"),
    ("slug_mismatch", 2, "slug 'something-else' disagrees with the file name"),
    ("duplicate_source", 8, "sources.2: duplicate source (collection, col_docs)"),
    ("context_without_placeholder", 5, "context_template must contain the $context placeholder"),
    ("custom_without_messages", 6, "mode 'custom' needs a non-empty 'messages' map"),
    ("prompt_and_prompt_file", 4, "either system_prompt or system_prompt_file, not both"),
    ("missing_model", 1, "model: required field is missing"),
    ("alias_bomb", 0, "alias bomb"),
    ("secret_in_prompt", 5, "looks like a OpenAI-style API key"),
    ("private_key_in_prompt", 5, "looks like a private key"),
    ("not_a_mapping", 1, "a persona file must be a mapping, not list"),
    ("duplicate_group", 5, "publish.groups.2: duplicate group mg_qa"),
    # only JSON values, each refused where it stands
    ("date_value", 4, "'2024-05-01' is read as a date or time; quote it"),
    ("set_value", 4, "a set (!!set) is not allowed; only JSON values"),
    ("binary_value", 4, "binary data (!!binary) is not allowed"),
    ("omap_value", 4, "an ordered map (!!omap) is not allowed"),
    ("foreign_tag", 4, "(!!python/object/apply:os.system) is not allowed"),
    ("recursive_alias", 5, "alias '*self' refers to a collection that contains it"),
    ("non_string_key", 5, "map key '1' is not a string; quote it"),
    ("list_as_key", 4, "a list or map cannot be a map key"),
    ("infinity_param", 5, "default_params.top_k: inf is not a JSON number"),
    ("nan_in_search_config", 6, "sources.0.search_config.threshold: nan is not a JSON number"),
    ("huge_integer", 4, "metadata.budget: integer out of the 64-bit range"),
    ("nul_in_string", 3, "description: string contains a NUL character"),
    ("two_documents", 3, "a second YAML document"),
    (
        "unknown_search_type",
        6,
        "search_type must be one of keyword, semantic, hybrid (got 'bogus')",
    ),
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("name", "line", "fragment"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_reported_with_file_and_line(
    repo: RepoBuilder, name: str, line: int, fragment: str
) -> None:
    slug = name.replace("_", "-")
    repo.persona(slug, (DATA / "bad" / f"{name}.yaml").read_text())
    repo.persona("fine", MINIMAL)

    loaded = load_repo(repo.root)

    assert not loaded.ok
    assert "fine" in loaded.personas, "one bad file must not hide the good ones"
    assert slug not in loaded.personas
    path = f"personas/{slug}.yaml"
    matching = [p for p in loaded.problems if fragment in p.message]
    assert matching, f"no problem contains {fragment!r}: {[str(p) for p in loaded.problems]}"
    problem = matching[0]
    assert problem.path == path
    if line:
        assert problem.line == line, str(problem)
        assert str(problem).startswith(f"{path}:{line}:")


def test_every_problem_of_a_file_is_reported_in_one_pass(repo: RepoBuilder) -> None:
    repo.persona("several", (DATA / "bad" / "several_problems.yaml").read_text())
    loaded = load_repo(repo.root)
    located = {(p.line, p.message.split(":")[0]) for p in loaded.problems}
    assert (3, "status") in located
    assert (5, "rag.top_k") in located
    assert (7, "sources.0.type") in located


def test_problems_across_files_are_all_reported(repo: RepoBuilder) -> None:
    for name in ("bad_status", "top_k_out_of_range", "unknown_key"):
        repo.persona(name.replace("_", "-"), (DATA / "bad" / f"{name}.yaml").read_text())
    loaded = load_repo(repo.root)
    assert {p.path for p in loaded.problems} == {
        "personas/bad-status.yaml",
        "personas/top-k-out-of-range.yaml",
        "personas/unknown-key.yaml",
    }


def test_duplicate_slug_across_files_names_both(repo: RepoBuilder) -> None:
    repo.persona("alpha", MINIMAL)
    repo.write("personas/team/alpha.yaml", MINIMAL)
    loaded = load_repo(repo.root)
    dup = [p for p in loaded.problems if p.code == "duplicate_slug"]
    assert len(dup) == 1
    assert dup[0].path == "personas/team/alpha.yaml"
    assert "already used by personas/alpha.yaml" in dup[0].message
    assert list(loaded.personas) == ["alpha"]


def test_previous_slug_may_not_collide_with_another_persona(repo: RepoBuilder) -> None:
    repo.persona("alpha", MINIMAL)
    repo.persona("beta", MINIMAL + "previous_slugs: [alpha]\n")
    loaded = load_repo(repo.root)
    dup = [p for p in loaded.problems if p.code == "duplicate_slug"]
    assert dup and dup[0].path == "personas/beta.yaml" and dup[0].line == 3


def test_file_name_that_is_not_a_slug(repo: RepoBuilder) -> None:
    repo.persona("Not_A_Slug", MINIMAL)
    loaded = load_repo(repo.root)
    assert any("is not a valid slug" in p.message for p in loaded.problems)


def test_oversized_yaml_is_refused_without_parsing(repo: RepoBuilder) -> None:
    repo.persona("huge", MINIMAL + "description: " + "x" * 300_000 + "\n")
    loaded = load_repo(repo.root)
    (problem,) = loaded.problems
    assert problem.code == "file_too_large" and "limit is 262,144 bytes" in problem.message


def test_non_utf8_file(repo: RepoBuilder) -> None:
    repo.write("personas/latin1.yaml", b"name: Caf\xe9\nmodel: m\n")
    loaded = load_repo(repo.root)
    (problem,) = loaded.problems
    assert problem.line == 1 and "not valid UTF-8" in problem.message


def test_secret_in_prompt_file_points_at_its_line(repo: RepoBuilder) -> None:
    repo.write("personas/prompts/p.md", "line one\nline two\ntoken: ghp_" + "a" * 36 + "\n")
    repo.persona("p", MINIMAL + "system_prompt_file: prompts/p.md\n")
    loaded = load_repo(repo.root)
    (problem,) = loaded.problems
    assert (problem.path, problem.line) == ("personas/prompts/p.md", 3)
    assert "GitHub token" in problem.message
