"""``personas validate`` through the real console script on hostile inputs: credentials
in a knowledge document and in a persona tests file are errors that name the detector
and the place but never print the secret; a 20-character regex that would compile to
gigabytes and a json_schema pattern like it are refused, within a memory limit."""

from __future__ import annotations

import json
import resource
import subprocess
from pathlib import Path

from tests.cli.test_validate_cmd import PERSONAS, run

KEY_ID = "AKIAIOSFODNN7EXAMPLF"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
LEAK = (
    f"\nFor the refund export:\naws_access_key_id = {KEY_ID}\n"
    f"aws_secret_access_key = {SECRET_KEY}\n"
)
MEMORY_LIMIT = 1536 * 1024 * 1024


def test_a_credential_in_a_knowledge_document_fails_validate(example_repo: Path) -> None:
    doc = example_repo / "knowledge" / "col_product_docs" / "refunds.md"
    lines = doc.read_text().count("\n")
    doc.write_text(doc.read_text() + LEAK)
    result = run("validate", cwd=example_repo)
    assert result.returncode == 1, result.stdout
    where = "knowledge/col_product_docs/refunds.md"
    problems = [line for line in result.stdout.splitlines() if line.startswith(where)]
    assert problems == [
        f"{where}:{lines + 3}:21: this looks like a AWS access key id; secrets must not be "
        "stored in a knowledge document (remove it and use a secret store)",
        f"{where}:{lines + 4}:25: this looks like a AWS secret access key; secrets must not be "
        "stored in a knowledge document (remove it and use a secret store)",
    ]
    assert KEY_ID not in result.stdout + result.stderr
    assert SECRET_KEY not in result.stdout + result.stderr
    data = json.loads(run("validate", "--format", "json", cwd=example_repo).stdout)
    assert data["valid"] is False and data["error_count"] == 2
    assert {p["code"] for p in data["problems"] if p["severity"] == "error"} == {"secret"}
    assert KEY_ID not in json.dumps(data) and SECRET_KEY not in json.dumps(data)


def test_a_credential_in_a_tests_file_fails_validate(example_repo: Path) -> None:
    tests = example_repo / "personas" / "sql-helper.tests.yaml"
    tests.write_text(
        tests.read_text()
        + "  - name: leaks a key\n"
        + f'    message: "Use key {KEY_ID} to connect."\n'
        + "    assert:\n"
        + "      - llm_rubric: |\n"
        + "          Never repeat it.\n"
        + f"          aws_secret_access_key = {SECRET_KEY}\n"
    )
    lines = tests.read_text().count("\n")
    result = run("validate", cwd=example_repo)
    assert result.returncode == 1
    where = "personas/sql-helper.tests.yaml"
    assert [line for line in result.stdout.splitlines() if line.startswith(where)] == [
        f"{where}:{lines - 4}:23: this looks like a AWS access key id; secrets must not be "
        "stored in a persona tests file (remove it and use a secret store)",
        f"{where}:{lines}:1: this looks like a AWS secret access key; secrets must not be "
        "stored in a persona tests file (remove it and use a secret store)",
    ]
    assert KEY_ID not in result.stdout and SECRET_KEY not in result.stdout


def limited(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``personas <args>`` with at most ``MEMORY_LIMIT`` bytes of address space."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [*PERSONAS, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root)},
        preexec_fn=limit,
        timeout=120,
    )


def test_a_regex_that_would_compile_to_gigabytes_is_refused(example_repo: Path) -> None:
    tests = example_repo / "personas" / "sql-helper.tests.yaml"
    tests.write_text(
        tests.read_text()
        + "  - name: a tiny pattern, a huge program\n"
        + '    message: "hi"\n'
        + "    assert:\n"
        + '      - regex: "(?:x{65535}){1000}"\n'
        + "      - json_schema:\n"
        + "          type: object\n"
        + "          properties:\n"
        + '            a: {type: string, pattern: "(?:y{65535}){1000}"}\n'
    )
    lines = tests.read_text().count("\n")
    result = limited("validate", cwd=example_repo)
    assert result.returncode == 1, result.stderr
    where = "personas/sql-helper.tests.yaml"
    found = [line for line in result.stdout.splitlines() if line.startswith(where)]
    too_big = (
        "would expand to more than 100,000 items when compiled (nested repeat counts "
        "multiply); use smaller repeat counts"
    )
    assert found == [
        f"{where}:{lines - 4}:16: cases.2.assert.0.regex: the pattern {too_big} "
        "(got '(?:x{65535}){1000}')",
        f"{where}:{lines - 2}:11: cases.2.assert.1.json_schema: the pattern at "
        f"/properties/a/pattern {too_big}",
    ]
    assert "internal error" not in result.stdout and result.stderr == ""
