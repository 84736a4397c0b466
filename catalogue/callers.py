"""Bearer keys resolved to callers, remembered for a few seconds.

Resolving a key is a database round trip (a session and a JOIN of the key and
its tenant) that every request would pay.  ``CallerCache`` remembers a valid
key's caller for ``ttl`` seconds, so a burst of requests with one key costs one
lookup.  Only valid keys are remembered (an unknown key is looked up each time,
so a new key works at once), the cache is keyed by the key's hash and bounded,
and a revoked or re-scoped key takes effect within ``ttl`` seconds in every
server process sharing the database (``ttl=0`` looks every request up).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from anyio import to_thread
from personas_as_code.catalogue import identity
from personas_as_code.catalogue.defaults import DEFAULT_KEY_CACHE_SECONDS
from personas_as_code.catalogue.identity import Caller, hash_key
from sqlalchemy import Engine
from sqlalchemy.orm import Session

MAX_CACHED_KEYS = 1024


class CallerCache:
    """The callers of recently seen valid keys, each for ``ttl`` seconds."""

    def __init__(
        self,
        engine: Engine,
        ttl: float = DEFAULT_KEY_CACHE_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0:
            raise ValueError("the key cache TTL cannot be negative")
        self.engine = engine
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Caller]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, api_key: str | None) -> Caller | None:
        """The remembered caller of ``api_key``, or None (no database access)."""
        if not api_key or self.ttl == 0:
            return None
        digest = hash_key(api_key)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[digest]
                return None
            return entry[1]

    def authenticate(self, api_key: str | None) -> Caller:
        """The caller of ``api_key``, from the cache or the database (``Unauthorized``)."""
        caller = self.cached(api_key)
        if caller is not None:
            return caller
        with Session(self.engine) as session:
            caller = identity.authenticate(session, api_key)
        if self.ttl and api_key:
            with self._lock:
                self._entries[hash_key(api_key)] = (self._clock() + self.ttl, caller)
                while len(self._entries) > MAX_CACHED_KEYS:
                    self._entries.popitem(last=False)
        return caller

    async def resolve(self, api_key: str | None) -> Caller:
        """``authenticate`` without blocking the event loop: a hit costs no thread hop."""
        caller = self.cached(api_key)
        if caller is not None:
            return caller
        return await to_thread.run_sync(self.authenticate, api_key)
