"""Secrets: the prompt check in ``validate`` and the shared redaction of values."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.loader.repo import load_repo
from personas_as_code.untrusted.secrets import (
    REDACTED,
    find_secrets,
    is_secret_key,
    redact,
    redact_data,
)

from tests.repos import DATA, MINIMAL, RepoBuilder

SECRETS = DATA / "secrets"

# tests/data/secrets/leaky_prompt.md: (line, kind) of every secret it holds
LEAKY_PROMPT = [
    (2, "AWS secret access key"),
    (3, "AWS access key id"),
    (3, "AWS secret access key"),
    (4, "Authorization header"),
    (5, "Authorization header"),
    (6, "Hugging Face token"),
    (7, "GitLab token"),
    (8, "Azure storage account key"),
    (9, "SendGrid API key"),
    (10, "URL with a password"),
    (11, "URL with a password"),
    (12, "Slack webhook URL"),
    (13, "personas catalogue API key"),
]


def test_validate_reports_every_secret_in_a_prompt_file(repo: RepoBuilder) -> None:
    repo.write("personas/prompts/ops.md", (SECRETS / "leaky_prompt.md").read_text())
    repo.persona("ops", MINIMAL + "system_prompt_file: prompts/ops.md\n")
    problems = load_repo(repo.root).problems
    assert {p.path for p in problems} == {"personas/prompts/ops.md"}
    assert all(p.code == "secret" for p in problems)
    got = [(p.line, p.message.split("looks like a ", 1)[1].split(";")[0]) for p in problems]
    assert got == LEAKY_PROMPT


def test_validate_accepts_a_prompt_that_talks_about_secrets(repo: RepoBuilder) -> None:
    repo.write("personas/prompts/help.md", (SECRETS / "harmless_prompt.md").read_text())
    repo.persona("help", MINIMAL + "system_prompt_file: prompts/help.md\n")
    loaded = load_repo(repo.root)
    assert loaded.ok, [str(p) for p in loaded.problems]


def test_inline_prompt_secret_points_at_its_line(repo: RepoBuilder) -> None:
    repo.persona(
        "p",
        MINIMAL + "system_prompt: |\n  Hello.\n  Use hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567 here.\n",
    )
    (problem,) = load_repo(repo.root).problems
    assert (problem.path, problem.line) == ("personas/p.yaml", 5)
    assert "looks like a Hugging Face token" in problem.message


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS secret access key"),
        ('"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', "AWS secret"),
        ("aws key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS secret access key"),
        ("curl -H 'Authorization: Bearer abc.def-ghi_jkl'", "Authorization header"),
        ("use bearer 9f8e7d6c5b4a39281706f5e4", "bearer token"),
        ("gldt-AbCdEfGhIjKlMnOpQrSt1234", "GitLab token"),
        ("SharedAccessKey=Zm9vYmFyYmF6cXV4Zm9vYmFy=", "Azure storage account key"),
        ("https://acme.blob.core.windows.net/c?sv=2022&sig=Zm9vYmFyYmF6cXV4Zm9vYmFy%3D", "Azure"),
        ("mongodb+srv://app:Pa55word@cluster0.example.net/db", "URL with a password"),
        ("redis://:Pa55word@localhost:6379/0", "URL with a password"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n", "private key"),
        ("db_password = Sup3rS3cretPassw0rd!", "credential assignment"),
        ("x-api-key: abcdefgh12345678abcd", "credential assignment"),
        ("npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "npm token"),
        ("https://discord.com/api/webhooks/123456/AbCdEf-GhIjKl_0123", "Discord webhook URL"),
    ],
)
def test_detectors(text: str, kind: str) -> None:
    findings = find_secrets(text)
    assert findings and findings[0].kind.startswith(kind), findings


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens: 800",
        "Stay within the token budget.",
        "Authorization: Basic information about the caller",
        "Authorization: Basic Information.",
        "token: the quick brown fox",
        "password: ********",
        "password = ${DB_PASSWORD}",
        "postgresql://user:${DB_PASSWORD}@host/db",
        "https://user:<password>@host",
        "see https://docs.example.com/user:guide@v2",
        "AKIA is how AWS access key ids start",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ],
)
def test_prose_is_not_a_secret(text: str) -> None:
    assert find_secrets(text) == []
    assert redact(text) == text


def test_redact_keeps_the_context_of_a_secret() -> None:
    assert redact("postgresql://app:s3cr3t@db/app") == f"postgresql://app:{REDACTED}@db/app"
    assert redact("Authorization: Bearer abcdef0123456789") == f"Authorization: Bearer {REDACTED}"
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"
    assert redact(f"a\n{key}\nb") == f"a\n{REDACTED}\nb"
    assert redact("a -----BEGIN PRIVATE KEY-----\nMIIB...") == f"a {REDACTED}"


def test_detection_is_linear_on_hostile_text() -> None:
    texts = ["a_" * 100_000, "aws " * 60_000, "Authorization: " * 15_000, "x://a:" * 40_000]
    for text in texts:
        started = time.process_time()
        find_secrets(text)
        assert time.process_time() - started < 5, text[:20]


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Proxy-Authorization",
        "secret_key",
        "password",
        "passwd",
        "DB_PASSWORD",
        "token",
        "access_token",
        "X-Auth-Token",
        "api_key",
        "apiKey",
        "x-api-key",
        "aws_secret_access_key",
        "client_secret",
        "private_key",
        "credentials",
        "cookie",
        "Set-Cookie",
        "auth.token",
    ],
)
def test_secret_key_names(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    ["max_tokens", "token_budget", "tokenizer", "public_key", "sort_key", "key", "author", ""],
)
def test_harmless_key_names(name: str) -> None:
    assert not is_secret_key(name)


def test_redact_data_by_name_by_shape_and_as_map_key() -> None:
    value = {
        "headers": {"Authorization": "Bearer x", "X-Proxy": "Basic dXNlcjpwYXNz"},
        "password": 123456,
        "stream_token": True,
        "max_tokens": 800,
        "note": "Basic Information",
        "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789": 1,
        "sk-proj-ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210": 2,
        "urls": ("https://u:pw@host/x", "https://host/x"),
    }
    assert redact_data(value) == {
        "headers": {"Authorization": REDACTED, "X-Proxy": REDACTED},
        "password": REDACTED,
        "stream_token": True,
        "max_tokens": 800,
        "note": "Basic Information",
        REDACTED: 1,
        f"{REDACTED} (2)": 2,
        "urls": (f"https://u:{REDACTED}@host/x", "https://host/x"),
    }


# --- knowledge documents and persona tests files -----------------------------------

KEY_ID = "AKIAIOSFODNN7EXAMPLF"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_a_secret_in_a_knowledge_document_is_an_error_and_the_document_is_not_loaded(
    repo: RepoBuilder,
) -> None:
    repo.write("knowledge/col_docs/clean.md", "# Refunds\n\nWithin 30 days.\n")
    repo.write(
        "knowledge/col_docs/leaky.md",
        f"# Export\n\nkey id {KEY_ID}\n  aws_secret_access_key: {SECRET_KEY}\n",
    )
    loaded = load_repo(repo.root)
    got = [(p.path, p.line, p.col, p.code, p.severity) for p in loaded.problems]
    assert got == [
        ("knowledge/col_docs/leaky.md", 3, 8, "secret", "error"),
        ("knowledge/col_docs/leaky.md", 4, 26, "secret", "error"),
    ]
    assert "AWS access key id" in loaded.problems[0].message
    assert "AWS secret access key" in loaded.problems[1].message
    assert "in a knowledge document" in loaded.problems[0].message
    assert not any(KEY_ID in p.message or SECRET_KEY in p.message for p in loaded.problems)
    # refused, so never indexed; the clean document of the same folder still loads
    docs = [d.path for d in loaded.knowledge["col_docs"].documents]
    assert docs == ["knowledge/col_docs/clean.md"]


TESTS_WITH_SECRETS = f"""\
cases:
  - name: a message
    message: "connect with {KEY_ID} please"
    assert:
      - contains: ok
  - name: a conversation
    conversation:
      test_persona: nosy
      opening: 'my token is ghp_abcdefghijklmnopqrstuvwxyz0123456789AB'
    assert:
      - not_contains: "xoxb-1234567890-abcdefghij"
      - llm_rubric: |
          Grade it.
          aws_secret_access_key = {SECRET_KEY}
      - json_schema:
          properties:
            key: {{const: "{KEY_ID}"}}
"""


def test_every_text_of_a_tests_file_is_scanned_and_located(repo: RepoBuilder) -> None:
    repo.persona("p", MINIMAL)
    repo.write("test-personas/nosy.yaml", "name: Nosy\n")
    repo.write("personas/p.tests.yaml", TESTS_WITH_SECRETS)
    loaded = load_repo(repo.root)
    got = [
        (p.line, p.col, p.message.split("looks like a ", 1)[1].split(";")[0])
        for p in loaded.problems
    ]
    assert got == [
        (3, 28, "AWS access key id"),
        (9, 29, "GitHub token"),
        (11, 24, "Slack token"),
        (14, 1, "AWS secret access key"),
        (17, 27, "AWS access key id"),
    ]
    assert {(p.path, p.code) for p in loaded.problems} == {("personas/p.tests.yaml", "secret")}
    assert all("in a persona tests file" in p.message for p in loaded.problems)
    shown = "\n".join(str(p) for p in loaded.problems)
    assert KEY_ID not in shown and SECRET_KEY not in shown and "ghp_" not in shown
    assert loaded.persona_tests.by_slug == {}  # the file is invalid: none of its cases run


def test_a_secret_and_a_format_error_in_one_tests_file_are_both_reported(
    repo: RepoBuilder,
) -> None:
    repo.persona("p", MINIMAL)
    repo.write(
        "personas/p.tests.yaml",
        f"cases:\n  - name: x\n    message: {KEY_ID}\n    assert: []\n",
    )
    codes = [(p.line, p.code) for p in load_repo(repo.root).problems]
    assert codes == [(3, "secret"), (4, "too_short")]


def test_cold_and_cached_loads_report_the_same_secrets(
    repo: RepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    repo.persona("p", MINIMAL + f"system_prompt: 'use {KEY_ID}'\n")
    repo.persona("q", MINIMAL)
    repo.write("knowledge/col_docs/leaky.md", f"key id {KEY_ID}\n")
    repo.write("test-personas/nosy.yaml", "name: Nosy\n")
    repo.write("personas/q.tests.yaml", TESTS_WITH_SECRETS)
    cold = load_repo(repo.root).problems
    assert {p.path for p in cold} == {
        "personas/p.yaml",
        "knowledge/col_docs/leaky.md",
        "personas/q.tests.yaml",
    }
    for _ in range(2):  # the first fills the persisted cache, the second is served from it
        cache = ParseCache.for_repo(repo.root)
        assert load_repo(repo.root, persona_loader=cache.load).problems == cold
        cache.save()
    assert cache.hits == 2
