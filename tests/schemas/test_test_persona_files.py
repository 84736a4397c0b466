"""Test persona files (``test-personas/<slug>.yaml``) are validated like persona files:
every kind of bad file gets one located problem, and the good files still load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from personas_as_code.loader.repo import load_repo
from personas_as_code.schemas.generate import expected_files

from tests.repos import DATA, EXAMPLES, RepoBuilder

FINE = "name: fine\nsystem_prompt: You are a fine user.\n"

# (file under tests/data/bad/test-personas, expected line, expected message fragment)
BAD_FILES = [
    ("unknown_key", 3, "unknown key 'sytem_prompt'; did you mean 'system_prompt'?"),
    ("credential_header", 5, "header 'Authorization' carries credentials"),
    ("connection_header", 4, "header 'Transfer-Encoding' belongs to the connection"),
    ("bad_header_name", 4, "header name 'X User Language' is not an HTTP token"),
    ("header_value_with_newline", 4, "only printable ASCII and tabs (no line breaks"),
    ("header_not_a_string", 4, "headers.X-Retries: Input should be a valid string"),
    ("headers_differing_in_case", 5, "header 'x-lang' repeats 'X-Lang' (names ignore case)"),
    ("too_many_headers", 4, "headers: Dictionary should have at most 32 items"),
    ("secret_in_header", 4, "looks like a OpenAI-style API key"),
    ("secret_in_prompt", 4, "looks like a AWS access key id"),
    ("prompt_and_prompt_file", 3, "give either system_prompt or system_prompt_file, not both"),
    ("prompt_file_outside", 2, "points outside the repo"),
    ("not_a_mapping", 1, "a test persona file must be a mapping, not list"),
    ("malformed_yaml", 4, "malformed YAML"),
    ("duplicate_key", 3, "duplicate key 'name' (first defined on line 1)"),
    ("date_value", 2, "'2024-05-01' is read as a date or time; quote it"),
    ("wrong_type", 2, "protect: Input should be a valid boolean"),
]


def _with_test_persona(repo: RepoBuilder, slug: str, content: str) -> None:
    repo.write(f"test-personas/{slug}.yaml", content)
    repo.write("test-personas/fine.yaml", FINE)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("name", "line", "fragment"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_reported_with_file_and_line(
    repo: RepoBuilder, name: str, line: int, fragment: str
) -> None:
    slug = name.replace("_", "-")
    _with_test_persona(repo, slug, (DATA / "bad" / "test-personas" / f"{name}.yaml").read_text())

    loaded = load_repo(repo.root)

    (problem,) = loaded.problems
    assert problem.path == f"test-personas/{slug}.yaml"
    assert problem.line == line, str(problem)
    assert fragment in problem.message, str(problem)
    # the bad file is left out, the good one still loads
    assert list(loaded.test_personas.personas) == ["fine"]


def test_a_secret_is_never_quoted_in_the_problem(repo: RepoBuilder) -> None:
    _with_test_persona(
        repo, "leaky", (DATA / "bad" / "test-personas" / "credential_header.yaml").read_text()
    )
    (problem,) = load_repo(repo.root).problems
    assert "abc123" not in str(problem)


def test_names_are_unique_across_files(repo: RepoBuilder) -> None:
    repo.write("test-personas/a.yaml", "name: same\n")
    repo.write("test-personas/b.yaml", "name: same\n")
    repo.write("test-personas/c.yaml", "description: named after its file\n")
    repo.write("test-personas/c-2.yaml", "name: c\n")
    loaded = load_repo(repo.root)
    messages = [str(p) for p in loaded.problems]
    assert messages == [
        "test-personas/b.yaml:1:1: test persona name 'same' is already used by "
        "test-personas/a.yaml; names must be unique",
        "test-personas/c.yaml:1:1: test persona name 'c' is already used by "
        "test-personas/c-2.yaml; names must be unique",
    ]


def test_the_file_name_is_the_slug(repo: RepoBuilder) -> None:
    repo.write("test-personas/Bad_Name.yaml", FINE)
    (problem,) = load_repo(repo.root).problems
    assert "file name 'Bad_Name' is not a valid slug" in problem.message


def test_a_prompt_file_is_read_from_inside_the_repo(repo: RepoBuilder) -> None:
    repo.write("test-personas/prompts/user.md", "You are a user\r\nwho reads files.\n")
    repo.write("test-personas/reader.yaml", "system_prompt_file: prompts/user.md\n")
    loaded = load_repo(repo.root)
    assert loaded.problems == []
    reader = loaded.test_personas.personas["reader"]
    assert reader.name == "reader" and reader.prompt_path == "test-personas/prompts/user.md"
    assert reader.referenced_files == ("test-personas/reader.yaml", "test-personas/prompts/user.md")
    assert "who reads files." in reader.system_prompt


def test_an_oversized_file_is_refused_before_it_is_read(repo: RepoBuilder) -> None:
    path = repo.write("test-personas/huge.yaml", FINE)
    with path.open("r+b") as stream:
        stream.truncate(300 * 1024)  # sparse: nothing to read, only its size
    (problem,) = load_repo(repo.root).problems
    assert problem.code == "file_too_large" and "the limit is 262,144 bytes" in problem.message


def test_the_shipped_examples_are_valid() -> None:
    loaded = load_repo(EXAMPLES)
    assert [p for p in loaded.problems if p.path.startswith("test-personas/")] == []
    assert set(loaded.test_personas.personas) >= {
        "impatient-user",
        "non-native-speaker",
        "confused-beginner",
    }
    for persona in loaded.test_personas.personas.values():
        assert persona.system_prompt and persona.description


def test_the_json_schema_is_generated_and_bounds_headers() -> None:
    (content,) = [c for p, c in expected_files().items() if p.name == "test-persona.schema.json"]
    schema = json.loads(content)
    assert schema["additionalProperties"] is False
    headers = schema["properties"]["headers"]
    assert headers["maxProperties"] == 32
    assert headers["propertyNames"]["maxLength"] == 100
    assert headers["additionalProperties"] == {"type": "string", "maxLength": 4096}
    first_line = (EXAMPLES / "test-personas" / "impatient-user.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../schemas/test-persona.schema.json"


@pytest.mark.slow  # personas validate as a process
def test_validate_reports_test_persona_problems(repo: RepoBuilder) -> None:
    repo.write("personas/fine.yaml", "name: Fine\nmodel: scaigrid/gpt-4o\n")
    _with_test_persona(
        repo, "sneaky", (DATA / "bad" / "test-personas" / "credential_header.yaml").read_text()
    )
    done = subprocess.run(
        [sys.executable, "-m", "personas_as_code.cli.main", "validate", "--repo", str(repo.root)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "test-personas/sneaky.yaml:5:18: headers.Authorization: header" in done.stdout
    assert "Traceback" not in done.stderr
