"""``openai``: any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, LiteLLM), over httpx.

One call is ``POST {base_url}/chat/completions``.  Failures map to the typed
errors of ``schemas.errors``:

* 429, 502, 503, 504 and connection failures are retried with exponential
  backoff, honouring ``Retry-After`` (``inference.retry``); still failing, a
  429 is ``BackendRateLimited`` and the rest ``BackendUnavailable``;
* no answer within ``timeout_seconds`` is ``BackendTimeout`` (not retried: the
  model is busy, asking again doubles the wait); a stream that sends no content for
  ``timeout_seconds`` (keep-alive comments do not count) or lasts past
  ``stream_total_seconds`` ends with ``BackendTimeout`` too;
* any other 4xx/5xx is ``BackendError`` with the upstream status and message;
* an answer that is not an OpenAI chat completion (not JSON, no choices, no
  text, larger than ``MAX_ANSWER_BYTES``) is ``BackendBadResponse``;
* an ``api_key_env`` whose variable is unset is ``BackendNotConfigured``.

The API key is read from the environment at call time and sent only as the
``Authorization`` header; it is never logged, stored or put in an error: every text
of the upstream's that goes into an error (an error body, a stream's error event, a
transport failure) is first passed through ``untrusted.secrets.redact_upstream`` with
the key's value, so an upstream that repeats the header leaks nothing.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
from personas_as_code.inference.messages import (
    Answer,
    BackendInfo,
    ChatMessage,
    Delta,
    Usage,
    estimate_prompt_tokens,
    estimate_tokens,
)
from personas_as_code.inference.retry import RetryPolicy
from personas_as_code.schemas.config import (
    DEFAULT_CONCURRENT_CALLS,
    DEFAULT_STREAM_TOTAL_SECONDS,
    BackendSettings,
)
from personas_as_code.schemas.errors import (
    BackendBadResponse,
    BackendError,
    BackendNotConfigured,
    BackendRateLimited,
    BackendTimeout,
    BackendUnavailable,
)
from personas_as_code.untrusted.secrets import redact_upstream

PROVIDER = "openai"
MAX_ANSWER_BYTES = 8 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
MAX_ERROR_CHARS = 300
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class OpenAIBackend:
    """One backend model served by an OpenAI-compatible endpoint."""

    def __init__(
        self,
        backend_model: str,
        settings: BackendSettings,
        *,
        env: Mapping[str, str],
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if settings.base_url is None or settings.model is None:
            raise BackendNotConfigured(
                f"backend model {backend_model!r} needs base_url and model",
                details={"backend_model": backend_model},
            )
        self.settings = settings
        self.info = BackendInfo(PROVIDER, backend_model, settings.model, settings.base_url)
        self.slots = settings.max_concurrent_calls or DEFAULT_CONCURRENT_CALLS
        self.stream_total = settings.stream_total_seconds or DEFAULT_STREAM_TOTAL_SECONDS
        self.retry = retry or RetryPolicy(max_attempts=settings.max_retries + 1)
        self.attempts = 0
        self._env = env
        self._sleep = sleep
        self._transport = transport
        self._url = settings.base_url.rstrip("/") + "/chat/completions"

    # --- the two calls ---

    def complete(self, messages: list[ChatMessage], params: dict[str, Any]) -> Answer:
        """The whole answer (``stream: false``)."""
        with self._client() as client, self._open(client, messages, params, False) as resp:
            raw = self._read(resp, MAX_ANSWER_BYTES, deadline=self.settings.timeout_seconds)
        return self._answer(_json(raw, self.info), messages)

    def stream(self, messages: list[ChatMessage], params: dict[str, Any]) -> Iterator[Delta]:
        """The answer as deltas (``stream: true``; server-sent events upstream)."""
        with self._client() as client, self._open(client, messages, params, True) as resp:
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                # a server that ignores "stream" answers the whole completion at once
                raw = self._read(resp, MAX_ANSWER_BYTES, deadline=self.settings.timeout_seconds)
                answer = self._answer(_json(raw, self.info), messages)
                yield Delta(content=answer.content)
                yield Delta(finish_reason=answer.finish_reason or "stop", usage=answer.usage)
                return
            yield from self._events(resp, messages)

    # --- plumbing ---

    def _client(self) -> httpx.Client:
        t = self.settings.timeout_seconds
        return httpx.Client(
            timeout=httpx.Timeout(t, connect=min(t, 10.0)),
            transport=self._transport,
            follow_redirects=False,
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        name = self.settings.api_key_env
        if name:
            key = self._env.get(name)
            if not key:
                raise BackendNotConfigured(
                    f"the environment variable {name} (api_key_env of backend model "
                    f"{self.info.backend_model}) is not set",
                    details={"backend_model": self.info.backend_model, "api_key_env": name},
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _shown(self, text: str) -> str:
        """Upstream text fit for an error: the key's value and secret shapes redacted, short."""
        name = self.settings.api_key_env
        key = self._env.get(name) if name else None
        return redact_upstream(text, [key] if key else [], MAX_ERROR_CHARS)

    def _details(self, **more: Any) -> dict[str, Any]:
        return {"backend_model": self.info.backend_model, "base_url": self._url, **more}

    @contextlib.contextmanager
    def _open(
        self,
        client: httpx.Client,
        messages: list[ChatMessage],
        params: dict[str, Any],
        stream: bool,
    ) -> Iterator[httpx.Response]:
        """Send with retries; yield the first answer that is not an error."""
        body = {
            **params,
            "model": self.settings.model,
            "messages": [m.to_dict() for m in messages],
            "stream": stream,
        }
        headers = self._headers()
        policy = self.retry
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            retry_after: str | None = None
            try:
                request = client.build_request("POST", self._url, json=body, headers=headers)
                resp = client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                if not isinstance(exc, _NOT_SENT):
                    raise self._timeout() from exc
                failure, status = f"{type(exc).__name__}", None
            except httpx.TransportError as exc:
                failure, status = self._shown(f"{type(exc).__name__}: {exc}"), None
            else:
                status = resp.status_code
                if status < 400:
                    try:
                        yield resp
                    finally:
                        resp.close()
                    return
                retry_after = resp.headers.get("retry-after")
                message = self._error_text(resp)
                resp.close()
                if status not in policy.retry_statuses:
                    raise BackendError(
                        f"backend {self.info.backend_model} answered HTTP {status}: {message}",
                        details=self._details(upstream_status=status),
                    )
                failure = f"HTTP {status}: {message}"
            delay = policy.delay(attempt, retry_after)
            elapsed = time.monotonic() - start
            if attempt >= policy.max_attempts or elapsed + delay > policy.total_timeout:
                cls = BackendRateLimited if status == 429 else BackendUnavailable
                raise cls(
                    f"backend {self.info.backend_model} ({self._url}) failed after {attempt} "
                    f"attempt(s) in {elapsed:.1f}s: {failure}",
                    details=self._details(attempts=attempt, upstream_status=status),
                )
            self._sleep(delay)

    def _timeout(self) -> BackendTimeout:
        return BackendTimeout(
            f"backend {self.info.backend_model} ({self._url}) did not answer within "
            f"{self.settings.timeout_seconds:g}s",
            details=self._details(timeout_seconds=self.settings.timeout_seconds),
        )

    def _lost(self, exc: httpx.TransportError, what: str) -> BackendTimeout | BackendUnavailable:
        """The error for a transport failure while reading the ``what``: a timeout or a drop."""
        if isinstance(exc, httpx.TimeoutException):
            return self._timeout()
        return BackendUnavailable(
            f"backend {self.info.backend_model} dropped the {what}: {type(exc).__name__}",
            details=self._details(),
        )

    def _read(self, resp: httpx.Response, cap: int, *, deadline: float | None = None) -> bytes:
        """The body, refused past ``cap`` bytes or ``deadline`` seconds of trickling."""
        start = time.monotonic()
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > cap:
                    raise BackendBadResponse(
                        f"backend {self.info.backend_model} answered more than {cap:,} bytes",
                        details=self._details(limit=cap),
                    )
                chunks.append(chunk)
                if deadline is not None and time.monotonic() - start > deadline:
                    raise self._timeout()
        except httpx.TransportError as exc:  # a timeout is one too
            raise self._lost(exc, "connection") from exc
        return b"".join(chunks)

    def _error_text(self, resp: httpx.Response) -> str:
        """The upstream's error message (``{"error": {"message"}}`` or the text), short."""
        try:
            raw = self._read(resp, MAX_ERROR_BYTES)
        except (BackendBadResponse, BackendTimeout, BackendUnavailable):
            return "(unreadable error body)"
        text = raw.decode("utf-8", "replace")
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                text = error["message"]
            elif isinstance(error, str):
                text = error
        return self._shown(text) or "(no message)"

    def _answer(self, data: Any, messages: list[ChatMessage]) -> Answer:
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
            finish = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError) as exc:
            raise self._malformed("no choices[0].message.content") from exc
        if content is None:
            content = ""
        if not isinstance(content, str) or not (finish is None or isinstance(finish, str)):
            raise self._malformed("choices[0].message.content is not text")
        usage = _usage(data.get("usage")) or Usage(
            estimate_prompt_tokens(messages), estimate_tokens(content)
        )
        return Answer(content=content, finish_reason=finish, usage=usage, backend=self.info)

    def _events(self, resp: httpx.Response, messages: list[ChatMessage]) -> Iterator[Delta]:
        """Deltas from the upstream's server-sent events, up to ``data: [DONE]``."""
        size = 0
        text: list[str] = []
        finish: str | None = None
        usage: Usage | None = None
        lines = resp.iter_lines()
        start = last = time.monotonic()
        while True:
            try:
                line = next(lines)
            except StopIteration:
                break
            except httpx.TransportError as exc:  # a timeout is one too
                raise self._lost(exc, "stream") from exc
            size += len(line) + 1
            if size > MAX_ANSWER_BYTES:
                raise self._malformed(f"the stream is longer than {MAX_ANSWER_BYTES:,} bytes")
            self._check_clock(start, last)
            if not line.startswith("data:"):
                continue  # comments, event names, ids, blank separators
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            data = _json(payload.encode(), self.info)
            if isinstance(data, dict) and data.get("error"):
                error = data["error"]
                message = error.get("message") if isinstance(error, dict) else str(error)
                raise BackendError(
                    f"backend {self.info.backend_model} failed mid-stream: "
                    + self._shown(str(message)[:MAX_ERROR_BYTES]),
                    details=self._details(),
                )
            usage = _usage(data.get("usage") if isinstance(data, dict) else None) or usage
            choices = data.get("choices") if isinstance(data, dict) else None
            if not isinstance(choices, list):
                raise self._malformed("a stream event has no choices")
            if not choices:
                continue  # the usage-only event
            choice = choices[0]
            delta = choice.get("delta") if isinstance(choice, dict) else None
            piece = delta.get("content") if isinstance(delta, dict) else None
            if piece is not None and not isinstance(piece, str):
                raise self._malformed("a stream event's delta.content is not text")
            reason = choice.get("finish_reason")
            if reason is not None and not isinstance(reason, str):
                raise self._malformed("a stream event's finish_reason is not text")
            if piece:
                text.append(piece)
                yield Delta(content=piece)
            if piece or reason:
                last = time.monotonic()
            finish = reason or finish
        if finish is None:
            raise self._malformed("the stream ended without a finish_reason")
        yield Delta(
            finish_reason=finish,
            usage=usage or Usage(estimate_prompt_tokens(messages), estimate_tokens("".join(text))),
        )

    def _check_clock(self, start: float, last_content: float) -> None:
        """``BackendTimeout`` once the stream has run past ``stream_total_seconds``, or has
        sent no content for ``timeout_seconds`` (keep-alive comments do not count)."""
        now = time.monotonic()
        idle, total = self.settings.timeout_seconds, self.stream_total
        if now - start > total:
            why = f"streamed for more than {total:g}s (stream_total_seconds)"
        elif now - last_content > idle:
            why = f"sent no content for {idle:g}s (timeout_seconds)"
        else:
            return
        raise BackendTimeout(
            f"backend {self.info.backend_model} ({self._url}) {why}",
            details=self._details(timeout_seconds=idle, stream_total_seconds=total),
        )

    def _malformed(self, what: str) -> BackendBadResponse:
        return BackendBadResponse(
            f"backend {self.info.backend_model} answered something that is not an "
            f"OpenAI-compatible chat completion: {what}",
            details=self._details(),
        )


def _json(raw: bytes, info: BackendInfo) -> Any:
    """Parse an upstream JSON text; what is not JSON (or nests past the recursion
    limit, which the C decoder reports as ``RecursionError``) is ``BackendBadResponse``."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BackendBadResponse(
            f"backend {info.backend_model} answered something that is not an "
            "OpenAI-compatible chat completion: not JSON",
            details={"backend_model": info.backend_model},
        ) from exc


def _usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    prompt, completion = data.get("prompt_tokens"), data.get("completion_tokens")
    if type(prompt) is not int or type(completion) is not int or prompt < 0 or completion < 0:
        return None
    return Usage(prompt, completion)
