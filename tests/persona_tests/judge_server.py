"""A loopback grader for ``llm_rubric`` tests: a real OpenAI-compatible HTTP server whose
verdict is ``PASS`` when the graded answer contains ``GOOD``, ``FAIL`` when it contains
``BAD``, and an unusable reply otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from personas_as_code.catalogue.serve import serve_in_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _app(seen: list[dict]) -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        seen.append(body)
        graded = body["messages"][-1]["content"]
        answer = graded.split("Answer to grade:", 1)[-1]
        verdict = (
            "PASS\nit is good"
            if "GOOD" in answer
            else "FAIL\nit is bad"
            if "BAD" in answer
            else "I would rather not say"
        )
        return JSONResponse(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": verdict},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            }
        )

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@contextmanager
def serve_judge() -> Iterator[tuple[str, list[dict]]]:
    """The grader's ``/v1`` base URL and the requests it received."""
    seen: list[dict] = []
    with serve_in_thread(_app(seen)) as url:
        yield url + "/v1", seen
