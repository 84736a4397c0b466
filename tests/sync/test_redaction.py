"""Secrets never reach a plan's output: one redacted copy of the plan feeds every renderer.

``tests/data/secrets/leaky_persona.yaml`` holds every kind of secret of issue 9
item 16, each with a unique marker, next to harmless values that must survive.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Callable

import pytest
from personas_as_code.catalogue.api import PersonaUpdate
from personas_as_code.sync.plan import Plan
from personas_as_code.sync.render import render_json, render_markdown, render_text
from personas_as_code.sync.render.redact import RedactedPlan, redact_plan

from tests.repos import DATA
from tests.sync.conftest import Sync

LEAKY = DATA / "secrets" / "leaky_persona.yaml"
# The secret part of every value in LEAKY (by key name or by shape).
FILE_SECRETS = [
    "xak-SEARCHKEY-010",  # search_config.headers.X-Api-Key
    "SearchPassw0rd-020",  # URL with basic-auth credentials in search_config
    "tok-AUTHZ-030",  # default_params.headers.Authorization: Bearer …
    "UpstreamTok3n-040",  # a "Bearer …" value under a harmless key
    "skv-SECRETKEY-050",  # secret_key
    "pwv-PASSWORD-060",  # password
    "tkv-TOKEN-070",  # token
    "akv-APIKEY-080",  # api_key
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # aws_secret_access_key
    "PgPassw0rd-090",  # database URL with a password
    "AlicePassw0rd-100",  # URL with basic-auth credentials
    "SlackSecretPart110",  # Slack webhook URL
    "MapKeySecret120",  # a secret used as a map key
    "sk_per_OwnKey130",  # this project's own API key format
]
# Harmless values next to them, shown as they are.
HARMLESS = ["max_tokens", "800", "token_budget", "5000", "password resets go through IT"]

Renderer = Callable[[Plan], str]
RENDERERS: list[Renderer] = [render_text, render_markdown, render_json]
IDS = ["text", "markdown", "json"]


def add_leaky(esync: Sync) -> None:
    shutil.copy(LEAKY, esync.root / "personas" / "leaky.yaml")


def readable(output: str) -> str:
    """Output as a reader sees it: markdown's backslash escapes and HTML entities undone."""
    return html.unescape(re.sub(r"\\(.)", r"\1", output))


def assert_no_secret(output: str, secrets: list[str]) -> None:
    leaked = [s for s in secrets if s in readable(output)]
    assert not leaked, f"leaked {leaked}:\n{output}"


@pytest.mark.parametrize("render", RENDERERS, ids=IDS)
def test_a_new_persona_shows_no_secret(esync: Sync, render: Renderer) -> None:
    add_leaky(esync)
    plan = esync.plan()
    (leaky,) = [p for p in plan.personas if p.slug == "leaky"]
    assert leaky.action == "create"
    output = render(plan)
    assert_no_secret(output, FILE_SECRETS)
    assert "[REDACTED]" in readable(output)
    for value in HARMLESS:
        assert value in readable(output), value


DRIFT_SECRETS = ["DriftPassw0rd-200", "tkv-DRIFT-210", "sk_per_DriftKey220AbCdEfGhIjKlMnOpQr"]


def drift_into_catalogue(esync: Sync) -> None:
    """Someone put other secrets into the catalogue copy: the plan's "before" side."""
    leaky = esync.persona("leaky")
    esync.catalogue.update_persona(
        leaky.id,
        PersonaUpdate(
            default_params={
                "temperature": 0.2,
                "headers": {"Authorization": "Basic RHJpZnRQYXNzdzByZC0yMDA="},
                "token": "tkv-DRIFT-210",
            },
            metadata={
                **leaky.metadata,
                "database": "postgresql://app:DriftPassw0rd-200@db.internal/app",
                "catalogue": "sk_per_DriftKey220AbCdEfGhIjKlMnOpQr",
            },
        ),
    )


@pytest.mark.parametrize("render", RENDERERS, ids=IDS)
def test_an_update_redacts_both_sides_of_each_diff(esync: Sync, render: Renderer) -> None:
    add_leaky(esync)
    esync.apply()
    drift_into_catalogue(esync)
    plan = esync.plan()
    (leaky,) = [p for p in plan.personas if p.has_changes]
    assert leaky.slug == "leaky" and leaky.action == "update"
    output = render(plan)
    assert_no_secret(output, FILE_SECRETS + DRIFT_SECRETS + ["RHJpZnRQYXNzdzByZC0yMDA="])
    assert "default_params" in readable(output) and "metadata" in readable(output)


def test_the_checksum_is_the_real_plans_and_a_rotated_secret_changes_it(esync: Sync) -> None:
    add_leaky(esync)
    before = esync.plan()
    esync.edit("personas/leaky.yaml", "pwv-PASSWORD-060", "pwv-PASSWORD-061")
    rotated = esync.plan()
    assert rotated.checksum != before.checksum

    shown_before, shown_rotated = redact_plan(before), redact_plan(rotated)
    assert shown_before.checksum == before.checksum
    assert shown_rotated.checksum == rotated.checksum
    # the reviewer sees the same redacted data, but a different checksum
    body = {k: v for k, v in shown_before.to_dict().items() if k != "checksum"}
    assert body == {k: v for k, v in shown_rotated.to_dict().items() if k != "checksum"}
    for render in RENDERERS:
        assert rotated.checksum in render(rotated)
    assert json.loads(render_json(rotated))["checksum"] == rotated.checksum
    rotated.verify_checksum(shown_rotated.checksum)


def test_redaction_is_a_copy_and_apply_stores_the_real_values(esync: Sync) -> None:
    add_leaky(esync)
    plan = esync.plan()
    for render in RENDERERS:
        render(plan)
    assert redact_plan(plan) is not plan and not isinstance(plan, RedactedPlan)
    esync.apply()
    leaky = esync.persona("leaky")
    assert leaky.default_params["password"] == "pwv-PASSWORD-060"
    assert leaky.default_params["headers"]["Authorization"] == "Bearer tok-AUTHZ-030"
    assert "sk-proj-MapKeySecret120AbCdEfGhIjKlMnOp" in leaky.metadata["routing"]


def drift_with_a_warning(esync: Sync) -> Plan:
    """Drifted secrets, and a context template the file dropped: the plan's warning quotes
    the value the catalogue keeps."""
    add_leaky(esync)
    esync.apply()
    drift_into_catalogue(esync)
    leaky = esync.persona("leaky")
    template = "Context: $context (from postgresql://ctx:CtxPassw0rd-140@db/x)"
    esync.catalogue.update_persona(leaky.id, PersonaUpdate(rag_context_template=template))
    plan = esync.plan()
    assert any("CtxPassw0rd-140" in w for p in plan.personas for w in p.warnings)
    return plan


def test_redact_plan_reaches_every_value_the_plan_carries(esync: Sync) -> None:
    plan = drift_with_a_warning(esync)
    real = json.dumps(plan.to_dict(), default=str)
    assert "CtxPassw0rd-140" in real and "DriftPassw0rd-200" in real  # the plan quotes them
    shown = redact_plan(plan)
    assert redact_plan(shown) is shown
    assert all(p.desired is None and p.actual is None for p in shown.personas)
    assert_no_secret(
        json.dumps(shown.to_dict(), default=str),
        [*FILE_SECRETS, *DRIFT_SECRETS, "CtxPassw0rd-140"],
    )


@pytest.mark.parametrize(
    "render",
    [
        pytest.param(render_text, id="text"),
        pytest.param(render_markdown, id="markdown"),
        pytest.param(render_json, id="json"),
    ],
)
def test_every_renderer_shows_only_the_redacted_plan(esync: Sync, render: Renderer) -> None:
    """A renderer that forgets ``redact_plan`` shows something the redacted copy does not."""
    plan = drift_with_a_warning(esync)
    output = render(plan)
    assert output == render(redact_plan(plan))
    assert_no_secret(output, ["CtxPassw0rd-140"])
