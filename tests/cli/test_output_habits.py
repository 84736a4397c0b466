"""Output people and CI logs can follow (issue 20), through the real ``personas`` process:
apply's lines arrive while it applies when stdout is a pipe, colour goes with
``--no-color``, ``NO_COLOR`` and ``TERM=dumb`` (checked on a real terminal, a pty),
``run`` and ``preview`` JSON carry ``format_version``, and in ``--format json`` mode a
failure is a JSON error object on stdout, not a line on stderr."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread

from tests.catalogue.conftest import make_key
from tests.repos import MINIMAL, RepoBuilder, copy_examples

PERSONAS = str(Path(sys.executable).with_name("personas"))
ESC = "\x1b["


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCAIGRID_", "PERSONAS_")) and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    return {**env, **extra}


def many(repo: RepoBuilder, count: int) -> None:
    for n in range(count):
        repo.persona(f"p{n:03d}", f"name: P{n}\nmodel: scaigrid/gpt-4o\nsystem_prompt: Help.\n")


class SlowWrites:
    """Each write to the catalogue takes 20 ms, so an apply of 60 personas one at a time
    lasts over a second however fast the rest is (a fault no real server is asked for)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            await asyncio.sleep(0.02)
        await self.app(scope, receive, send)


def test_apply_prints_each_persona_while_it_applies(repo: RepoBuilder, sqlite_url: str) -> None:
    """Through a pipe (as in CI): the personas' lines arrive spread over the apply, each
    as it is done, not all at once at the end (block buffering, or a report printed only
    when everything is done).  One at a time, into a catalogue whose writes are slow."""
    many(repo, 60)
    engine = make_engine(sqlite_url)
    app = SlowWrites(create_app(engine))
    key = make_key(engine, "acme")
    with serve_in_thread(app) as base_url:
        proc = subprocess.Popen(
            [PERSONAS, "apply", "--auto-approve", "--concurrency", "1"],
            cwd=repo.root,
            env=clean_env(SCAIGRID_HOST=base_url, SCAIGRID_API_KEY=key),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        arrivals: dict[str, float] = {}
        for line in proc.stdout:
            if line.startswith("ok      p"):
                arrivals[line.split()[1].rstrip(":")] = time.monotonic()
        ended = time.monotonic()
        assert proc.wait(timeout=120) == 0, proc.stderr.read()  # type: ignore[union-attr]
    engine.dispose()
    assert list(arrivals) == [f"p{n:03d}" for n in range(60)]  # in slug order, once each
    first, last = arrivals["p000"], arrivals["p059"]
    # 60 applies of at least 20 ms each, one after the other: the lines follow them
    assert last - first > 0.6, f"every line arrived within {last - first:.3f} s"
    assert ended - first > 0.6


def on_a_terminal(args: list[str], cwd: Path, **env: str) -> str:
    """What ``personas args`` writes to a terminal (a pty), stdout and stderr together."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [PERSONAS, *args],
        cwd=cwd,
        env=clean_env(**env),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_colour_goes_with_no_color_no_color_env_and_dumb_terminals(repo: RepoBuilder) -> None:
    repo.persona("minimal", MINIMAL)
    coloured = on_a_terminal(["plan"], repo.root, TERM="xterm-256color")
    assert ESC in coloured and "+ minimal" in coloured  # a terminal gets colour
    for args, env in (
        (["--no-color", "plan"], {"TERM": "xterm-256color"}),
        (["plan"], {"TERM": "dumb"}),
        (["plan"], {"TERM": "xterm-256color", "NO_COLOR": "1"}),
    ):
        plain = on_a_terminal(args, repo.root, **env)
        assert "+ minimal" in plain and ESC not in plain, (args, env)


def personas(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PERSONAS, *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=120
    )


def test_run_and_preview_json_carry_format_version(repo: RepoBuilder) -> None:
    repo.persona("minimal", MINIMAL)
    for args in (["run", "minimal", "hello"], ["preview", "minimal", "--trigger", "hello"]):
        result = personas(*args, "--format", "json", cwd=repo.root)
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["format_version"] == 1 and document["slug"] == "minimal"


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (["plan"], "REPO_INVALID", 1),
        (["apply", "--auto-approve"], "REPO_INVALID", 1),
        (["test"], "REPO_INVALID", 2),
        (["run", "nobody", "hello"], "NOT_FOUND", 1),
        (["preview", "nobody"], "NOT_FOUND", 1),
        (["validate", "--repo", "elsewhere"], "CONFIG_ERROR", 1),
        (["export", "--repo", "elsewhere"], "CONFIG_ERROR", 1),
    ],
)
def test_json_mode_errors_are_json_on_stdout(
    repo: RepoBuilder, tmp_path: Path, args: list[str], code: str, exit_code: int
) -> None:
    repo.persona("minimal", MINIMAL)
    repo.persona("broken", "name: [\n")
    if "elsewhere" in args:
        args = [str(tmp_path / "elsewhere") if a == "elsewhere" else a for a in args]
    result = personas(*args, "--format", "json", cwd=repo.root)
    assert result.returncode == exit_code, result.stdout
    document = json.loads(result.stdout)
    assert document["format_version"] == 1 and document["ok"] is False
    assert document["error"]["code"] == code
    assert set(document["error"]) == {"code", "message", "details"}
    assert result.stderr == ""


def test_indexing_shows_progress_on_a_terminal_only(example_repo: Path, tmp_path: Path) -> None:
    """The example repo's 21 knowledge documents: a terminal sees the indexing progress
    (per source); a pipe gets the apply's lines and nothing else."""
    shown = on_a_terminal(["apply", "--auto-approve"], example_repo, TERM="xterm")
    assert "indexing knowledge" in shown and "indexed collection:col_" in shown
    assert "Knowledge indexed: 21 document(s)" in shown
    piped = personas("apply", "--auto-approve", cwd=copy_examples(tmp_path / "piped"))
    assert piped.returncode == 0, piped.stderr
    assert "Knowledge indexed: 21 document(s)" in piped.stdout
    assert "indexing" not in piped.stdout + piped.stderr


def test_a_reader_that_goes_away_ends_the_command_quietly(repo: RepoBuilder) -> None:
    """``personas plan | head -1``: once the reader has gone, the command stops with exit
    141 (as a tool killed by SIGPIPE) and prints no INTERNAL_ERROR or traceback."""
    many(repo, 40)
    proc = subprocess.Popen(
        [PERSONAS, "plan"],
        cwd=repo.root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    errors = proc.stderr.read()
    assert proc.wait(timeout=60) == 141, errors
    assert "INTERNAL_ERROR" not in errors and "Traceback" not in errors and "Broken" not in errors
