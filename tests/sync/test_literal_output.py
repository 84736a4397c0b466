"""What a reviewer reads is the real change: hostile user text is shown literally.

Issue 9, items 18 and 19: markup-looking text (``[bold]``, ``[red]…[/red]``),
terminal escapes, bidi overrides and markdown/HTML are neither interpreted
nor dropped, in every plan format and through the real CLI (stdout to a file,
as in CI, and the colour path a terminal gets).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from personas_as_code.cli.common import guarded
from personas_as_code.sync.render import render_json, render_markdown, render_text
from personas_as_code.sync.render.literal import md_fence, md_text, visible
from ruamel.yaml import YAML

from tests.sync.conftest import Sync
from tests.sync.test_cli import personas

HOSTILE_LINES = [
    "Be [bold]very[/] careful and say [red]done[/red] at the end.",
    "Terminal: \x1b[31mRED\x1b[0m and a bell \x07 and \x1b]0;title\x07.",
    "Bidi: \u202eevil\u202c, zero width:\u200b.",
    "Markdown: ``` </details> <img src=x onerror=alert(1)> @acme/admins | pipe **bold**",
]


NAME = "Translator [bold]x[/bold] \x1b[7m"


def hostile_edit(root: Path) -> None:
    """Give two example personas hostile text: prompt lines and a name.

    The files are rewritten as JSON (valid YAML), whose escapes can carry
    control characters that a YAML block scalar may not.
    """
    yaml = YAML(typ="safe")
    path = root / "personas" / "sql-helper.yaml"
    data = yaml.load(path.read_text())
    lines = data["system_prompt"].splitlines()
    data["system_prompt"] = "\n".join([lines[0], *HOSTILE_LINES, *lines[1:]]) + "\n"
    path.write_text(json.dumps(data))
    path = root / "personas" / "translator.yaml"
    data = yaml.load(path.read_text())
    data["name"] = NAME
    path.write_text(json.dumps(data))


@pytest.fixture
def hostile(esync: Sync) -> Sync:
    esync.apply()
    hostile_edit(esync.root)
    return esync


def _assert_literal_text(out: str) -> None:
    assert "[bold]very[/]" in out
    assert "[red]done[/red]" in out
    assert "\\x1b[31mRED\\x1b[0m" in out
    assert "\\x07" in out and "\\u202e" in out and "\\u200b" in out
    assert "\u202e" not in out and "\x07" not in out
    assert "Translator [bold]x[/bold] \\u001b[7m" in out  # a JSON string: ESC escaped


def test_text_plan_shows_markup_and_escapes_literally(hostile: Sync) -> None:
    out = render_text(hostile.plan())
    _assert_literal_text(out)
    assert "\x1b" not in out
    assert "[personas/sql-helper.yaml]" in out


def test_markdown_plan_cannot_be_broken_out_of(hostile: Sync) -> None:
    md = render_markdown(hostile.plan())
    outside = _outside_fences(md)
    assert "<img" not in outside and "@acme" not in outside.replace("\\@acme", "")
    assert outside.count("<details>") == outside.count("</details>")
    assert "<img src=x" in md  # shown, as code, inside the diff block
    # the diff fence is longer than the prompt's own backtick run, so it stays open
    fence = next(line for line in md.splitlines() if line.startswith("````") and "diff" in line)
    assert fence == "````diff"
    assert "\\x1b[31mRED" in md and "\u202e" not in md and "\x1b" not in md
    # the changed name in a list item is escaped markdown, not live markup
    assert "Translator \\[bold\\]x\\[/bold\\]" in md


def _outside_fences(md: str) -> str:
    """The markdown with fenced code blocks removed (CommonMark: a closing fence is at
    least as long as the opening one)."""
    out, fence = [], None
    for line in md.splitlines():
        run = re.match(r"^(`{3,})", line)
        if fence is None and run:
            fence = run.group(1)
        elif fence is not None and line.strip() and set(line.strip()) == {"`"}:
            if len(line.strip()) >= len(fence):
                fence = None
        elif fence is None:
            out.append(line)
    return "\n".join(out)


def test_json_plan_keeps_the_exact_text(hostile: Sync) -> None:
    data = json.loads(render_json(hostile.plan()))
    sql = next(p for p in data["personas"] if p["slug"] == "sql-helper")
    after = sql["changes"][0]["fields"][0]["after"]
    assert all(line in after for line in HOSTILE_LINES)  # the value itself, escaped by JSON


@pytest.mark.slow  # personas plan and apply as processes
@pytest.mark.parametrize("colour", [False, True], ids=["stdout-to-file", "terminal-colour"])
def test_cli_plan_and_apply_print_literally(example_repo: Path, colour: bool) -> None:
    env = {"FORCE_COLOR": "1"} if colour else {"NO_COLOR": "1"}

    def plain(text: str) -> str:
        if colour:
            assert "\x1b[" in text  # our own colour codes...
            text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        assert "\x1b" not in text  # ...and nothing else reaches the terminal
        return text

    first = personas("apply", "--auto-approve", cwd=example_repo, env=env)
    assert first.returncode == 0, first.stderr
    hostile_edit(example_repo)
    planned = personas("plan", cwd=example_repo, env=env)
    assert planned.returncode == 0, planned.stderr
    out = plain(planned.stdout)
    _assert_literal_text(out)
    assert "~ sql-helper  [personas/sql-helper.yaml]" in out
    applied = personas("apply", "--auto-approve", cwd=example_repo, env=env)
    assert applied.returncode == 0, applied.stderr
    shown = plain(applied.stdout)
    _assert_literal_text(shown)
    assert "Apply complete: 2 persona(s) applied, 0 failed." in shown


@pytest.mark.slow  # personas apply as a process
def test_apply_output_keeps_every_file_path_with_many_personas(repo, tmp_path: Path) -> None:
    """The CI regression: stdout not a terminal, many personas, paths must all survive."""
    for i in range(120):
        repo.persona(
            f"p-{i:03d}",
            f"name: P {i} [b]\nmodel: scaigrid/gpt-4o\nsystem_prompt: '[red]x[/red] {i}'\n",
        )
    result = personas("apply", "--auto-approve", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    for i in range(120):
        assert f"+ p-{i:03d}  [personas/p-{i:03d}.yaml]" in result.stdout
        assert f'name: "P {i} [b]"' in result.stdout
    assert result.stdout.count("ok      p-") == 120


def test_errors_are_one_literal_line_and_never_a_traceback(capsys) -> None:
    import typer
    from personas_as_code.schemas.errors import ConfigError

    @guarded
    def boom_known() -> None:
        raise ConfigError("bad [bold]value[/bold] \x1b[2J here")

    @guarded
    def boom_unknown() -> None:
        raise RuntimeError("something [red]odd[/red]")

    with pytest.raises(typer.Exit) as known:
        boom_known()
    assert known.value.exit_code == 1
    err = capsys.readouterr().err
    assert err == "error CONFIG_ERROR: bad [bold]value[/bold] \\x1b[2J here\n"

    with pytest.raises(typer.Exit) as unknown:
        boom_unknown()
    assert unknown.value.exit_code == 1
    err = capsys.readouterr().err
    assert err.startswith("error INTERNAL_ERROR: unexpected RuntimeError: something [red]odd[/red]")
    assert "Traceback" not in err and err.count("\n") == 1


def test_literal_helpers() -> None:
    assert visible("a\x1b[1mb\tc\nd\u2066") == "a\\x1b[1mb\tc\nd\\u2066"
    assert md_text("a|b <i>*x*</i> @team") == "a\\|b &lt;i&gt;\\*x\\*&lt;/i&gt; \\@team"
    assert md_fence(["x ```` y"], "diff") == ["`````diff", "x ```` y", "`````"]


def test_md_text_keeps_every_backslash() -> None:
    """A path's ``\\n`` is two characters, not a newline: it was dropped (``C\\: ew``)."""
    assert md_text("open C:\\new folder") == "open C\\:\\\\new folder"
    assert md_text("line one\nline two\ttab") == "line one line two\\\\ttab"
    assert md_text("a \\*not bold\\*") == "a \\\\\\*not bold\\\\\\*"
