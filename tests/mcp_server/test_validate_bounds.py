"""The MCP tools see the validator's new bounds, over the real MCP client:
``validate_personas`` reports credentials in knowledge documents and tests files (kind
and place, never the secret) and ``test_persona`` ends a json_schema check whose pattern
makes Python's ``re`` backtrack for ever with a FAIL, on a loopback model server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.catalogue.db import make_engine
from personas_as_code.mcp_server import build_server

from tests.inference.upstream import serve_upstream
from tests.mcp_server.conftest import call, init_git
from tests.persona_tests.conftest import apply_into
from tests.sync.conftest import api_key

pytestmark = pytest.mark.anyio

KEY_ID = "AKIAIOSFODNN7EXAMPLF"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


async def test_validate_personas_reports_secrets_in_knowledge_and_tests_files(
    example_repo: Path,
) -> None:
    doc = example_repo / "knowledge" / "col_product_docs" / "refunds.md"
    line = doc.read_text().count("\n") + 1
    doc.write_text(doc.read_text() + f"aws_secret_access_key = {SECRET_KEY}\n")
    tests = example_repo / "personas" / "sql-helper.tests.yaml"
    message_line = tests.read_text().count("\n") + 2
    case = f"  - name: leak\n    message: {KEY_ID}\n    assert:\n      - contains: x\n"
    tests.write_text(tests.read_text() + case)
    async with Client(build_server(init_git(example_repo))) as client:
        report = await call(client, "validate_personas")
    assert report["valid"] is False
    secrets = [
        (p["path"], p["line"], p["message"].split(";")[0])
        for p in report["problems"]
        if p["code"] == "secret"
    ]
    assert secrets == [
        (
            "knowledge/col_product_docs/refunds.md",
            line,
            "this looks like a AWS secret access key",
        ),
        ("personas/sql-helper.tests.yaml", message_line, "this looks like a AWS access key id"),
    ]
    assert KEY_ID not in json.dumps(report) and SECRET_KEY not in json.dumps(report)


@pytest.mark.timeout(120)
async def test_test_persona_ends_a_backtracking_json_schema_pattern_with_a_fail(
    example_repo: Path, tmp_path: Path
) -> None:
    answer = json.dumps({"a": "a" * 40 + "!"})
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)+$"}}}
    (example_repo / "personas" / "support-agent.tests.yaml").write_text(
        "cases:\n  - name: answers in JSON\n"
        f"    message: {json.dumps(answer)}\n"
        f"    assert:\n      - json_schema: {json.dumps(schema)}\n"
    )
    with serve_upstream() as upstream:
        with (example_repo / "personas.toml").open("a") as toml:
            toml.write(
                '\n[backends."openai/gpt-4o"]\nprovider = "openai"\n'
                f'base_url = "{upstream.base_url}"\nmodel = "verbatim"\n'
            )
        engine = make_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
        api_key(engine)
        catalogue = apply_into(example_repo, engine)
        started = time.monotonic()
        async with Client(build_server(init_git(example_repo), catalogue=catalogue)) as client:
            result = await call(client, "test_persona", slug="support-agent", compare=False)
        engine.dispose()
    assert time.monotonic() - started < 60
    (case,) = result["results"]
    assert case["answer"] == answer and case["status"] == "failed"
    assert case["assertions"] == [
        {
            "kind": "json_schema",
            "passed": False,
            "message": f"at a: '{'a' * 40}!' does not match '^(a+)+$'",
            "status": "failed",
        }
    ]
