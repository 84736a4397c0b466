"""Issue 21: ``personas test`` loads GitPython only for ``--baseline`` / ``--changed-since``
and the HTTP client only for a remote catalogue or an embeddings API.  Each module runs
in a fresh interpreter that lists what importing it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
    "print(json.dumps(sorted(sys.modules)))"
)


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("personas_as_code.persona_tests.baseline", {"git"}),
        ("personas_as_code.persona_tests.selection", {"git"}),
        ("personas_as_code.catalogue.factory", {"httpx", "sqlalchemy"}),
        ("personas_as_code.knowledge_index.embeddings", {"httpx", "numpy"}),
        # the tree's index and its search load on the first retrieval, not on import:
        # the MCP server starts (and answers a search) without numpy or the ORM
        ("personas_as_code.sandbox.tree_retrieval", {"numpy", "sqlalchemy", "sqlmodel"}),
        ("personas_as_code.mcp_server.server", {"numpy", "sqlalchemy", "sqlmodel"}),
        ("personas_as_code.sync.engine", {"git", "httpx", "sqlalchemy"}),
    ],
)
def test_importing_loads_no_library_it_does_not_use_yet(module: str, absent: set[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(done.stdout))
    assert module in loaded
    assert absent.isdisjoint(loaded), absent & loaded


def test_the_lazy_paths_still_work(tmp_path: Path) -> None:
    from personas_as_code.catalogue.factory import open_simulated_user_server
    from personas_as_code.knowledge_index.embeddings import OpenAIEmbedder
    from personas_as_code.persona_tests.baseline import load_ref
    from personas_as_code.schemas.errors import ConfigError

    with pytest.raises(ConfigError, match="needs a git repository"):
        load_ref(tmp_path, "HEAD")
    embedder = OpenAIEmbedder("http://127.0.0.1:9", "m", retries=0)
    with pytest.raises(Exception, match="unreachable"):
        embedder.embed(["x"])
    store = open_simulated_user_server("http://127.0.0.1:9", None, "default")
    store.close()
