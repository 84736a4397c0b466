"""A fast CLI start: help, --version and validate import none of the heavy libraries
(the catalogue's database and web stack, the MCP SDK, numpy, git, HTTP clients), and
plan/apply against a remote catalogue over HTTP import no database or server stack.

Each case runs the CLI in a fresh interpreter and lists the modules it imported;
timing lives in ``bench/cli_bench.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.catalogue.conftest import serve_live
from tests.repos import MINIMAL, RepoBuilder

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {
    "sqlalchemy",
    "sqlmodel",
    "fastapi",
    "starlette",
    "uvicorn",
    "mcp",
    "numpy",
    "httpx",
    "git",
    "llama_cpp",
}
OWN_HEAVY = {
    "personas_as_code.sync.engine",
    "personas_as_code.sync.plan",
    "personas_as_code.catalogue.db",
    "personas_as_code.mcp_server.server",
}
MARK = "--modules--"
PROBE = f"""
import json, sys
from personas_as_code.cli.main import app
try:
    app(sys.argv[1:], prog_name="personas")
except SystemExit as exit:
    code = exit.code
print({MARK!r} + json.dumps([code, sorted(sys.modules)]))
"""


def imported_by(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[int, set[str], str]:
    """Exit code, the modules imported and the output of ``personas <args>``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output, _, listing = done.stdout.rpartition(MARK)
    assert listing, done.stderr
    code, modules = json.loads(listing)
    return code, set(modules), output


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["plan", "--help"],
        ["mcp", "--help"],
        ["catalogue", "serve", "--help"],
    ],
)
def test_help_and_version_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    code, modules, output = imported_by(*args, cwd=tmp_path)
    assert code in (0, None) and output.strip(), output
    assert not {m.split(".")[0] for m in modules} & HEAVY, sorted(HEAVY & modules)
    assert not modules & OWN_HEAVY
    if len(args) == 1:  # a command's own help goes through typer's (pydantic) coercion
        assert "pydantic" not in modules


def test_validate_imports_only_what_validation_needs(repo: RepoBuilder) -> None:
    for n in range(10):
        repo.persona(f"p{n}", MINIMAL)
    code, modules, output = imported_by("validate", cwd=repo.root)
    assert code == 0 and "10 persona(s) valid." in output, output
    assert "personas_as_code.loader.repo" in modules  # it did validate
    assert not {m.split(".")[0] for m in modules} & HEAVY, sorted(HEAVY & modules)
    assert not modules & OWN_HEAVY
    # no avatar, no tests file, no test persona: their checks and models stay unloaded
    assert not modules & {
        "defusedxml",
        "regex",
        "personas_as_code.untrusted.svg",
        "personas_as_code.schemas.persona_tests",
        "personas_as_code.loader.persona_tests",
        "personas_as_code.loader.simulated_users",
    }


def test_validate_loads_tests_files_and_test_personas_when_the_repo_has_them(
    repo: RepoBuilder,
) -> None:
    repo.persona("p", MINIMAL)
    repo.write("test-personas/nosy.yaml", "name: Nosy\n")
    repo.write(
        "personas/p.tests.yaml",
        "cases:\n  - name: greets\n    conversation: {test_persona: ghost, turns: 2}\n"
        "    assert:\n      - contains: hello\n",
    )
    code, modules, output = imported_by("validate", cwd=repo.root)
    assert code != 0 and "no test persona 'ghost'" in output, output
    assert "1 of 1 test persona file(s) valid." in output  # the test persona was loaded
    assert {
        "personas_as_code.loader.persona_tests",
        "personas_as_code.loader.simulated_users",
    } <= modules


def test_validate_loads_the_avatar_checks_when_a_persona_has_an_avatar(
    repo: RepoBuilder,
) -> None:
    repo.persona("p", MINIMAL + "avatar: p.svg\n")
    repo.write("personas/p.svg", '<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>')
    code, modules, output = imported_by("validate", cwd=repo.root)
    assert code != 0 and "<script> element is not allowed" in output, output
    assert "personas_as_code.untrusted.svg" in modules


def test_a_local_backend_loads_no_model_to_validate_or_plan(example_repo: Path) -> None:
    """``provider = "local"`` names llama.cpp, which validate never imports and plan
    only looks up (to warn when the [local] extra is missing)."""
    config = example_repo / "personas.toml"
    config.write_text(config.read_text() + '\n[backends."openai/gpt-4o"]\nprovider = "local"\n')
    code, modules, output = imported_by("validate", cwd=example_repo)
    assert code == 0, output
    assert not {m.split(".")[0] for m in modules} & HEAVY, sorted(HEAVY & modules)
    assert "personas_as_code.inference.local_llama" not in modules
    code, modules, output = imported_by("plan", cwd=example_repo)
    assert code == 0 and "~ backend openai/gpt-4o: mirror → local" in output, output
    assert "llama_cpp" not in {m.split(".")[0] for m in modules}


# a remote catalogue needs the HTTP client, and sync reads git for --changed-since
SERVER_STACK = {"sqlalchemy", "sqlmodel", "fastapi", "starlette", "uvicorn", "mcp", "numpy"}
OWN_EMBEDDED = {
    "personas_as_code.catalogue.embedded",
    "personas_as_code.catalogue.db",
    "personas_as_code.catalogue.personas",
    "personas_as_code.catalogue.rest",
    "personas_as_code.knowledge_index.store",
}


def test_plan_and_apply_over_http_import_no_database_or_server(
    example_repo: Path, sqlite_url: str
) -> None:
    with serve_live(sqlite_url) as server:
        env = {"SCAIGRID_HOST": server.base_url, "SCAIGRID_API_KEY": server.key}
        for args, want_code, want_text in [
            (["plan", "--detailed-exitcode"], 2, "to create"),
            (["apply", "--auto-approve"], 0, "Apply complete"),
            (["plan", "--detailed-exitcode"], 0, "No changes."),
        ]:
            code, modules, output = imported_by(*args, cwd=example_repo, env=env)
            assert code == want_code and want_text in output, output
            assert "personas_as_code.catalogue.client" in modules  # it did talk HTTP
            roots = {m.split(".")[0] for m in modules}
            assert not roots & SERVER_STACK, (args, sorted(roots & SERVER_STACK))
            assert not modules & OWN_EMBEDDED, (args, sorted(modules & OWN_EMBEDDED))


def test_plan_over_http_reads_no_git_without_changed_since(
    example_repo: Path, sqlite_url: str
) -> None:
    """Issue 21: GitPython loads for ``--changed-since`` (or apply's commit), not a plan."""
    with serve_live(sqlite_url) as server:
        env = {"SCAIGRID_HOST": server.base_url, "SCAIGRID_API_KEY": server.key}
        code, modules, output = imported_by("plan", cwd=example_repo, env=env)
        assert code == 0 and "to create" in output, output
        assert "git" not in modules


def test_an_embedded_plan_loads_no_http_client_or_git(example_repo: Path, sqlite_url: str) -> None:
    """Issue 21: the embedded catalogue (the default) needs neither httpx nor GitPython
    for a plan, nor numpy to diff the knowledge (no vector is made or read);
    ``--changed-since`` still asks git."""
    env = {"PERSONAS_DATABASE_URL": sqlite_url}
    git_init(example_repo)
    for args, want_code, want_text in [
        (["plan"], 0, "to create"),
        (["apply", "--auto-approve"], 0, "Apply complete"),
        (["plan"], 0, "No changes."),
    ]:
        code, modules, output = imported_by(*args, cwd=example_repo, env=env)
        assert code == want_code and want_text in output, (args, output)
        assert "personas_as_code.catalogue.embedded" in modules  # it did use the database
        roots = {m.split(".")[0] for m in modules}
        assert "httpx" not in roots, args
        assert "personas_as_code.catalogue.client" not in modules, args
        if args[0] == "plan":
            assert not roots & {"git", "numpy"}, (args, sorted(roots & {"git", "numpy"}))
    code, modules, output = imported_by(
        "plan", "--changed-since", "HEAD", cwd=example_repo, env=env
    )
    assert code == 0, output
    assert "git" in modules


def test_personas_test_on_the_example_repo_loads_no_git_or_http_client(
    example_repo: Path,
) -> None:
    """Issue 21: ``personas test`` (mirror backend, embedded knowledge) asks git only
    for ``--baseline``/``--changed-since`` and HTTP only for a remote server."""
    git_init(example_repo)
    code, modules, output = imported_by("test", cwd=example_repo)
    assert code == 0, output
    assert "personas_as_code.persona_tests.runner" in modules  # it did run the tests
    roots = {m.split(".")[0] for m in modules}
    assert not roots & {"git", "httpx"}, sorted(roots & {"git", "httpx"})


def git_init(root: Path) -> None:
    """Commit everything in ``root`` as a new git repository."""
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "examples"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=root,
            check=True,
            capture_output=True,
        )
