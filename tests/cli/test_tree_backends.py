"""`run` and `test` call the backends the tree under test configures, applied or not.

A fresh clone (what CI has) never ran `apply`: its catalogue's backend models are the
offline mirror.  Before, `personas test` there answered every case from the mirror even
when `personas.toml` named a real model, so nothing was ever tested in CI; now the
tree's `[backends]` decide, and the run says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_validate_cmd import run
from tests.persona_tests.prompt_model import configure_in_toml, serve_prompt_model

pytestmark = pytest.mark.slow

QUESTION = "Can I get a refund on my annual plan?"


def test_a_fresh_clone_calls_the_model_its_config_names(example_repo: Path) -> None:
    with serve_prompt_model() as (base_url, seen):
        configure_in_toml(example_repo, base_url)
        ran = run("run", "support-agent", QUESTION, "--format", "json", cwd=example_repo)
        assert ran.returncode == 0, ran.stderr
        result = json.loads(ran.stdout)
        assert result["backend"]["provider"] == "openai"
        assert result["backend"]["base_url"] == base_url
        assert any(
            "as personas.toml [backends] of the tree under test" in n for n in result["notes"]
        )
        assert seen and seen[-1]["messages"][-1]["content"] == QUESTION
        tested = run("test", "support-agent", "--format", "json", cwd=example_repo)
        report = json.loads(tested.stdout)
        assert report["model_called"] is True and report["answered_by"] == ["openai"], report
        assert report["untested"] == 0


def test_after_apply_the_tree_and_the_catalogue_agree_and_nothing_is_noted(
    example_repo: Path,
) -> None:
    with serve_prompt_model() as (base_url, _seen):
        configure_in_toml(example_repo, base_url)
        applied = run("apply", "--auto-approve", cwd=example_repo)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        ran = run("run", "support-agent", QUESTION, "--format", "json", cwd=example_repo)
        result = json.loads(ran.stdout)
        assert result["backend"]["provider"] == "openai"
        assert not any("[backends] of the tree under test" in n for n in result["notes"])


def test_without_backends_the_mirror_answers_and_says_no_model_was_called(
    example_repo: Path,
) -> None:
    ran = run("run", "support-agent", QUESTION, "--format", "json", cwd=example_repo)
    result = json.loads(ran.stdout)
    assert result["backend"]["provider"] == "mirror"


def test_a_tree_naming_the_mirror_the_catalogue_already_has_gets_no_note(
    example_repo: Path,
) -> None:
    with (example_repo / "personas.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[backends."openai/gpt-4o"]\nprovider = "mirror"\n')
    ran = run("run", "support-agent", QUESTION, "--format", "json", cwd=example_repo)
    result = json.loads(ran.stdout)
    assert result["backend"]["provider"] == "mirror"
    assert not any("[backends] of the tree under test" in n for n in result["notes"])
