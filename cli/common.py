"""Helpers shared by the CLI commands: options, error mapping, output.

Output never goes through a markup language: user text (prompts, names,
paths, messages from a catalogue) is printed literally, control characters
made visible (``sync.render.literal``), and colour, when stdout is a terminal,
is an ANSI style around whole lines.  Every mode is a plain ``write``, linear
in the size of the output.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TextIO, TypeVar

import typer
from personas_as_code.schemas.errors import PersonasError
from personas_as_code.sync.render.literal import StyledLine, one_line, visible

if TYPE_CHECKING:  # typer vendors its click; these name its types
    from pydantic import BaseModel
    from typer._click import Context, HelpFormatter

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound="BaseModel")

RepoOption = Annotated[
    Path,
    typer.Option("--repo", "-r", help="Root of the persona repo.", file_okay=False, dir_okay=True),
]

EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        envvar="PERSONAS_ENV",
        help="Environment of personas.toml [environments] to use: its catalogue, tenant and "
        "overrides (default: [repo] default_environment, else the first declared).",
        show_envvar=True,
    ),
]

INTERNAL_ERROR = "INTERNAL_ERROR"
RESULT_FORMAT_VERSION = 1
"""The ``format_version`` of ``run`` and ``preview --format json`` (as plan, apply, validate,
test and export carry theirs)."""


class OutputFormat(StrEnum):
    """Output formats of commands that report to people or machines."""

    text = "text"
    json = "json"


class FullHelpGroup(typer.core.TyperGroup):
    """A command group whose help lists each command's whole first sentence.

    Click cuts a command's summary to what fits the line and ends it with ``...``;
    here the summary wraps instead, so help read through a pipe loses nothing.
    """

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """Write the ``Commands`` section, summaries wrapped, never cut."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


_COLOUR = {"off": False}


def set_no_colour(off: bool) -> None:
    """``--no-color``: no ANSI style in any output of this command."""
    _COLOUR["off"] = off


def wants_colour(stream: TextIO) -> bool:
    """Whether ``stream`` gets colour: never with --no-color, NO_COLOR or TERM=dumb; else
    with FORCE_COLOR or on a terminal."""
    if _COLOUR["off"] or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(os.environ.get("FORCE_COLOR")) or stream.isatty()


# Styles a renderer may give a line, as ANSI SGR parameters.
_SGR = {"green": "32", "yellow": "33", "red": "31", "bold red": "1;31", "dim": "2"}


def write_lines(lines: Iterable[StyledLine], *, err: bool = False) -> None:
    """Print styled lines literally; coloured (whole lines, ANSI SGR) only on a terminal."""
    stream = sys.stderr if err else sys.stdout
    if wants_colour(stream):
        _write_batched(stream, (_coloured(line) + "\n" for line in lines))
    else:
        _write_batched(stream, (visible(line.text) + "\n" for line in lines))
    stream.flush()


def _write_batched(stream: TextIO, texts: Iterable[str], size: int = 1024) -> None:
    # one write per ``size`` lines: a line-buffered stdout flushes once per write, not
    # once per line (40,000 lines: 100 ms of system calls otherwise)
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= size:
            stream.write("".join(batch))
            batch.clear()
    if batch:
        stream.write("".join(batch))


def _coloured(line: StyledLine) -> str:
    code = _SGR.get(line.style or "")
    text = visible(line.text)
    return f"\x1b[{code}m{text}\x1b[0m" if code and text else text


def say(text: str, *, style: str | None = None, err: bool = False) -> None:
    """Print one message (which may hold user text) literally."""
    write_lines([StyledLine(text, style)], err=err)


def fail_line(code: str, message: str) -> None:
    """The one-line error every failing command ends with: ``error CODE: message``."""
    say(f"error {code}: {one_line(message)}", style="red", err=True)


# the ``--format`` parameters of the commands; "json" makes a failure a JSON document
FORMAT_PARAMETERS = ("output", "fmt", "output_format")
ERROR_FORMAT_VERSION = 1


def no_cycle_collection() -> None:
    """Turn the cyclic garbage collector off for the rest of this one-shot command.

    ``validate``, ``plan`` and ``apply`` build hundreds of thousands of objects that live
    until the process exits and form almost no cycles (a file's read leaves none:
    ``untrusted.yaml`` releases its loader).  The engine pauses the collector while it
    loads and plans, but each time it was enabled again the collector scanned all of
    them (at 10,000 personas, 0.6 s in one full collection while the plan was redacted,
    a fifth of a cached plan).  The process ends with the command, which frees the lot.
    """
    gc.disable()


def _json_mode(arguments: dict[str, Any]) -> bool:
    return any(getattr(arguments.get(name), "value", None) == "json" for name in FORMAT_PARAMETERS)


def fail(code: str, message: str, *, details: dict[str, Any] | None = None, as_json: bool) -> None:
    """Report a failure: ``error CODE: message`` on stderr, or, in ``--format json`` mode,
    ``{"format_version", "ok": false, "error": {code, message, details}}`` (the API's error
    object) on stdout."""
    if as_json:
        error = {"code": code, "message": message, "details": details or {}}
        print_json({"format_version": ERROR_FORMAT_VERSION, "ok": False, "error": error})
    else:
        fail_line(code, message)


def guarded(func: Callable[P, R], *, exit_code: int | None = None) -> Callable[P, R]:
    """Map every failure to one line and an exit code; never a traceback.

    ``PersonasError`` → its code and exit code; anything unexpected →
    ``INTERNAL_ERROR`` and exit 1 (``PERSONAS_DEBUG=1`` shows the traceback);
    Ctrl-C → exit 130; a closed stdout (``| head``) → exit 141, silently.  A given
    ``exit_code`` replaces both exit codes (a command whose own exit codes mean something
    else, like ``personas test``).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        as_json = _json_mode(kwargs)
        try:
            return func(*args, **kwargs)
        except PersonasError as exc:
            fail(exc.code, exc.message, details=exc.details, as_json=as_json)
            raise typer.Exit(exc.exit_code if exit_code is None else exit_code) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            fail("INTERRUPTED", "interrupted", as_json=as_json)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # the reader went away (``| head``): stop quietly, as a SIGPIPE'd tool does;
            # stdout goes to devnull so the interpreter's last flush cannot fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except Exception as exc:
            if os.environ.get("PERSONAS_DEBUG") == "1":
                raise
            detail = (str(exc) or "no message").splitlines()[0]
            if _is_database_unreachable(exc):
                unreachable = f"cannot reach the catalogue database: {detail}"
                fail("CATALOGUE_UNAVAILABLE", unreachable, as_json=as_json)
            else:
                fail(
                    INTERNAL_ERROR,
                    f"unexpected {type(exc).__name__}: {detail} (this is a bug; run with "
                    "PERSONAS_DEBUG=1 for the traceback)",
                    as_json=as_json,
                )
            raise typer.Exit(1 if exit_code is None else exit_code) from None

    return wrapper


def _is_database_unreachable(exc: Exception) -> bool:
    # by name, so the CLI does not import SQLAlchemy for commands that never use it
    kind = type(exc)
    return kind.__module__.startswith("sqlalchemy") and kind.__name__ in (
        "OperationalError",
        "InterfaceError",
    )


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (no markup, no wrapping, ASCII-safe escapes)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def print_redacted(result: M, output: OutputFormat, render_text: Callable[[M], str]) -> None:
    """Write a run's or a preview's ``result`` as JSON or as ``render_text`` has it, with
    secret-looking text redacted (knowledge, prompts and answers may quote a credential)."""
    from personas_as_code.untrusted.secrets import redact_model

    result = redact_model(result)
    if output is OutputFormat.json:
        print_json({"format_version": RESULT_FORMAT_VERSION, **result.model_dump(mode="json")})
    else:
        say(render_text(result))
