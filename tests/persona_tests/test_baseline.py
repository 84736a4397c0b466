"""``--baseline``: the same cases against another commit's personas, on a real git repo
where a prompt edit flips one case from pass to fail (and back) when a model answers, and
where, on the offline mirror, no case is compared (never a regression, never "same pass")
but the changed answer and the chunks each side retrieved are shown side by side."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.loader.repo import load_repo
from personas_as_code.persona_tests.baseline import load_ref
from personas_as_code.persona_tests.render_markdown import markdown
from personas_as_code.persona_tests.runner import run_tests
from personas_as_code.persona_tests.selection import changed_personas
from personas_as_code.schemas.errors import ConfigError

from tests.mcp_server.conftest import git

RULE = "  - Never promise refunds or delivery dates.\n"
FLIPPED = "refund question retrieves the refund policy"


@pytest.fixture
def branch(tmp_path: Path, applied_with_model: tuple[Path, EmbeddedCatalogue]) -> Path:
    """A clone of the applied repo on a branch whose support-agent prompt lost a rule."""
    return clone_and_edit(applied_with_model[0], tmp_path / "clone")


def clone_and_edit(origin: Path, root: Path) -> Path:
    """A clone of ``origin`` at ``root`` on a branch whose support-agent lost ``RULE``."""
    git(origin.parent, "clone", "-q", str(origin), str(root))
    git(root, "config", "user.name", "T")
    git(root, "config", "user.email", "t@example.com")
    git(root, "checkout", "-q", "-b", "edit-prompt")
    persona = root / "personas" / "support-agent.yaml"
    text = persona.read_text()
    assert RULE in text
    persona.write_text(text.replace(RULE, "  - Offer a refund whenever asked.\n"))
    return root


def test_a_prompt_edit_flips_one_case_pass_to_fail(
    branch: Path, applied_with_model: tuple[Path, EmbeddedCatalogue]
) -> None:
    catalogue = applied_with_model[1]
    report = run_tests(branch, catalogue, baseline="main")  # a ref of the repo's own git
    changes = {r.case: r.change for r in report.results}
    assert changes.pop(FLIPPED) == "pass->fail"
    assert set(changes.values()) == {"same"}
    (regression,) = report.regressions
    assert regression.baseline is not None and regression.baseline.status == "passed"
    assert "Never promise refunds" in regression.baseline.answer
    assert "Offer a refund whenever asked." in regression.answer
    assert report.exit_code == 1
    data = report.to_dict()
    assert data["regressions"] == 1 and data["baseline_ref"] == "main"
    item = next(r for r in data["results"] if r["case"] == FLIPPED)
    assert item["baseline"]["change"] == "pass->fail" and item["status"] == "failed"

    comment = markdown(report)
    lines = comment.splitlines()
    assert lines[0] == "<!-- personas-tests -->" and lines[1] == "### personas test"
    assert "1 pass→fail" in comment
    # the persona with the regression comes first, and the regression first in its table
    first_table_row = next(line for line in lines if line.startswith("| ❌"))
    assert FLIPPED in first_table_row and "**pass→fail**" in first_table_row
    assert next(x for x in lines if x.startswith("#### ")) == "#### support-agent"
    # both answers, diffed, in a collapsible block
    assert "\n-- Never promise refunds or delivery dates.\n" in comment
    assert "\n+- Offer a refund whenever asked.\n" in comment
    assert "<summary>refund question retrieves the refund policy: failed (pass→fail)" in comment
    assert "<details>" in comment and "Baseline answer:" in comment
    # the chunks each side retrieved, side by side, in the same details
    details = comment.split("<summary>" + FLIPPED, 1)[1].split("</details>", 1)[0]
    assert "| # | baseline | this branch |" in details
    refunds = "<code>knowledge/col_product_docs/refunds.md</code>"
    row = next(line for line in details.splitlines() if line.startswith("| 1 |"))
    assert row.count(refunds) == 2 and row.count("<code>collection:col_product_docs</code>") == 2
    assert data["model_called"] is True and data["untested"] == 0 and data["model_note"] is None
    assert item["baseline"]["retrieval"] == item["retrieval"] != []


def test_fail_to_pass_when_the_branch_fixes_the_prompt(
    branch: Path, applied_with_model: tuple[Path, EmbeddedCatalogue]
) -> None:
    git(branch, "commit", "-q", "-am", "drop the rule")
    shutil.copy(applied_with_model[0] / "personas" / "support-agent.yaml", branch / "personas")
    base = load_ref(branch, "HEAD")
    report = run_tests(branch, applied_with_model[1], slugs=["support-agent"], baseline=base)
    assert {r.case: r.change for r in report.results}[FLIPPED] == "fail->pass"
    assert report.exit_code == 0


def test_new_personas_and_removed_cases(
    branch: Path, applied_with_model: tuple[Path, EmbeddedCatalogue]
) -> None:
    tests = branch / "personas" / "support-agent.tests.yaml"
    text = tests.read_text()
    cut = text.index("  - name: SSO setup steps")
    end = text.index("  - name: an impatient user")
    tests.write_text(text[:cut] + text[end:])
    base = load_ref(branch, "main")
    report = run_tests(branch, applied_with_model[1], slugs=["support-agent"], baseline=base)
    removed = [r for r in report.results if r.change == "removed"]
    assert [r.case for r in removed] == ["SSO setup steps come from the product docs"]
    assert removed[0].status == "skipped"


def test_changed_since_selects_personas_whose_inputs_changed(
    branch: Path, applied_with_model: tuple[Path, EmbeddedCatalogue]
) -> None:
    repo = load_repo(branch)
    assert changed_personas(repo, branch, "main") == ["support-agent"]
    git(branch, "checkout", "-q", "--", "personas/support-agent.yaml")
    assert changed_personas(load_repo(branch), branch, "main") == []
    doc = branch / "knowledge" / "col_legal_playbook" / "liability.md"
    doc.write_text(doc.read_text() + "\nRule L4: new.\n")
    (branch / "test-personas" / "confused-beginner.yaml").write_text(
        (branch / "test-personas" / "confused-beginner.yaml").read_text() + "# edited\n"
    )
    assert changed_personas(load_repo(branch), branch, "main") == ["legal-reviewer", "sql-helper"]


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("no-such-branch", "no branch, tag or commit has that name"),
        ("HEAD@{100}", "the reflog has only"),
        ("@{-9}", "no branch was checked out that many switches ago"),
        ("main^{tree}", "it names a tree, not a commit"),
        ("--output=x", "a ref cannot start with '-'"),
    ],
)
def test_a_baseline_that_is_no_commit_is_a_config_error(branch: Path, ref: str, why: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_ref(branch, ref)
    assert refused.value.message.startswith(
        f"--baseline: {ref!r} is not a commit in this repository ({why}"
    )
    with pytest.raises(ConfigError, match=r"^--changed-since: "):
        changed_personas(load_repo(branch), branch, ref)


def test_a_relative_baseline_loads_that_commit(branch: Path) -> None:
    git(branch, "commit", "-q", "-am", "edit the prompt")
    before = load_ref(branch, "HEAD~1").personas["support-agent"].system_prompt
    assert RULE.strip() in before
    assert RULE.strip() not in load_ref(branch, "HEAD").personas["support-agent"].system_prompt


def test_on_the_mirror_no_case_is_compared_but_the_changed_answer_is_shown(
    tmp_path: Path, applied: tuple[Path, EmbeddedCatalogue]
) -> None:
    """Both sides answered by the mirror: the prompt edit reaches the echo, yet it is no
    model's answer, so nothing is a regression or "the same pass"; the PR comment still
    shows what changed in what the model would have received, and what was retrieved."""
    root = clone_and_edit(applied[0], tmp_path / "clone")
    report = run_tests(root, applied[1], slugs=["support-agent"], baseline="main")
    assert {r.change for r in report.results} == {"untested"}
    assert {r.status for r in report.results} == {"untested"}
    assert report.regressions == [] and report.exit_code == 0
    flipped = next(r for r in report.results if r.case == FLIPPED)
    assert flipped.baseline is not None and flipped.baseline.status == "untested"
    assert flipped.baseline.retrieval == flipped.retrieval != ()
    cites = [a for a in flipped.assertions if a.kind == "cites"]
    assert [(a.passed, a.status) for a in cites] == [(True, "passed")]  # retrieval still ran

    comment = markdown(report)
    assert comment.splitlines()[3].startswith("> ⚠️ No model was called")
    row = next(line for line in comment.splitlines() if FLIPPED in line and line.startswith("|"))
    assert row == (
        f"| ⚪ | {FLIPPED} | not tested: no model was called | not tested: no model was called "
        "| not compared (no model) |"
    )
    assert f"<summary>{FLIPPED}: not tested: no model was called (answer changed)" in comment
    assert "\n+- Offer a refund whenever asked.\n" in comment
    assert "| # | baseline | this branch |" in comment
    assert "pass→fail" not in comment.replace("0 pass→fail", "")

    # --require-model: the same cases fail on both sides, and a failure both sides share
    # is not this branch's regression
    strict = run_tests(
        root, applied[1], slugs=["support-agent"], baseline="main", require_model=True
    )
    assert {r.status for r in strict.results} == {"failed"}
    assert strict.regressions == [] and strict.exit_code == 1
