"""Run a whole workflow job locally, step by step, the way the runner does: each step's
``if:`` decided (``tests.gitops.expressions``), its ``env:`` and ``with:`` filled in from
the secrets, the ``github`` context and earlier steps' outputs, ``run:`` scripts run with
bash (``tests.gitops.steps.Runner``), and the personas-as-code action run as its own
composite steps from ``action.yml``.

Two things cannot run offline and stand in for themselves: ``actions/checkout`` (the
repo is already checked out where the job runs) and ``actions/setup-python`` (its
``python-path`` is this interpreter, whose venv the Runner provides). Steps named in
``offline`` (those that call the GitHub API) are not run: they are reported as
``offline`` when their condition holds, so a test can tell "would run" from "skipped".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.gitops.conftest import ACTION_FILE, ROOT, TEMPLATE_ACTION, load_yaml
from tests.gitops.expressions import Evaluator, to_text
from tests.gitops.steps import Runner

ACTION_REFS = ("./", TEMPLATE_ACTION)


@dataclass
class JobRun:
    """Per step (by name): ``success``, ``failure``, ``skipped`` or ``offline``; the
    steps' outputs (by id) and logs (by name)."""

    status: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return "failure" not in self.status.values()

    def log(self) -> str:
        return "\n".join(
            f"--- {name}: {self.status[name]}\n{text}" for name, text in self.logs.items()
        )


def status_functions(failed: bool) -> dict[str, bool]:
    return {"success": not failed, "failure": failed, "cancelled": False, "always": True}


def interpolate_map(evaluator: Evaluator, mapping: dict[str, Any] | None) -> dict[str, str]:
    return {key: evaluator.interpolate(to_text(value)) for key, value in (mapping or {}).items()}


def run_action(
    runner: Runner, inputs: dict[str, str], env: dict[str, str], repo: Path, github: dict
) -> tuple[bool, dict[str, str], str]:
    """The composite action with ``inputs`` (over its defaults): success, outputs, log."""
    action = load_yaml(ACTION_FILE)
    values = {name: to_text(spec.get("default", "")) for name, spec in action["inputs"].items()}
    unknown = set(inputs) - set(values)
    assert not unknown, f"the action has no inputs {unknown}"
    values.update(inputs)
    missing = [n for n, s in action["inputs"].items() if s.get("required") and not values[n]]
    assert not missing, f"required inputs missing: {missing}"
    context: dict[str, Any] = {
        "inputs": values,
        "steps": {},
        "github": {**github, "action_path": str(ROOT)},
        "runner": {"os": "Linux", "temp": str(runner.temp)},
    }
    failed, log = False, []
    for step in action["runs"]["steps"]:
        evaluator = Evaluator(context, status_functions(failed))
        record = {"outputs": {}, "outcome": "skipped"}
        if evaluator.condition(step.get("if")):
            if step.get("uses", "").startswith("actions/setup-python@"):
                record = {"outputs": {"python-path": sys.executable}, "outcome": "success"}
            else:
                step_env = {**env, **interpolate_map(evaluator, step.get("env"))}
                workdir = evaluator.interpolate(step.get("working-directory", "."))
                result = runner.run(step["run"], step_env, repo / workdir)
                outcome = "success" if result.code == 0 else "failure"
                record = {"outputs": result.outputs, "outcome": outcome}
                failed = failed or result.code != 0
                log.append(result.log)
        if "id" in step:
            context["steps"][step["id"]] = record
    evaluator = Evaluator(context, status_functions(failed))
    outputs = {
        name: evaluator.interpolate(spec["value"]) for name, spec in action["outputs"].items()
    }
    return not failed, outputs, "\n".join(log)


def run_job(
    runner: Runner,
    workflow: dict[str, Any],
    job_id: str,
    repo: Path,
    *,
    secrets: dict[str, str],
    github: dict[str, Any],
    offline: tuple[str, ...] = (),
    inputs: dict[str, str] | None = None,
    matrix: dict[str, str] | None = None,
) -> JobRun:
    """Run ``workflow``'s job ``job_id`` in ``repo`` (its checkout), with the
    ``workflow_dispatch`` ``inputs`` (over their defaults) and one ``matrix`` entry."""
    job = workflow["jobs"][job_id]
    dispatch = (workflow.get("on") or {}).get("workflow_dispatch") or {}
    values = {k: to_text(s.get("default", "")) for k, s in (dispatch.get("inputs") or {}).items()}
    context: dict[str, Any] = {
        "secrets": secrets,
        "github": github,
        "steps": {},
        "inputs": {**values, **(inputs or {})},
        "matrix": {k: "" for k in job.get("strategy", {}).get("matrix", {})} | (matrix or {}),
    }
    run, failed = JobRun(), False
    job_runs = Evaluator(context, status_functions(False)).condition(job.get("if"))
    for index, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("id") or f"step {index}"
        evaluator = Evaluator(context, status_functions(failed))
        if not job_runs:
            run.status[name] = "skipped"
            continue
        record: dict[str, Any] = {"outputs": {}, "outcome": "skipped"}
        uses = step.get("uses", "")
        if not evaluator.condition(step.get("if")):
            run.status[name] = "skipped"
        elif name in offline:
            run.status[name] = "offline"
            record["outcome"] = "success"
        elif uses.startswith("actions/checkout@"):
            run.status[name] = "success"
            record["outcome"] = "success"
        else:
            env = interpolate_map(evaluator, step.get("env"))
            if uses in ACTION_REFS:
                inputs = interpolate_map(evaluator, step.get("with"))
                ok, outputs, log = run_action(runner, inputs, env, repo, github)
            else:
                assert "run" in step, f"{name}: cannot run uses: {uses}"
                result = runner.run(step["run"], env, repo / step.get("working-directory", "."))
                ok, outputs, log = result.code == 0, result.outputs, result.log
            run.status[name] = "success" if ok else "failure"
            run.logs[name] = log
            record = {"outputs": outputs, "outcome": run.status[name]}
            failed = failed or not ok
        if "id" in step:
            context["steps"][step["id"]] = record
            run.outputs[step["id"]] = record["outputs"]
    return run
