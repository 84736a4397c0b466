"""``personas plan`` and ``personas apply``."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from personas_as_code.cli.common import (
    EnvOption,
    RepoOption,
    guarded,
    no_cycle_collection,
    print_json,
    say,
    write_lines,
)

if TYPE_CHECKING:
    from personas_as_code.sync.plan import Plan


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


PruneOption = Annotated[
    bool | None,
    typer.Option(
        "--prune/--no-prune",
        help="Delete owned personas whose file is gone (default: [safety] prune in personas.toml).",
    ),
]


TargetsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[SLUG]...",
        help="Only these personas and the knowledge sources they use (like terraform "
        "-target); the plan says it is partial, and nothing else is pruned.",
        show_default=False,
    ),
]
AdoptOption = Annotated[
    list[str] | None,
    typer.Option(
        "--adopt",
        metavar="SLUG",
        help="Take over this persona from the repo that manages it (repeat per slug); the "
        "plan shows the takeover as an 'adopt' change.",
        show_default=False,
    ),
]


def _request(
    prune: bool | None,
    changed_since: str | None,
    targets: list[str] | None,
    adopt: list[str] | None,
):
    from personas_as_code.sync.engine import PlanRequest

    return PlanRequest(
        prune,
        changed_since,
        targets=tuple(dict.fromkeys(targets)) if targets else None,
        adopt=tuple(adopt or ()),
    )


def _render(plan: Plan, fmt: PlanFormat) -> str:
    from personas_as_code.sync.render import render_json, render_markdown, render_text

    if fmt is PlanFormat.json:
        return render_json(plan)
    if fmt is PlanFormat.markdown:
        return render_markdown(plan)
    return render_text(plan)


def plan(
    targets: TargetsArgument = None,
    repo: RepoOption = Path("."),
    fmt: Annotated[
        PlanFormat, typer.Option("--format", "-f", help="Output format.")
    ] = PlanFormat.text,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode", help="Exit 0 for no changes, 2 for changes, 1 for errors."
        ),
    ] = False,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            help="Only personas whose files changed since this git ref (deletions included). For "
            "PR feedback; the apply on merge should reconcile everything.",
        ),
    ] = None,
    prune: PruneOption = None,
    adopt: AdoptOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the rendered plan to this file.")
    ] = None,
    env: EnvOption = None,
) -> None:
    """Show what apply would change in the catalogue (and whether apply would refuse it:
    the [safety] thresholds are checked and shown, the exit code is not changed by them)."""
    from personas_as_code.loader.config import require_repo_config

    repo = require_repo_config(repo)
    no_cycle_collection()
    from personas_as_code.sync.engine import open_plan_inputs
    from personas_as_code.sync.render.text import plan_lines

    with open_plan_inputs(repo, environment=env) as inputs:
        the_plan, _ = inputs.plan(_request(prune, changed_since, targets, adopt))
    if out is not None:
        out.write_text(_render(the_plan, fmt), encoding="utf-8")
    if fmt is PlanFormat.text:
        write_lines(plan_lines(the_plan))
    else:
        sys.stdout.write(_render(the_plan, fmt))
    if the_plan.errors:
        raise typer.Exit(1)
    if detailed_exitcode and the_plan.has_changes:
        raise typer.Exit(2)


def apply(
    targets: TargetsArgument = None,
    repo: RepoOption = Path("."),
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking (CI).")
    ] = False,
    prune: PruneOption = None,
    adopt: AdoptOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Apply even when safety thresholds are crossed.")
    ] = False,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, max=32, help="Personas applied at once.")
    ] = None,
    checksum: Annotated[
        str | None,
        typer.Option(
            "--checksum", help="Refuse unless the fresh plan has this checksum (the reviewed plan)."
        ),
    ] = None,
    fmt: Annotated[
        PlanFormat, typer.Option("--format", "-f", help="text or json.")
    ] = PlanFormat.text,
    env: EnvOption = None,
) -> None:
    """Reconcile the catalogue with the repo: create, update, publish, sync, prune."""
    from personas_as_code.loader.config import require_repo_config

    repo = require_repo_config(repo)
    no_cycle_collection()
    from personas_as_code.cli.apply_output import applying
    from personas_as_code.schemas.errors import ConfigError
    from personas_as_code.sync.engine import apply_repo, open_plan_inputs
    from personas_as_code.sync.render.text import plan_lines

    as_json = fmt is PlanFormat.json
    with open_plan_inputs(repo, environment=env) as inputs:
        loaded, catalogue = inputs.repo, inputs.catalogue
        the_plan, ctx = inputs.plan(_request(prune, None, targets, adopt))
        if checksum is not None:
            the_plan.verify_checksum(checksum)
        the_plan.raise_if_unsafe(loaded.config.safety, force=force)
        if not the_plan.has_changes:
            _nothing_to_apply(the_plan, as_json)
            return
        if not as_json:
            write_lines(plan_lines(the_plan))
        if not auto_approve:
            if not sys.stdin.isatty():
                raise ConfigError("not a terminal: pass --auto-approve to apply without asking")
            if not typer.confirm("Apply these changes?"):
                say("Apply cancelled.", err=True)
                raise typer.Exit(1)
        slugs = [p.slug for p in the_plan.changed]
        documents = sum(len(k.added) + len(k.changed) for k in the_plan.knowledge)
        with applying(
            the_plan.progress_total, slugs, documents=documents, stream=not as_json
        ) as printing:
            result = apply_repo(
                loaded,
                catalogue,
                the_plan,
                ctx,
                concurrency=concurrency,
                on_done=printing,
                on_indexed=printing.indexed,
            )
    if as_json:
        print_json(result.to_dict())
    else:
        write_lines(printing.rest(result))
    if the_plan.errors or not result.ok:
        raise typer.Exit(1)


def _nothing_to_apply(the_plan: Plan, as_json: bool) -> None:
    """Say there is nothing to apply (exit 1 when the plan has errors)."""
    from personas_as_code.sync.apply import ApplyResult
    from personas_as_code.sync.render.text import plan_lines

    if the_plan.errors:
        write_lines(plan_lines(the_plan))
        raise typer.Exit(1)
    if as_json:
        print_json(ApplyResult.nothing(the_plan).to_dict())
    elif the_plan.targets is not None:
        say("No changes for " + ", ".join(the_plan.targets) + " (a partial plan).")
    else:
        where = f" of environment {the_plan.environment}" if the_plan.environment else ""
        say(f"No changes. The catalogue{where} matches the repo.")


def register(app: typer.Typer) -> None:
    """Add ``plan`` and ``apply`` to the CLI."""
    app.command("plan")(guarded(plan))
    app.command("apply")(guarded(apply))
