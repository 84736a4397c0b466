"""``personas test``: run the persona test cases (``personas/<slug>.tests.yaml``)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from personas_as_code.cli.common import RepoOption, guarded, say, write_lines

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
) -> None:
    """Run the persona test cases against the working tree's personas (nothing persisted).

    A case is passed (every check passed), failed (a check failed), not tested (the
    offline mirror backend answered, so no model was called: its answer checks were not
    run; retrieval checks such as cites still were), skipped (a check could not run, e.g.
    no judge model for llm_rubric) or an error (the case could not run).

    Exit 0 when no case failed or errored (passed, not tested and skipped cases all exit
    0); 1 when a case failed (with --require-model, a case whose answer checks met an
    answer no model produced fails); 2 when a case could not run or the input is wrong."""
    from personas_as_code.persona_tests.baseline import load_ref
    from personas_as_code.persona_tests.render_junit import junit_xml
    from personas_as_code.persona_tests.render_markdown import markdown
    from personas_as_code.persona_tests.render_text import case_line, summary, text_lines
    from personas_as_code.persona_tests.report import CaseResult
    from personas_as_code.persona_tests.runner import run_tests
    from personas_as_code.persona_tests.selection import changed_personas
    from personas_as_code.sync.engine import load_valid_repo, open_repo_catalogue

    loaded = load_valid_repo(repo)
    chosen: list[str] | None = list(slugs) if slugs else None
    if changed_since is not None:
        changed = changed_personas(loaded, repo, changed_since)
        chosen = changed if chosen is None else [s for s in chosen if s in changed]
    base = load_ref(repo, baseline) if baseline is not None else None

    def progress(done: int, total: int, result: CaseResult) -> None:
        line = case_line(result)
        write_lines([line._replace(text=f"[{done}/{total}] {line.text}")], err=True)

    with open_repo_catalogue(loaded) as catalogue:
        report = run_tests(
            loaded,
            catalogue,
            slugs=chosen,
            baseline=base,
            baseline_ref=baseline,
            concurrency=concurrency or loaded.config.tests.concurrency,
            progress=progress if sys.stderr.isatty() else None,
            require_model=require_model,
        )
    if fmt is ReportFormat.text and output is None:
        write_lines(text_lines(report))
    else:
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
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    """Add ``test`` to the CLI."""
    app.command("test")(guarded(test, exit_code=EXIT_ERRORS))
