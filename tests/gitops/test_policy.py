"""Security and behaviour rules for the workflows, the composite action and the
pre-commit hooks, checked on the parsed YAML (no linter needed)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.gitops.conftest import (
    ACTION_FILE,
    HOOKS_FILE,
    WORKFLOW_FILES,
    all_documents,
    load_workflow,
    load_yaml,
    steps_of,
)

SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(?:#\s*(.*))?$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+\b")
PLAN_MARKER = "<!-- personas-plan -->"

DOCUMENTS = all_documents()
DOC_IDS = [name for name, _ in DOCUMENTS]


def is_local(uses: str) -> bool:
    return uses.startswith(("./", "$/"))


def walk(node: Any, path: tuple[str, ...] = ()) -> Any:
    """Every (path, string) in a parsed YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, str(index)))
    elif isinstance(node, str):
        yield path, node


# --- pinning -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=DOC_IDS)
def test_every_uses_is_pinned_to_a_full_commit_sha(name: str, document: dict) -> None:
    uses = [step["uses"] for _, step in steps_of(document) if "uses" in step]
    uses += [job["uses"] for job in (document.get("jobs") or {}).values() if "uses" in job]
    unpinned = [u for u in uses if not is_local(u) and not SHA_PIN.match(u)]
    assert not unpinned, f"{name}: not pinned to a 40-hex commit SHA: {unpinned}"


@pytest.mark.parametrize(
    "path", [*WORKFLOW_FILES, ACTION_FILE], ids=lambda p: p.name if hasattr(p, "name") else p
)
def test_every_sha_pin_names_its_version_in_a_comment(path) -> None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = USES_LINE.match(line)
        if match and not is_local(match.group(1)):
            comment = match.group(2) or ""
            assert VERSION_COMMENT.match(comment), (
                f"{path.name}:{number}: pin without a '# vX.Y.Z' comment: {line.strip()}"
            )


# --- permissions ---------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_defaults_to_no_permissions_and_every_job_declares_its_own(path) -> None:
    workflow = load_yaml(path)
    assert "permissions" in workflow, f"{path.name}: no top-level permissions"
    assert workflow["permissions"] in ({}, {"contents": "read"}), workflow["permissions"]
    for job_id, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{path.name}/{job_id}: no permissions"


ALLOWED_WRITES = {
    ("personas-plan.yml", "plan"): {"pull-requests"},
    ("personas-drift.yml", "drift"): {"issues"},
}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_write_permissions_only_where_needed(path) -> None:
    workflow = load_yaml(path)
    for job_id, job in workflow["jobs"].items():
        permissions = job["permissions"]
        writes = {scope for scope, level in permissions.items() if level == "write"}
        assert writes == ALLOWED_WRITES.get((path.name, job_id), set()), (path.name, job_id)
        assert set(permissions.values()) <= {"read", "write", "none"}


def test_no_workflow_uses_privileged_pull_request_triggers() -> None:
    for path in WORKFLOW_FILES:
        triggers = load_yaml(path)["on"]
        assert "pull_request_target" not in triggers, path.name
        assert "workflow_run" not in triggers, path.name


# --- script injection and secrets -----------------------------------------------------


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=DOC_IDS)
def test_no_expressions_inside_run_scripts(name: str, document: dict) -> None:
    # Stricter than "no ${{ github.event.* }}": every value reaches scripts through env.
    for step_name, step in steps_of(document):
        script = step.get("run", "")
        assert "${{" not in script, f"{name}: {step_name} interpolates into its script"
        assert "github.event" not in script, f"{name}: {step_name}"


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=DOC_IDS)
def test_secrets_are_only_read_into_env(name: str, document: dict) -> None:
    for path, value in walk(document):
        if re.search(r"secrets\.[A-Za-z_]", value):
            assert "env" in path, f"{name}: secret used outside env: at {'/'.join(path)}"
            assert "run" not in path


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=DOC_IDS)
def test_checkouts_do_not_persist_credentials(name: str, document: dict) -> None:
    for step_name, step in steps_of(document):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, step_name


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_job_has_a_timeout(path) -> None:
    for job_id, job in load_yaml(path)["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{path.name}/{job_id}"


# --- the plan workflow ----------------------------------------------------------------


def test_plan_runs_on_pull_requests_touching_persona_files() -> None:
    on = load_workflow("personas-plan.yml")["on"]
    assert set(on) == {"pull_request"}
    # every folder this repo's personas.toml names (test_path_filters checks they follow it)
    assert set(on["pull_request"]["paths"]) == {
        "personas/**",
        "knowledge/**",
        "test-personas/**",
        "schemas/**",
        "personas.toml",
        ".github/workflows/personas-plan.yml",
    }


def test_plan_validates_then_plans_changed_personas_and_comments() -> None:
    steps = load_workflow("personas-plan.yml")["jobs"]["plan"]["steps"]
    commands = [s.get("with", {}).get("command") for s in steps if s.get("uses") == "./"]
    assert commands == ["validate", "plan"]
    plan = next(s for s in steps if s.get("id") == "plan")
    assert plan["with"]["args"].startswith("--changed-since origin/")
    assert set(plan["env"]) == {"SCAIGRID_HOST", "SCAIGRID_API_KEY"}
    assemble, post = steps[-2], steps[-1]
    assert PLAN_MARKER in assemble["run"] and PLAN_MARKER in post["run"]
    # The plan and the tests reach the comment as files, read by jq, never as script text.
    assert assemble["env"]["PLAN_FILE"] == "${{ steps.plan.outputs.plan-file }}"
    assert assemble["env"]["TESTS_FILE"] == "${{ steps.plan.outputs.tests-file }}"
    assert post["env"]["BODY_FILE"] == "${{ steps.comment.outputs.body-file }}"
    assert "--rawfile body" in post["run"]
    assert "!cancelled()" in assemble["if"] and "!cancelled()" in post["if"]


def test_plan_runs_the_persona_tests_against_the_base_branch_in_the_same_comment() -> None:
    steps = load_workflow("personas-plan.yml")["jobs"]["plan"]["steps"]
    plan = next(s for s in steps if s.get("id") == "plan")
    assert plan["with"]["tests"] == "auto"
    assert plan["with"]["tests-baseline"] == "origin/${{ github.base_ref }}"
    # Regressions fail the plan step; the comment is still assembled and posted (it runs
    # unless cancelled) and judges the plan by the plan's own exit code, not the step's.
    assert "tests-fail-on" not in plan["with"]
    assemble = next(s for s in steps if s.get("id") == "comment")
    assert assemble["env"]["PLAN_EXIT_CODE"] == "${{ steps.plan.outputs.exit-code }}"
    assert "PLAN_OUTCOME" not in assemble["env"]
    # Exactly one comment is posted: one step talks to the GitHub API.
    assert sum("gh api" in s.get("run", "") for s in steps) == 1


def test_fetch_depth_allows_changed_since_the_base_branch() -> None:
    steps = load_workflow("personas-plan.yml")["jobs"]["plan"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0


# --- the apply workflow ---------------------------------------------------------------


def test_apply_runs_on_push_to_the_default_branch_and_never_overlaps() -> None:
    workflow = load_workflow("personas-apply.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["concurrency"] == {"group": "personas-apply", "cancel-in-progress": False}
    job = workflow["jobs"]["apply"]
    assert job["if"] == "github.ref_name == github.event.repository.default_branch"


def test_apply_reconciles_the_full_set_with_auto_approve() -> None:
    job = load_workflow("personas-apply.yml")["jobs"]["apply"]
    apply = next(s for s in job["steps"] if s.get("uses") == "./")
    assert apply["with"]["command"] == "apply"
    assert "--changed-since" not in apply["with"]["args"]
    assert apply["env"] == {
        "SCAIGRID_HOST": "${{ secrets.SCAIGRID_HOST }}",
        "SCAIGRID_API_KEY": "${{ secrets.SCAIGRID_API_KEY }}",
        # the key of a remote environment of personas.toml, by the templates' convention
        "PERSONAS_CATALOGUE_KEY": "${{ secrets.PERSONAS_CATALOGUE_KEY }}",
    }
    run_block = ACTION_FILE.read_text(encoding="utf-8")
    assert 'apply --auto-approve "${extra[@]}"' in run_block


# --- the drift workflow ---------------------------------------------------------------


def test_drift_is_scheduled_and_manual_and_keeps_one_labelled_issue() -> None:
    workflow = load_workflow("personas-drift.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    assert workflow["on"]["schedule"][0]["cron"]
    steps = workflow["jobs"]["drift"]["steps"]
    plan = next(s for s in steps if s.get("id") == "plan")
    # the full set, never --changed-since; one check per environment of the matrix
    assert plan["with"] == {"command": "plan", "environment": "${{ matrix.environment }}"}
    assert workflow["jobs"]["drift"]["strategy"]["matrix"] == {"environment": [""]}
    issue_step = next(s for s in steps if "gh issue" in s.get("run", ""))
    assert 'label="persona-drift${TARGET:+-${TARGET}}"' in issue_step["run"]
    assert "--body-file" in issue_step["run"]
    fail = steps[-1]
    configured = "steps.catalogue.outputs.configured == 'true'"
    assert fail["if"] == f"{configured} && steps.plan.outputs.has-changes == 'true'"
    assert "exit 1" in fail["run"]
    # Without the catalogue secrets nothing after the check runs (tests/gitops/test_templates).
    assert plan["if"] == configured
    assert issue_step["if"] == f"{configured} && steps.plan.outcome == 'success'"


# --- the project's CI -----------------------------------------------------------------


def test_ci_runs_the_ci_script_with_postgres() -> None:
    workflow = load_workflow("ci.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    job = workflow["jobs"]["test"]
    postgres = job["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    assert postgres["env"] == {"POSTGRES_HOST_AUTH_METHOD": "trust", "POSTGRES_DB": "test"}
    assert postgres["ports"] == ["5432:5432"]
    assert any(s.get("run") == "bash .ci/run" for s in job["steps"])


# --- the composite action -------------------------------------------------------------


def test_action_interface() -> None:
    action = load_yaml(ACTION_FILE)
    assert action["runs"]["using"] == "composite"
    assert {"command", "args", "python-version", "working-directory"} <= set(action["inputs"])
    assert action["inputs"]["command"]["required"] is True
    assert {"exit-code", "plan-file", "checksum", "has-changes"} <= set(action["outputs"])
    install = next(
        s for s in action["runs"]["steps"] if s.get("name") == "Install personas-as-code"
    )
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"


def test_action_plans_with_markdown_and_detailed_exit_codes() -> None:
    text = ACTION_FILE.read_text(encoding="utf-8")
    assert "plan --format markdown --detailed-exitcode" in text


def test_action_runs_the_persona_tests_after_the_plan() -> None:
    action = load_yaml(ACTION_FILE)
    inputs = action["inputs"]
    assert inputs["tests"]["default"] == "auto"
    assert inputs["tests-baseline"]["default"] == ""
    assert inputs["tests-fail-on"]["default"] == "regression"
    assert inputs["require-model"]["default"] == "false"  # no model: reported, not failed
    outputs = {"tests-file", "tests-exit-code", "tests-regressions", "comment-file"}
    assert outputs <= set(action["outputs"])
    steps = action["runs"]["steps"]
    tests = next(s for s in steps if s.get("id") == "tests")
    assert steps[-1] is tests  # after the plan, never instead of it
    assert tests["if"] == "${{ inputs.command == 'plan' && inputs.tests != 'false' }}"
    assert tests["env"]["PLAN_FILE"] == "${{ steps.run.outputs.plan-file }}"
    assert tests["env"]["REQUIRE_MODEL"] == "${{ inputs.require-model }}"
    assert 'test --format markdown "${baseline[@]}" "${require[@]}" "${extra[@]}"' in tests["run"]


# --- pre-commit -----------------------------------------------------------------------


def test_pre_commit_hook_runs_personas_validate() -> None:
    hooks = load_yaml(HOOKS_FILE)
    assert isinstance(hooks, list)
    assert [hook["id"] for hook in hooks] == ["personas-validate"]
    hook = hooks[0]
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["entry"] == "personas validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False


@pytest.mark.parametrize(
    ("filename", "runs"),
    [
        ("personas/support-agent.yaml", True),
        ("personas/prompts/onboarding-coach.md", True),
        ("personas.toml", True),
        ("README.md", False),
        ("personas.toml.bak", False),
        ("docs/personas/x.yaml", False),
    ],
)
def test_pre_commit_hook_file_pattern(filename: str, runs: bool) -> None:
    pattern = re.compile(load_yaml(HOOKS_FILE)[0]["files"])
    # pre-commit uses re.search on the repo-relative path.
    assert bool(pattern.search(filename)) is runs
