"""``run_tests`` over the example repo on a real embedded catalogue: on the offline
mirror no answer assertion passes (every example case is ``untested``, its ``cites``
still checked), with a loopback model every example case passes but the one whose judge
is missing (``skipped``, not passed); simulated conversations on the mirror, on a
loopback OpenAI-compatible server and through a remote ScaiGrid (test persona headers
sent), errors per case, and nothing persisted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.remote_chat import REMOTE_RETRIEVAL
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.loader.repo import load_repo
from personas_as_code.persona_tests.conversation import MAX_TURN_CHARS, OPENING
from personas_as_code.persona_tests.report import NO_MODEL
from personas_as_code.persona_tests.runner import run_tests
from personas_as_code.schemas.errors import NotFound

from tests.inference.upstream import Upstream, serve_upstream
from tests.mcp_server.conftest import git
from tests.persona_tests.conftest import apply_into, copy_examples
from tests.sync.conftest import api_key

CHAT_CASE = """\
cases:
  - name: a short chat
    conversation: {test_persona: impatient-user, turns: 3}
    assert:
      - contains: "echo:"
"""


def state(catalogue: EmbeddedCatalogue) -> list[tuple]:
    return [(p.slug, p.updated_at, p.published) for p in catalogue.iter_personas()]


def test_on_the_mirror_no_answer_assertion_passes_and_nothing_is_persisted(
    applied: tuple[Path, EmbeddedCatalogue],
) -> None:
    root, catalogue = applied
    before = state(catalogue)
    report = run_tests(root, catalogue, concurrency=4)
    data = report.to_dict()
    assert data["format_version"] == 1
    counts = [data[k] for k in ("passed", "failed", "untested", "skipped", "errors")]
    assert counts == [0, 0, 6, 0, 0], json.dumps(data, indent=1)[:3000]
    assert data["model_called"] is False and data["answered_by"] == ["mirror"]
    assert data["model_note"] == (
        "No model was called: 6 case(s) answered by the offline mirror backend; their "
        "answer assertions were not tested. Configure a backend (see README) or pass "
        "--require-model to make this a failure."
    )
    assert {r["persona"] for r in data["results"]} == {
        "legal-reviewer",
        "sql-helper",
        "support-agent",
    }
    refund = next(r for r in data["results"] if r["case"].startswith("refund question"))
    assert {r["source_id"] for r in refund["retrieval"]} >= {"col_product_docs"}
    assert refund["baseline"] is None and refund["latency_ms"] >= 0
    assert refund["answered_by"] == ["mirror"] and refund["status"] == "untested"
    # the echo holds the expected words, yet no answer assertion passed; cites ran
    assert "Never promise refunds" in refund["answer"]
    statuses = {(a["kind"], a["status"]) for a in refund["assertions"]}
    assert statuses == {
        ("contains", "untested"),
        ("cites", "passed"),
        ("regex", "untested"),
        ("not_contains", "untested"),
        ("max_latency_ms", "untested"),
    }
    untested = [a for a in refund["assertions"] if a["status"] == "untested"]
    assert {a["message"] for a in untested} == {NO_MODEL} and NO_MODEL.startswith(
        "not tested: no model was called"
    )
    assert all(a["passed"] is None for a in untested)
    assert report.exit_code == 0
    assert state(catalogue) == before
    assert git(root, "status", "--porcelain") == ""


def test_require_model_makes_the_mirror_s_answers_failures(
    applied: tuple[Path, EmbeddedCatalogue],
) -> None:
    root, catalogue = applied
    report = run_tests(root, catalogue, slugs=["legal-reviewer"], require_model=True)
    (result,) = report.results
    assert result.status == "failed" and report.exit_code == 1
    by_kind = {a.kind: a for a in result.assertions}
    assert by_kind["cites"].passed is True  # retrieval did happen
    assert by_kind["contains"].passed is False
    assert by_kind["contains"].message.endswith("--require-model makes this a failure")
    data = report.to_dict()
    assert (data["failed"], data["untested"], data["require_model"]) == (1, 0, True)
    assert "--require-model counts them as failures" in data["model_note"]


def test_with_a_model_the_example_cases_pass_and_a_skipped_judge_is_no_pass(
    applied_with_model: tuple[Path, EmbeddedCatalogue],
) -> None:
    root, catalogue = applied_with_model
    report = run_tests(root, catalogue, concurrency=4)
    data = report.to_dict()
    statuses = {r["case"]: r["status"] for r in data["results"]}
    rubric = "an impatient user gets short answers"
    assert statuses.pop(rubric) == "skipped", json.dumps(data, indent=1)[:3000]
    assert set(statuses.values()) == {"passed"} and len(statuses) == 5
    chat = next(r for r in data["results"] if r["case"] == rubric)
    assert [a["status"] for a in chat["assertions"]] == ["passed", "skipped"]
    assert "no judge model is configured" in chat["assertions"][1]["message"]
    assert data["model_called"] is True and data["answered_by"] == ["openai"]
    assert data["model_note"] is None and data["untested"] == 0
    assert report.exit_code == 0


def test_a_simulated_conversation_on_the_mirror_is_deterministic_and_bounded(
    applied: tuple[Path, EmbeddedCatalogue],
) -> None:
    root, catalogue = applied
    first, second = (run_tests(root, catalogue, slugs=["support-agent"]).results for _ in range(2))
    chat = next(r for r in first if r.case == "an impatient user gets short answers")
    again = next(r for r in second if r.case == chat.case)
    assert chat.status == "untested" and chat.answered_by == ("mirror",)
    assert [m["role"] for m in chat.transcript] == ["user", "assistant"] * 2
    # the simulated user is the test persona's prompt driving the same (mirror) backend
    assert "You are an impatient user" in chat.transcript[0]["content"]
    assert chat.transcript[2]["content"] in chat.answer[: len(chat.answer)]
    assert chat.transcript == again.transcript and chat.answer == again.answer
    assert all(len(m["content"]) <= MAX_TURN_CHARS + 40 for m in chat.transcript[::2])


@pytest.fixture
def on_upstream(tmp_path: Path) -> Iterator[tuple[Path, EmbeddedCatalogue, Upstream]]:
    """The example repo whose gpt-4o backend is a loopback OpenAI-compatible server."""
    with serve_upstream() as upstream:
        root = copy_examples(tmp_path / "repo")
        with (root / "personas.toml").open("a") as toml:
            toml.write(
                '\n[backends."openai/gpt-4o"]\nprovider = "openai"\n'
                f'base_url = "{upstream.base_url}"\nmodel = "echo"\n'
            )
        (root / "personas" / "support-agent.tests.yaml").write_text(CHAT_CASE)
        engine = make_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
        api_key(engine)
        yield root, apply_into(root, engine), upstream
        engine.dispose()


def test_a_simulated_conversation_on_a_loopback_openai_server(
    on_upstream: tuple[Path, EmbeddedCatalogue, Upstream],
) -> None:
    root, catalogue, upstream = on_upstream
    report = run_tests(root, catalogue, slugs=["support-agent"])
    (result,) = report.results
    assert result.status == "passed", result
    assert result.answered_by == ("openai",) and report.model_note is None
    calls = [c.body for c in upstream.calls]
    assert len(calls) == 6  # 3 turns: the simulated user, then the persona, each time
    user_side, persona_side = calls[0::2], calls[1::2]
    assert all(c["messages"][0]["content"].startswith("You are an impatient") for c in user_side)
    assert all("You are the support agent" in c["messages"][0]["content"] for c in persona_side)
    # what the simulated user said is the persona's last user message, turn after turn
    said = [m["content"] for m in result.transcript[0::2]]
    assert said[0] == f"echo: {OPENING}"
    assert [c["messages"][-1]["content"] for c in persona_side] == said
    # the user side sees the persona's answers as the other party (roles swapped)
    answered = result.transcript[1]["content"]
    assert user_side[1]["messages"][-1] == {"role": "user", "content": answered}
    assert result.answer == f"echo: {said[-1]}"


REFUND_CASE = """\
  - name: the refund policy is retrieved here and sent to the remote
    message: "Can I get a refund on my annual plan?"
    assert:
      - cites: col_product_docs
"""


def test_through_a_remote_scaigrid_the_test_persona_headers_are_sent(
    tmp_path: Path, applied: tuple[Path, EmbeddedCatalogue]
) -> None:
    root = copy_examples(tmp_path / "repo")
    (root / "personas" / "support-agent.tests.yaml").write_text(
        CHAT_CASE.replace("turns: 3", "turns: 2").replace('"echo:"', '"mirror backend"')
        + REFUND_CASE
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'remote.db'}")
    key = api_key(engine)
    seen: list[tuple[str, dict[str, str]]] = []
    app = create_app(engine)

    async def recording(scope, receive, send):  # a real ASGI layer in front of the app
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            seen.append((scope["path"], headers))
        await app(scope, receive, send)

    try:
        with serve_in_thread(recording) as base_url:
            remote = HttpCatalogue(base_url, key)
            try:
                report = run_tests(load_repo(root), remote, slugs=["support-agent"])
            finally:
                remote.close()
    finally:
        engine.dispose()
    chat, refund = report.results
    # the remote catalogue's backend is its mirror: it says so, and no model was called
    assert chat.status == "untested", report.results
    assert chat.answered_by == ("mirror",) and report.model_note is not None
    assert refund.status == "passed"  # only a cites assertion: retrieval did happen
    chats = [h for path, h in seen if path == "/v1/inference/chat"]
    assert len(chats) == 5  # 2 turns of 2 calls, then the refund question
    languages = [h.get("x-user-language") for h in chats]  # the cases ran concurrently
    assert languages.count("en") == 4 and languages.count(None) == 1
    assert all(h["authorization"] == f"Bearer {key}" for h in chats)
    # retrieval ran here over the tree's knowledge; the remote model got the context
    (cites,) = refund.assertions
    assert cites.kind == "cites" and cites.passed is True
    assert refund.retrieval[0]["document"] == "knowledge/col_product_docs/refunds.md"
    assert "full refund within 30 days" in refund.answer
    assert REMOTE_RETRIEVAL in report.notes
    assert any(
        n.startswith("knowledge: 21 documents from the tree under test") for n in report.notes
    )


def test_a_case_that_cannot_run_is_an_error_and_the_others_still_run(
    tmp_path: Path,
) -> None:
    with serve_upstream() as upstream:
        root = copy_examples(tmp_path / "repo")
        with (root / "personas.toml").open("a") as toml:
            toml.write(
                '\n[backends."openai/gpt-4o"]\nprovider = "openai"\n'
                f'base_url = "{upstream.base_url}"\nmodel = "refuse"\n'
            )
        engine = make_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
        api_key(engine)
        catalogue = apply_into(root, engine)
        report = run_tests(root, catalogue)
        engine.dispose()
    by_persona = {r.persona: r.status for r in report.results}
    assert by_persona["support-agent"] == "error"  # gpt-4o refuses
    assert by_persona["sql-helper"] == by_persona["legal-reviewer"] == "untested"  # mirror
    error = next(r for r in report.results if r.status == "error")
    assert error.error and error.error.startswith("BACKEND_") and error.answer == ""
    assert report.exit_code == 2 and report.to_dict()["errors"] == 3


def test_an_unknown_slug_is_refused(applied: tuple[Path, EmbeddedCatalogue]) -> None:
    root, catalogue = applied
    with pytest.raises(NotFound, match="no-such"):
        run_tests(root, catalogue, slugs=["no-such"])


def test_a_persona_without_tests_is_noted(applied: tuple[Path, EmbeddedCatalogue]) -> None:
    root, catalogue = applied
    report = run_tests(root, catalogue, slugs=["translator"])
    assert report.results == [] and "no tests file" in report.notes[0]
    assert report.exit_code == 0
