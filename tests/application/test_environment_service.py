"""The application layer (run, preview, the MCP tools) sees the selected environment of
``personas.toml``: its overrides in the working tree, its catalogue in plan_sync."""

from __future__ import annotations

from pathlib import Path

from personas_as_code.application.plan_sync import plan_sync
from personas_as_code.application.service import PersonaService

from tests.repos import RepoBuilder

ENVIRONMENTS = """
[environments.staging]
database = "sqlite:///.personas/staging.db"

[environments.production]
database = "sqlite:///.personas/production.db"

[environments.production.overrides]
model = "scaigrid/claude-sonnet-4"
"""


def env_repo(repo: RepoBuilder) -> Path:
    repo.persona("helper", "name: Helper\nmodel: scaigrid/gpt-4o\nsystem_prompt: Be brief.\n")
    config = repo.root / "personas.toml"
    config.write_text(config.read_text() + ENVIRONMENTS)
    return repo.root


def test_the_service_loads_the_working_tree_as_the_environment_sees_it(
    repo: RepoBuilder,
) -> None:
    root = env_repo(repo)
    default = PersonaService(root).snapshot().repo
    production = PersonaService(root, environment="production").snapshot().repo
    assert default.config.environment == "staging"
    assert default.personas["helper"].spec.model == "scaigrid/gpt-4o"
    assert production.config.environment == "production"
    assert production.personas["helper"].spec.model == "scaigrid/claude-sonnet-4"


def test_plan_sync_plans_the_environments_catalogue(repo: RepoBuilder) -> None:
    root = env_repo(repo)
    result = plan_sync(PersonaService(root, environment="production"), None, None)
    assert result.text.startswith("Environment: production (tenant acme)\n")
    assert "scaigrid/claude-sonnet-4" in result.text
    assert (root / ".personas" / "production.db").exists()
    assert not (root / ".personas" / "staging.db").exists()


def test_the_persona_test_report_names_the_environment(repo: RepoBuilder) -> None:
    from personas_as_code.persona_tests.render_markdown import markdown
    from personas_as_code.persona_tests.render_text import summary
    from personas_as_code.persona_tests.runner import run_repo_tests

    root = env_repo(repo)
    repo.write(
        "personas/helper.tests.yaml",
        'cases:\n  - name: greets\n    message: "Hi"\n    assert:\n      - contains: "Hi"\n',
    )
    report = run_repo_tests(root, environment="production")
    assert report.environment == "production" and len(report.results) == 1
    assert markdown(report).splitlines()[1] == "### personas test: <code>production</code>"
    assert summary(report).startswith("Environment production: ")
    assert report.to_dict()["environment"] == "production"
    assert (root / ".personas" / "production.db").exists()
