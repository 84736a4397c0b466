"""The REST app's request dependencies: the database session, the authenticated
caller, and a service call run in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from personas_as_code.catalogue.callers import CallerCache
from personas_as_code.catalogue.identity import Caller
from sqlalchemy.orm import Session

R = TypeVar("R")

_bearer = HTTPBearer(auto_error=False, description="ScaiGrid API key")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One database session per request.

    Made on the event loop (a session connects lazily, at its first query); closed
    there when it holds no transaction, else in a thread (closing rolls back).
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await to_thread.run_sync(session.close)
        else:
            session.close()


async def get_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Caller:
    """The authenticated caller (401 ``UNAUTHORIZED`` when missing or invalid).

    The guard has already authenticated the request before its body was read;
    otherwise (a GET, or an app assembled some other way) the key is resolved
    here, through the app's ``CallerCache``.
    """
    caller = getattr(request.state, "caller", None)
    if isinstance(caller, Caller):
        return caller
    callers: CallerCache = request.app.state.callers
    return await callers.resolve(credentials.credentials if credentials else None)


async def in_db(request: Request, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """``fn(session, *args, **kwargs)`` with a fresh session, in one worker thread: the
    routes are coroutines, so a request costs one thread hop, not one per dependency."""

    def run() -> R:
        with Session(request.app.state.engine, expire_on_commit=False) as session:
            return fn(session, *args, **kwargs)

    return await to_thread.run_sync(run)


READ_THREADS = 40
"""The most reads ``in_thread`` runs at once (anyio's default for its worker threads)."""

_readers = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="catalogue-read")


async def in_thread(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """``fn(*args, **kwargs)`` in one worker thread, with the caller's context variables
    (a read that takes its own connection, such as ``rest_reads.PersonaReads``'s).

    Through the asyncio loop's executor hand-off (uvicorn's loop, the test client's),
    which costs a third less CPU than anyio's worker threads: it is the one hop of the
    hottest routes.  A cancelled request stops waiting; the read finishes in its thread
    and returns its connection."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_readers, call)


Sess = Depends(get_session)

Auth = Depends(get_caller)
