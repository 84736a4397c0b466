"""The transport under ``HttpCatalogue``: one server's HTTP API with a bearer key,
bounded answers, retries and typed errors.

Retries: 429/502/503/504 and connection failures are retried with exponential backoff
and jitter, honouring ``Retry-After``, within a bounded number of attempts and total
time (``RetryPolicy``).  A non-idempotent POST is never re-sent blindly: when it may have
reached the server, the caller's ``reconcile`` re-reads the server to find out whether
it took effect, and it is only re-sent when it did not.  Error envelopes become the
typed exceptions of ``schemas.errors``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from personas_as_code.inference.retry import RetryPolicy as BackendRetryPolicy
from personas_as_code.inference.retry import parse_retry_after
from personas_as_code.schemas.errors import (
    MAX_REMOTE_MESSAGE,
    CatalogueBadResponse,
    CatalogueError,
    CatalogueUnavailable,
    RateLimited,
    catalogue_error_from_envelope,
)
from personas_as_code.untrusted.secrets import redact_data, redact_upstream

if TYPE_CHECKING:
    pass


T = TypeVar("T")
# Connection failures where the request cannot have reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# The largest answer read from a catalogue: a full page of 200 personas with prompts at
# the file limit (256 KB) fits, with room for JSON escaping; anything larger is refused,
# not buffered.
MAX_RESPONSE_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy(BackendRetryPolicy):
    """How hard the client tries before giving up: a backend's policy with the catalogue's
    defaults (a ``Retry-After`` is waited in full, within ``total_timeout``)."""

    max_attempts: int = 5
    total_timeout: float = 60.0


class HttpTransport:
    """A server's HTTP API reached with a bearer API key, with the catalogue's retries.

    ``request_count`` counts every HTTP attempt (retries included).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_response_bytes = max_response_bytes
        self.retry = retry or RetryPolicy()
        self.request_count = 0
        self._count_lock = threading.Lock()
        self._sleep = sleep
        self._known = (api_key,) if api_key else ()
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Accept": "application/json",
                **({"Authorization": f"Bearer {api_key}"} if api_key else {}),
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    # --- transport with retries ---

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One attempt; the answer is read whole but never beyond ``max_response_bytes``."""
        with self._count_lock:
            self.request_count += 1
        request = self._http.build_request(method, path, **kwargs)
        response = self._http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            limit = self.max_response_bytes
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(method, path, limit)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise _too_large(method, path, limit)
        finally:
            response.close()
        return httpx.Response(
            response.status_code, headers=response.headers, content=bytes(body), request=request
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[httpx.Response], T],
        idempotent: bool = True,
        reconcile: Callable[[], T | None] | None = None,
        gone_ok: type[CatalogueError] | None = None,
        **kwargs: Any,
    ) -> T:
        """Send with retries; ``reconcile`` answers "did my POST take effect?"."""
        policy = self.retry
        start = time.monotonic()
        maybe_sent = False
        attempt = 0
        while True:
            attempt += 1
            failure: str
            delay: float | None = None
            limited = False
            try:
                resp = self._send(method, path, **kwargs)
            except httpx.TransportError as exc:
                sent = not isinstance(exc, _NOT_SENT)
                failure = f"{type(exc).__name__}: {exc}"
                if sent and not idempotent:
                    if reconcile is None:
                        raise CatalogueUnavailable(
                            f"{method} {path} may or may not have been applied ({failure})",
                            details={"method": method, "path": path},
                        ) from exc
                    found = reconcile()
                    if found is not None:
                        return found
                maybe_sent = maybe_sent or sent
            else:
                status = resp.status_code
                if status < 400:
                    return _parsed(parse, resp, method, path)
                if status not in policy.retry_statuses:
                    error = _error(resp, self._known)
                    if gone_ok is not None and maybe_sent and isinstance(error, gone_ok):
                        return _parsed(parse, resp, method, path)
                    raise error
                if status in (502, 504) and not idempotent and _has_envelope(resp):
                    # the server itself answered (its backend refused or timed out): a
                    # call that is not idempotent is reported, never sent again
                    raise _error(resp, self._known)
                failure = f"HTTP {status}"
                limited = status == 429
                delay = parse_retry_after(resp.headers.get("retry-after"))
                if status in (502, 504) and not idempotent:
                    found = reconcile() if reconcile else None
                    if found is not None:
                        return found
                maybe_sent = maybe_sent or status in (502, 504)
            if delay is None:
                delay = policy.backoff(attempt)
            elapsed = time.monotonic() - start
            if attempt >= policy.max_attempts or elapsed + delay > policy.total_timeout:
                cls = RateLimited if limited else CatalogueUnavailable
                raise cls(
                    f"{method} {path} failed after {attempt} attempt(s)"
                    f" in {elapsed:.1f}s: {failure}",
                    details={"method": method, "path": path, "attempts": attempt},
                )
            self._sleep(delay)

    def call(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[httpx.Response], T],
        idempotent: bool = True,
        reconcile: Callable[[], T | None] | None = None,
        **kwargs: Any,
    ) -> T:
        """One request to another API of the same server, with this client's retries,
        answer cap and typed errors (``catalogue.simulated_user_store`` uses it)."""
        return self._call(
            method, path, parse=parse, idempotent=idempotent, reconcile=reconcile, **kwargs
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _too_large(method: str, path: str, limit: int) -> CatalogueBadResponse:
    return CatalogueBadResponse(
        f"{method} {path}: the answer is larger than {limit:,} bytes; refused",
        details={"method": method, "path": path, "limit": limit},
    )


def _parsed(
    parse: Callable[[httpx.Response], T], resp: httpx.Response, method: str, path: str
) -> T:
    """``parse(resp)``, with any answer that is not the documented shape a typed error."""
    try:
        return parse(resp)
    except (ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
        # pydantic's ValidationError and json's JSONDecodeError are ValueErrors
        kind = (
            "not valid JSON"
            if isinstance(exc, json.JSONDecodeError)
            else (
                "nested too deep" if isinstance(exc, RecursionError) else "not the expected shape"
            )
        )
        raise CatalogueBadResponse(
            f"{method} {path}: the catalogue's answer is {kind}",
            details={"method": method, "path": path, "status": resp.status_code},
        ) from None


def _has_envelope(resp: httpx.Response) -> bool:
    """Whether ``resp`` is the API's own error envelope, not a gateway's page."""
    try:
        body = resp.json()
    except (ValueError, RecursionError):
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


def _error(resp: httpx.Response, known: tuple[str, ...] = ()) -> CatalogueError:
    """The typed error for an error answer; its text passes through redaction of the
    key sent (``known``) and of every secret shape, since the server's text is shown."""
    try:
        body = resp.json()
    except (ValueError, RecursionError):
        body = None
    error = catalogue_error_from_envelope(resp.status_code, body)
    if body is None and resp.status_code >= 500:
        return CatalogueUnavailable(
            f"HTTP {resp.status_code} without an error envelope",
            details={"status": resp.status_code},
        )
    return _redacted(error, known)


def _redacted(error: CatalogueError, known: tuple[str, ...]) -> CatalogueError:
    error.message = redact_upstream(error.message, known, limit=MAX_REMOTE_MESSAGE)
    error.args = (error.message,)
    error.details = _without_known(redact_data(error.details), known)
    return error


def _without_known(value: Any, known: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_upstream(value, known, limit=MAX_REMOTE_MESSAGE)
    if isinstance(value, dict):
        return {k: _without_known(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_known(v, known) for v in value]
    return value
