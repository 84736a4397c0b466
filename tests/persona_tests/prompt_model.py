"""A stand-in for a real model in the persona tests' tests: a loopback OpenAI-compatible
server whose answer is every message it received, in order.

It answers what the offline ``mirror`` shows, but as an ``openai`` backend, so the
runner treats its answer as a model's: a case can check that a prompt edit reached the
model and flip from pass to fail.  (On the mirror the same case is ``untested``.)
``use_model`` points the example personas' backend models at it in a catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from personas_as_code.catalogue.backends import configure_backend
from personas_as_code.catalogue.serve import serve_in_thread
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

EXAMPLE_BACKENDS = ("openai/gpt-4o", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4")
"""The backend models the example personas with tests dispatch to."""


def _app(seen: list[dict], says: str = "") -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        seen.append(body)
        text = "\n\n".join(str(m.get("content", "")) for m in body["messages"]) + says
        return JSONResponse(
            {
                "id": "prompt-1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@contextmanager
def serve_prompt_model(says: str = "") -> Iterator[tuple[str, list[dict]]]:
    """The model's ``/v1`` base URL and the requests it received; ``says`` is added to
    every answer (a model that leaks what it should not)."""
    seen: list[dict] = []
    with serve_in_thread(_app(seen, says)) as url:
        yield url + "/v1", seen


def settings(base_url: str) -> dict[str, str]:
    """A backend's provider settings for the model at ``base_url``."""
    return {"provider": "openai", "base_url": base_url, "model": "prompt"}


def use_model(engine: Engine, base_url: str, slugs: tuple[str, ...] = EXAMPLE_BACKENDS) -> None:
    """Point backend models ``slugs`` of the catalogue in ``engine`` at the model."""
    for slug in slugs:
        configure_backend(engine, slug, settings(base_url), managed_by=None)


def configure_in_toml(root: Path, base_url: str, slugs: tuple[str, ...] = EXAMPLE_BACKENDS) -> None:
    """Name the model in ``root/personas.toml`` (``[backends]``, set by the next apply)."""
    with (root / "personas.toml").open("a", encoding="utf-8") as toml:
        for slug in slugs:
            toml.write(
                f'\n[backends."{slug}"]\nprovider = "openai"\n'
                f'base_url = "{base_url}"\nmodel = "prompt"\n'
            )
