"""Model calls of the catalogue server, each on its backend model's own bounded pool.

A backend call blocks (an HTTP request that may hang until its timeout, or llama.cpp
computing).  Run on the server's shared worker threads, a few dozen hung calls would
stall every route of every tenant; here each backend model has a pool of its own,
``max_concurrent_calls`` threads (``[backends]``), so a hung backend holds only its own
calls.  A call beyond a full pool is not queued: that backend is ``BackendBusy``, the
call hands over to the model's next backend, and with none left it is answered 503
``BACKEND_BUSY`` with ``Retry-After``.

``answer`` awaits a whole answer; ``events`` starts a stream whose pieces are pulled one
by one on the pool, so the event loop never waits on a backend.  When the stream is
closed (the client went away, or it ended) the backend's iterator is closed after the
piece being read, which closes the upstream connection, and its slot is freed.

Both chat routes (``/v1/inference/chat`` and the OpenAI-compatible one) call these.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from personas_as_code.inference.backends import Backend
from personas_as_code.inference.chat import (
    HANDOVER,
    ChatCall,
    ChatResult,
    ChunkMaker,
    new_completion_id,
    no_backend,
)
from personas_as_code.inference.messages import BackendInfo, Delta
from personas_as_code.schemas.errors import BackendBusy, BackendError

T = TypeVar("T")
RETRY_AFTER_SECONDS = 5
"""What a ``BACKEND_BUSY`` answer asks the caller to wait."""


class BackendPool:
    """The threads of one backend model's calls: at most ``size`` at once, never queued."""

    def __init__(self, backend_model: str, size: int) -> None:
        self.backend_model = backend_model
        self.size = size
        self.busy = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="backend-call")

    def take(self) -> bool:
        """Take a slot for one call; False when all are taken."""
        with self._lock:
            if self.busy >= self.size:
                return False
            self.busy += 1
            return True

    def give_back(self) -> None:
        """Free the slot of a call that has finished (its thread is done)."""
        with self._lock:
            self.busy -= 1

    def freed(self, _done: Future[Any]) -> None:
        """``give_back`` as a future's done callback (the call's thread is done)."""
        self.give_back()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn`` on one of the pool's threads (under a slot the caller holds)."""
        return self._executor.submit(fn, *args)

    def shutdown(self) -> None:
        """Stop taking work; calls still running end by their own timeouts."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class BackendPools:
    """Every backend model's pool in one server process."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, int], BackendPool] = {}
        self._lock = threading.Lock()

    def of(self, backend: Backend) -> BackendPool:
        """The pool of ``backend``'s backend model (a new size makes a new pool)."""
        key = (backend.info.backend_model, max(1, backend.slots))
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = BackendPool(*key)
            return pool

    def shutdown(self) -> None:
        """Shut every pool down (the server is stopping)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown()


def _busy(pool: BackendPool) -> BackendBusy:
    return BackendBusy(
        f"backend {pool.backend_model} is answering {pool.size} calls already "
        "(max_concurrent_calls); try again shortly",
        details={
            "backend_model": pool.backend_model,
            "max_concurrent_calls": pool.size,
            "retry_after_seconds": RETRY_AFTER_SECONDS,
        },
    )


def pools_of(state: Any) -> BackendPools:
    """The server's pools, kept on its ``app.state`` (made at the first call)."""
    pools = getattr(state, "backend_pools", None)
    if pools is None:
        pools = state.backend_pools = BackendPools()
    return pools


async def answer(pools: BackendPools, call: ChatCall) -> ChatResult:
    """Dispatch ``call`` on its backends' pools and return the whole answer (handing over
    to the next backend on outages and on a full pool)."""
    last: BackendError | None = None
    for backend in call.backends:
        pool = pools.of(backend)
        if not pool.take():
            last = _busy(pool)
            continue
        future = pool.submit(backend.complete, call.messages, call.params)
        future.add_done_callback(pool.freed)
        try:
            result = await asyncio.wrap_future(future)
        except HANDOVER as exc:
            last = exc
            continue
        return ChatResult(new_completion_id(), int(time.time()), call, result)
    raise last or no_backend(call)


def _next_delta(deltas: Iterator[Delta]) -> Delta | None:
    return next(deltas, None)


class PooledDeltas:
    """A backend's deltas pulled one by one on its pool; holds one slot until closed."""

    def __init__(self, pool: BackendPool, deltas: Iterator[Delta]) -> None:
        self._pool = pool
        self._deltas = deltas
        self._pending: Future[Delta | None] | None = None
        self._closed = False

    async def next(self) -> Delta | None:
        """The next delta, or None at the end."""
        if self._closed:
            return None
        self._pending = self._pool.submit(_next_delta, self._deltas)
        delta = await asyncio.wrap_future(self._pending)
        self._pending = None
        return delta

    def close(self) -> None:
        """End the stream: the backend's iterator is closed once the piece being read
        (if any) is in, on a pool thread, and the slot is freed.  Does not wait."""
        if self._closed:
            return
        self._closed = True
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.add_done_callback(lambda _done: self._finish())
        else:
            try:
                self._pool.submit(self._finish)
            except RuntimeError:  # the pool is shut down: the server is stopping
                self._finish()

    def _finish(self) -> None:
        try:
            close = getattr(self._deltas, "close", None)
            if close is not None:
                close()
        finally:
            self._pool.give_back()


class ChatEvents:
    """A started stream: its ``first`` event, then the others as an async iterator of
    ``chat.completion.chunk`` dicts.  ``close()`` (sync, safe to call twice) ends it."""

    def __init__(
        self,
        call: ChatCall,
        deltas: PooledDeltas,
        info: BackendInfo,
        head: Delta | None,
        ident: tuple[str, int] | None = None,
    ) -> None:
        self._deltas = deltas
        self._chunks = ChunkMaker(call, ident)
        self.first = self._chunks.first(info)
        self._ready: list[dict[str, Any]] = [] if head is None else self._chunks.of(head)
        if head is None:
            self.close()

    def __aiter__(self) -> ChatEvents:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._ready:
            delta = await self._deltas.next()
            if delta is None:
                self.close()
                raise StopAsyncIteration
            self._ready = self._chunks.of(delta)
        return self._ready.pop(0)

    def close(self) -> None:
        """End the stream and free its backend's slot (the upstream is closed)."""
        self._deltas.close()


async def events(
    pools: BackendPools, call: ChatCall, ident: tuple[str, int] | None = None
) -> ChatEvents:
    """Start ``call`` as a stream on the first backend whose stream starts (handing over
    only before its first piece); errors before that raise.  The caller closes it.
    ``ident``: the id and time of chunks already sent for this answer."""
    last: BackendError | None = None
    for backend in call.backends:
        pool = pools.of(backend)
        if not pool.take():
            last = _busy(pool)
            continue
        deltas = PooledDeltas(pool, iter(backend.stream(call.messages, call.params)))
        try:
            head = await deltas.next()
        except HANDOVER as exc:
            deltas.close()
            last = exc
            continue
        except BaseException:
            deltas.close()
            raise
        return ChatEvents(call, deltas, backend.info, head, ident)
    raise last or no_backend(call)
