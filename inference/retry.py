"""How hard an HTTP backend tries: attempts, backoff with jitter, ``Retry-After``."""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and delays of one call; ``Retry-After`` wins over the backoff, up to
    ``max_retry_after`` seconds, and no wait may cross ``total_timeout``."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 30.0
    total_timeout: float = 120.0
    jitter: float = 0.5
    retry_statuses: frozenset[int] = field(default_factory=lambda: RETRY_STATUSES)

    def backoff(self, attempt: int) -> float:
        """Delay before attempt ``attempt + 1``: exponential, capped, jittered."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return delay * (1 - self.jitter) + random.uniform(0, delay * self.jitter)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """The wait before the next attempt: the server's ``Retry-After`` when it gave one."""
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_retry_after)
        return self.backoff(attempt)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
