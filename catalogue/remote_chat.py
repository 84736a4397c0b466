"""Runs and model calls of ``HttpCatalogue``: the server's ``POST /v1/inference/chat``.

For a persona run the enrichment, retrieval included, happens here (over the tree's
knowledge the run brings) and the enriched messages travel with the base model: the
server's own collections are not searched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx
from personas_as_code.catalogue.calls import AnsweredBy, CallAnswer, ModelCall, PersonaRun
from personas_as_code.inference.completion import ChatUsage
from personas_as_code.schemas.errors import BackendBadResponse
from pydantic import BaseModel, Field, ValidationError

if TYPE_CHECKING:
    pass


from personas_as_code.catalogue.http_transport import HttpTransport

CHAT_PATH = "/v1/inference/chat"

REMOTE_PROVIDER = "scaigrid"

"""The provider an answer names when the remote does not say which backend gave it."""
REMOTE_RETRIEVAL = (
    "retrieval ran locally over this tree's knowledge folders; the remote catalogue's "
    "collections were not searched"
)


class RemoteAnswer(BaseModel):
    """The part of a remote ``/v1/inference/chat`` answer a run reads: a ScaiGrid may
    leave out what ``inference.completion.ChatCompletion`` adds (usage, the backend)."""

    class _Choice(BaseModel):
        class _Message(BaseModel):
            content: str | None = None

        message: _Message
        finish_reason: str | None = None

    choices: list[_Choice] = Field(min_length=1)
    usage: ChatUsage | None = None
    backend: AnsweredBy | None = None


class RemoteChat(HttpTransport):
    """Persona runs and model calls sent to the server's chat endpoint."""

    tree_retrieval_note: str | None = REMOTE_RETRIEVAL

    def run_persona(self, run: PersonaRun) -> CallAnswer:
        """Enrich here -- retrieval over the tree's knowledge with ``run.retriever`` --
        and send the enriched messages with base model ``run.model`` to the server (its
        own collections are not searched; ``run.backends`` are the server's business)."""
        from personas_as_code.inference.enricher import enrich

        enrichment = enrich(
            run.profile,
            run.messages,
            run.params,
            run.retriever,
            system_prompt_override=run.system_prompt_override,
            no_retrieval_reason=run.no_retrieval_reason,
        )
        notes = list(enrichment.notes)
        if enrichment.retrieval_ran and self.tree_retrieval_note:
            notes.append(self.tree_retrieval_note)
        body = {
            **enrichment.params,
            "model": run.model,
            "messages": [m.to_dict() for m in enrichment.messages],
        }
        answer = self._chat(body, run.headers)
        return replace(answer, params=enrichment.params, enrichment=enrichment, notes=notes)

    def call_model(self, call: ModelCall) -> CallAnswer:
        """Send the messages as they are to the server with model ``call.model`` (the
        server's backends answer; ``call.backends`` are its business)."""
        body = {"model": call.model, "messages": [m.to_dict() for m in call.messages]}
        return self._chat(body, call.headers)

    def _chat(self, body: dict[str, Any], headers: Mapping[str, str]) -> CallAnswer:
        answer = self.call(
            "POST",
            CHAT_PATH,
            json=body,
            parse=remote_answer,
            idempotent=False,  # a model call may cost and differ: never sent twice
            headers=dict(headers) if headers else None,
        )
        choice = answer.choices[0]
        return CallAnswer(
            catalogue="remote",
            content=choice.message.content or "",
            finish_reason=choice.finish_reason,
            usage=answer.usage or ChatUsage(prompt_tokens=0, completion_tokens=0, total_tokens=0),
            backend=answer.backend or AnsweredBy(provider=REMOTE_PROVIDER, backend_model=None),
        )


def remote_answer(resp: httpx.Response) -> RemoteAnswer:
    try:
        return RemoteAnswer.model_validate(resp.json()["data"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise BackendBadResponse(
            "the remote catalogue's /v1/inference/chat answered something that is not a chat "
            "completion"
        ) from exc
