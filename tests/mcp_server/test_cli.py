"""``personas preview`` and ``personas export`` reuse the MCP server's logic."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from personas_as_code.application.service import PersonaService
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.cli.main import app
from typer.testing import CliRunner

runner = CliRunner()


def test_preview_text_and_json(git_repo: Path) -> None:
    args = ["preview", "support-agent", "--repo", str(git_repo), "--trigger", "Reset password?"]
    text = runner.invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "system:persona" in text.output and "[retrieval not run" not in text.output
    # nothing was applied: the working tree's knowledge folders answer
    assert "collection:col_help_centre · knowledge/col_help_centre/reset-password.md" in (
        text.output
    )
    assert "note: knowledge: 21 documents from the working tree" in text.output
    data = json.loads(
        runner.invoke(app, [*args, "--temperature", "0.9", "--format", "json"]).output
    )
    assert data["params"]["temperature"] == 0.9
    assert [m["source"] for m in data["messages"]] == ["system:persona", "rag:context", "trigger"]


def test_preview_of_a_draft_and_errors(git_repo: Path) -> None:
    draft = PersonaService(git_repo).patch_draft(
        "translator", PatchSpec(set={"system_prompt": "Only Dutch.\nNo English.\n"})
    )
    args = ["preview", "translator", "--repo", str(git_repo), "--draft", draft.draft.draft_id]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["messages"][0]["content"] == "Only Dutch.\nNo English.\n"
    missing = runner.invoke(app, ["preview", "nobody", "--repo", str(git_repo)])
    assert missing.exit_code == 1 and "NOT_FOUND" in missing.output


def test_export_to_stdout_and_file(git_repo: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--repo", str(git_repo), "--no-rag"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert sorted(r["slug"] for r in rows) == ["sql-helper", "translator"]
    out = tmp_path / "out.json"
    args = ["export", "--repo", str(git_repo), "-f", "json", "-o", str(out), "--group", "mg_qa"]
    assert runner.invoke(app, args).exit_code == 0
    document = json.loads(out.read_text())
    assert document["format_version"] == 1
    assert {r["slug"] for r in document["personas"]} == {"legal-reviewer", "translator"}
    bad = runner.invoke(app, ["export", "--repo", str(git_repo), "--status", "weird"])
    assert bad.exit_code == 1 and "INVALID_INPUT" in bad.output
