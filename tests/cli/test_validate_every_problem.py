"""Issue 20, "never pretend": ``validate`` reports every problem of a file in one run, as
yaml-language-server does -- a duplicate key no longer hides a bad enum, an unknown key
and a leaked key -- and a file count never says "0 of 1 valid" beside exit 0."""

from __future__ import annotations

from tests.cli.test_validate_cmd import run
from tests.repos import MINIMAL, RepoBuilder

# OpenAI's project-key shape; no real key
LEAKED = "sk-proj-" + "Ab3dEf6hIj9lMn2pQr5tUv8xYz" * 2
OPENAI = "this looks like a OpenAI-style API key; secrets must not be stored in"


def test_every_problem_of_a_persona_file_is_reported_at_once(repo: RepoBuilder) -> None:
    repo.persona(
        "multi",
        "name: Multi\n"
        "model: scaigrid/gpt-4o\n"
        "name: Again\n"
        "status: deleted\n"
        "sytem_prompt: hi\n"
        f"rag:\n  context_template: 'Key {LEAKED}: $context'\n"
        f'system_prompt: "Use {LEAKED} for the API."\n',
    )
    result = run("validate", cwd=repo.root)
    assert result.returncode == 1
    where = "personas/multi.yaml"
    assert result.stdout.splitlines() == [
        f"{where}:3:1: duplicate key 'name' (first defined on line 1)",
        f"{where}:4:9: status: Input should be 'draft', 'active' or 'archived' (got 'deleted')",
        f"{where}:5:1: unknown key 'sytem_prompt'; did you mean 'system_prompt'?",
        f"{where}:7:21: {OPENAI} a persona (remove it and use a secret store)",
        f"{where}:8:16: {OPENAI} a persona (remove it and use a secret store)",
        "5 problem(s) in 1 file(s); 0 persona(s) valid.",
    ]
    assert LEAKED not in result.stdout + result.stderr


def test_a_valid_persona_with_a_duplicate_key_is_not_valid(repo: RepoBuilder) -> None:
    repo.persona("dup", MINIMAL + "model: scaigrid/gpt-4o-mini\n")
    result = run("validate", "--format", "json", cwd=repo.root)
    assert result.returncode == 1
    assert '"personas": 0' in result.stdout and '"duplicate_key"' in result.stdout


def test_every_problem_of_a_tests_file_is_reported_at_once(repo: RepoBuilder) -> None:
    repo.persona("a", MINIMAL)
    repo.write(
        "personas/a.tests.yaml",
        "cases:\n"
        "  - name: x\n"
        "    message: hi\n"
        f'    message: "try {LEAKED}"\n'
        "    assert:\n"
        "      - bogus: 1\n",
    )
    result = run("validate", cwd=repo.root)
    assert result.returncode == 1
    where = "personas/a.tests.yaml"
    assert result.stdout.splitlines() == [
        f"{where}:4:5: duplicate key 'message' (first defined on line 3)",
        f"{where}:4:19: {OPENAI} a persona tests file (remove it and use a secret store)",
        f"{where}:6:9: unknown key 'cases.0.assert.0.bogus'",
        "0 of 1 persona tests file(s) valid.",
        "3 problem(s) in 1 file(s); 1 persona(s) valid.",
    ]


def test_every_problem_of_a_test_persona_file_is_reported_at_once(repo: RepoBuilder) -> None:
    repo.persona("a", MINIMAL)
    repo.write(
        "test-personas/newbie.yaml",
        "name: newbie\nname: again\nsystem_prompt: You are new.\nmood: grumpy\n",
    )
    result = run("validate", cwd=repo.root)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        lines[0] == "test-personas/newbie.yaml:2:1: duplicate key 'name' (first defined on line 1)"
    )
    assert lines[1].startswith("test-personas/newbie.yaml:4:1: unknown key 'mood'")
    assert "0 of 1 test persona file(s) valid." in lines


def test_the_file_counts_agree_with_the_exit_code(repo: RepoBuilder) -> None:
    repo.persona("a", MINIMAL)
    # tests of a persona that is gone: a warning (not run), the file itself is valid
    repo.write(
        "personas/gone.tests.yaml",
        "cases:\n  - name: x\n    message: hi\n    assert:\n      - contains: a\n",
    )
    result = run("validate", cwd=repo.root)
    assert result.returncode == 0, result.stdout
    assert "warning: no persona 'gone'" in result.stdout
    assert "1 of 1 persona tests file(s) valid." in result.stdout
