"""Environments of ``personas.toml``: each names its catalogue, tenant and overrides;
``--env`` (``environment=``) selects one, and the plan and apply report name it."""

from __future__ import annotations

from pathlib import Path

import pytest
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.loader.config import load_config
from personas_as_code.loader.files import DirectoryFiles
from personas_as_code.schemas.environments import EnvironmentOverrides
from personas_as_code.schemas.errors import ConfigError, StalePlan
from personas_as_code.schemas.persona import PersonaFile
from personas_as_code.sync.engine import PlanRequest, apply_repo, open_plan_inputs
from personas_as_code.sync.render import render_json, render_markdown, render_text

from tests.repos import RepoBuilder
from tests.sync.conftest import open_target

PERSONA = """name: Helper
model: scaigrid/gpt-4o
status: active
system_prompt: Be brief.
publish: {enabled: true, groups: [mg_support]}
default_params: {temperature: 0.3, max_tokens: 400}
"""

ENVIRONMENTS = """
[environments.staging]
database = "sqlite:///.personas/staging.db"

[environments.production]
database = "sqlite:///.personas/production.db"
tenant = "prod"

[environments.production.overrides]
model = "scaigrid/claude-sonnet-4"
publish_groups = ["mg_qa"]
default_params = {temperature = 0.1}
"""

# neither may be reached once an environment names the catalogue
STRAY = {"PERSONAS_DATABASE_URL": "sqlite:////nonexistent/stray.db", "SCAIGRID_HOST": "x"}


@pytest.fixture
def env_repo(repo: RepoBuilder) -> Path:
    repo.persona("helper", PERSONA)
    config = repo.root / "personas.toml"
    config.write_text(config.read_text() + ENVIRONMENTS)
    return repo.root


def _apply(root: Path, environment: str | None, env: dict[str, str] | None = None):
    with open_plan_inputs(root, env or {}, environment) as inputs:
        plan, ctx = inputs.plan(PlanRequest())
        return plan, apply_repo(inputs.repo, inputs.catalogue, plan, ctx)


def _plan(root: Path, environment: str | None, env: dict[str, str] | None = None):
    with open_plan_inputs(root, env or {}, environment) as inputs:
        return inputs.plan(PlanRequest())[0]


def _personas(database: Path, tenant: str) -> dict[str, object]:
    catalogue = EmbeddedCatalogue.open(f"sqlite:///{database}", tenant)
    try:
        return {p.slug: p for p in catalogue.iter_personas()}
    finally:
        catalogue.close()


def test_each_environment_fills_its_own_catalogue_with_its_overrides(env_repo: Path) -> None:
    plan, result = _apply(env_repo, "staging", STRAY)
    assert result.ok and plan.environment == "staging" and plan.tenant == "acme"
    staging = _personas(env_repo / ".personas/staging.db", "acme")
    assert not (env_repo / ".personas/production.db").exists()
    helper = staging["helper"]
    assert helper.model_slug == "scaigrid/gpt-4o"
    assert helper.default_params == {"temperature": 0.3, "max_tokens": 400}

    plan, result = _apply(env_repo, "production", STRAY)
    assert result.ok and plan.environment == "production" and plan.tenant == "prod"
    production = _personas(env_repo / ".personas/production.db", "prod")["helper"]
    assert production.model_slug == "scaigrid/claude-sonnet-4"
    # merged over the file's: the environment's temperature, the file's max_tokens
    assert production.default_params == {"temperature": 0.1, "max_tokens": 400}
    assert production.published_model_id is not None
    # staging untouched by the production apply, and both now converged
    assert _personas(env_repo / ".personas/staging.db", "acme")["helper"].model_slug == (
        "scaigrid/gpt-4o"
    )
    assert not _plan(env_repo, "staging").has_changes
    assert not _plan(env_repo, "production").has_changes


def test_the_published_groups_come_from_the_environment(env_repo: Path) -> None:
    staging_plan = _plan(env_repo, "staging")
    production_plan = _plan(env_repo, "production")
    assert "mg_support" in render_text(staging_plan) and "mg_qa" not in render_text(staging_plan)
    assert "mg_qa" in render_text(production_plan)
    assert "mg_support" not in render_text(production_plan)


def test_without_env_the_default_environment_is_used(env_repo: Path) -> None:
    assert _plan(env_repo, None).environment == "staging"  # the first declared
    config = env_repo / "personas.toml"
    config.write_text(
        config.read_text().replace(
            'tenant = "acme"\n', 'tenant = "acme"\ndefault_environment = "production"\n', 1
        )
    )
    assert _plan(env_repo, None).environment == "production"


def test_every_plan_format_names_the_environment(env_repo: Path) -> None:
    plan = _plan(env_repo, "production")
    assert render_text(plan).splitlines()[0] == "Environment: production (tenant prod)"
    assert "### personas plan: <code>production</code> (tenant <code>prod</code>)" in (
        render_markdown(plan)
    )
    assert '"environment": "production"' in render_json(plan)
    _, result = _apply(env_repo, "production")
    assert result.to_dict()["environment"] == "production"
    assert next(iter(result.lines())).text == "Applied to environment production:"


def test_a_checksum_reviewed_for_one_environment_is_refused_by_another(
    repo: RepoBuilder,
) -> None:
    repo.persona("helper", PERSONA)
    config = repo.root / "personas.toml"
    twins = ENVIRONMENTS.split("\n[environments.production.overrides]")[0]
    config.write_text(config.read_text() + twins.replace('tenant = "prod"\n', ""))
    staging, production = _plan(repo.root, "staging"), _plan(repo.root, "production")
    assert staging.to_dict()["summary"] == production.to_dict()["summary"]
    assert staging.checksum != production.checksum
    with pytest.raises(StalePlan):
        production.verify_checksum(staging.checksum)


def test_an_unknown_environment_is_a_config_error_naming_the_known_ones(env_repo: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown environment 'prd'; personas.toml declares: staging, production"
    ):
        _plan(env_repo, "prd")
    assert not (env_repo / ".personas").exists()


def test_env_on_a_repo_without_environments_is_a_config_error(repo: RepoBuilder) -> None:
    repo.persona("helper", PERSONA)
    with pytest.raises(ConfigError, match="declares no \\[environments\\]"):
        _plan(repo.root, "staging")


def test_a_repo_without_environments_plans_as_before(repo: RepoBuilder, tmp_path: Path) -> None:
    repo.persona("helper", PERSONA)
    plan = _plan(repo.root, None, {"PERSONAS_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    assert plan.environment is None
    assert "environment" not in plan.to_dict()
    assert not render_text(plan).startswith("Environment")
    assert (tmp_path / "c.db").exists()  # PERSONAS_DATABASE_URL still chooses it


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            'database = "sqlite:///a.db"\nurl = "https://x.example"\napi_key_env = "K"',
            "give exactly one of database (embedded) and url (remote)",
        ),
        ('url = "https://x.example"', "a remote catalogue (url) needs api_key_env"),
        ('database = "sqlite:///a.db"\napi_key_env = "K"', "api_key_env is for a remote"),
        ('url = "https://u:p@x.example"\napi_key_env = "K"', "must not carry credentials"),
        ("", "give exactly one of database"),
    ],
)
def test_an_environment_names_one_catalogue(repo: RepoBuilder, section: str, message: str) -> None:
    config = repo.root / "personas.toml"
    config.write_text(config.read_text() + f"\n[environments.prod]\n{section}\n")
    _, problems = load_config(DirectoryFiles(repo.root), "x")
    assert len(problems) == 1 and message in problems[0].message
    # the url's line, or the [environments.prod] header for a rule of the whole table
    assert problems[0].line == (6 if "credentials" in message else 5)


def test_an_undeclared_default_environment_is_a_problem(repo: RepoBuilder) -> None:
    config = repo.root / "personas.toml"
    config.write_text(config.read_text() + 'default_environment = "prod"\n')
    _, problems = load_config(DirectoryFiles(repo.root), "x")
    assert ["repo.default_environment 'prod' is not declared" in p.message for p in problems] == [
        True
    ]


def test_a_remote_environment_reads_its_key_from_its_variable(
    repo: RepoBuilder, sqlite_url: str
) -> None:
    repo.persona("helper", PERSONA)
    with open_target("http", sqlite_url) as target:
        config = repo.root / "personas.toml"
        config.write_text(
            config.read_text()
            + f'\n[environments.remote]\nurl = "{target.base_url}"\napi_key_env = "REMOTE_KEY"\n'
        )
        with pytest.raises(ConfigError, match=r"REMOTE_KEY .* is not set"):
            _plan(repo.root, "remote", {"SCAIGRID_API_KEY": target.key or ""})
        plan, result = _apply(repo.root, "remote", {"REMOTE_KEY": target.key or ""})
        assert result.ok and plan.environment == "remote"
        assert [p.slug for p in target.catalogue.iter_personas()] == ["helper"]
    assert not (repo.root / ".personas" / "catalogue.db").exists()


def test_every_overridable_value_changes_a_persona() -> None:
    """The overridable set is declared once (``EnvironmentOverrides``): a field added there
    without its merge would leave the persona as the file has it, and fail here."""
    spec = PersonaFile.model_validate({"name": "H", "model": "a/b"})
    examples = {"model": "c/d", "publish_groups": ["g"], "default_params": {"top_p": 0.5}}
    assert set(examples) == set(EnvironmentOverrides.model_fields)
    for name, value in examples.items():
        merged = EnvironmentOverrides.model_validate({name: value}).merged_over(spec)
        assert merged != spec, name
    assert EnvironmentOverrides().merged_over(spec) is spec
