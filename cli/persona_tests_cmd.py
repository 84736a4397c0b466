"""``personas test``: run the persona test cases (``personas/<slug>.tests.yaml``)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from personas_as_code.cli.common import EnvOption, RepoOption, guarded, say, write_lines

if TYPE_CHECKING:
    from personas_as_code.persona_tests.report import CaseResult, PersonaTestReport

EXIT_ERRORS = 2


class ReportFormat(StrEnum):
    """Report formats of ``personas test``."""

    text = "text"
    json = "json"
    junit = "junit"
    markdown = "markdown"


def test(
    slugs: Annotated[
        list[str] | None, typer.Argument(help="Personas to test (default: all with tests).")
    ] = None,
    repo: RepoOption = Path("."),
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            help="Only personas whose files (persona, prompt, tests, knowledge, test "
            "personas) changed since this git ref.",
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="Also run the same cases against this git ref's personas and report "
            "pass→fail / fail→pass with the answers diffed.",
        ),
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.text,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report here instead of stdout."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="Cases run at once (default: [tests] concurrency)."),
    ] = None,
    require_model: Annotated[
        bool,
        typer.Option(
            "--require-model",
            help="Fail (exit 1) a case whose answer no model produced (the offline mirror "
            "backend) instead of reporting it as not tested.",
        ),
    ] = False,
    env: EnvOption = None,
) -> None:
    """Run the persona test cases against the working tree's personas (nothing persisted).

    A case is passed (every check passed), failed (a check failed), not tested (the
    offline mirror backend answered, so no model was called: its answer checks were not
    run; retrieval checks such as cites still were), skipped (a check could not run, e.g.
    no judge model for llm_rubric) or an error (the case could not run).

    Exit 0 when no case failed or errored (passed, not tested and skipped cases all exit
    0); 1 when a case failed (with --require-model, a case whose answer checks met an
    answer no model produced fails); 2 when a case could not run or the input is wrong."""
    from personas_as_code.loader.config import require_repo_config

    repo = require_repo_config(repo)
    from personas_as_code.persona_tests.runner import run_repo_tests

    report = run_repo_tests(
        repo,
        slugs=slugs,
        changed_since=changed_since,
        baseline_ref=baseline,
        concurrency=concurrency,
        progress=_progress if sys.stderr.isatty() else None,
        require_model=require_model,
        environment=env,
    )
    _write_report(report, fmt, output)
    raise typer.Exit(report.exit_code)


def _progress(done: int, total: int, result: CaseResult) -> None:
    """One finished case's line on stderr, numbered ``[done/total]``."""
    from personas_as_code.persona_tests.render_text import case_line

    line = case_line(result)
    write_lines([line._replace(text=f"[{done}/{total}] {line.text}")], err=True)


def _write_report(report: PersonaTestReport, fmt: ReportFormat, output: Path | None) -> None:
    """The report in ``fmt`` on stdout, or in ``output`` with its summary on stderr."""
    from personas_as_code.persona_tests.render_junit import junit_xml
    from personas_as_code.persona_tests.render_markdown import markdown
    from personas_as_code.persona_tests.render_text import summary, text_lines

    if fmt is ReportFormat.text and output is None:
        write_lines(text_lines(report))
        return
    if fmt is ReportFormat.json:
        rendered = json.dumps(report.to_dict(), indent=2) + "\n"
    elif fmt is ReportFormat.junit:
        rendered = junit_xml(report)
    elif fmt is ReportFormat.markdown:
        rendered = markdown(report)
    else:
        rendered = "\n".join(line.text for line in text_lines(report)) + "\n"
    if output is None:
        sys.stdout.write(rendered)
    else:
        output.write_text(rendered, encoding="utf-8")
        if report.model_note:
            say(report.model_note, err=True)
        say(summary(report), err=True)


def register(app: typer.Typer) -> None:
    """Add ``test`` to the CLI."""
    app.command("test")(guarded(test, exit_code=EXIT_ERRORS))
