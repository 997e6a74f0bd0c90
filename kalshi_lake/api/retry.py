"""Retry timing: exponential backoff with full jitter, Retry-After, and a per-run retry budget.

Full jitter (sleep a uniform random time in ``[0, min(cap, base * 2**attempt)]``) spreads the
retries of many concurrent requests instead of letting them come back in step. A server's
``Retry-After`` is a floor, never shortened. The budget bounds the total retries of one run, so a
dead or hostile server ends the run with exit 3 instead of keeping it busy for hours.

A 429 while other requests still succeed is not charged to the budget (the client queues the
request again behind its limiter, see :mod:`kalshi_lake.api.client`): a storm is the client
being ahead of the server, not the server failing, and charging it would end a long run that is
making steady progress. :data:`MAX_QUEUED_RATE_LIMITED` bounds those free re-queues per request.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import threading
from dataclasses import dataclass, field

#: Longest Retry-After we honour; beyond this the run should fail and be re-run later.
MAX_RETRY_AFTER_S = 300.0
#: 429s one request may meet while other requests succeed before each further 429 is charged
#: like any transient error (a request the server keeps refusing while serving others).
MAX_QUEUED_RATE_LIMITED = 100


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before retry number ``attempt`` (0-based)."""

    max_retries: int = 8
    base_s: float = 0.25
    cap_s: float = 30.0

    def backoff(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to sleep before the next try: full jitter, at least ``retry_after``."""
        r = rng or random
        ceiling = min(self.cap_s, self.base_s * (2.0 ** max(0, attempt)))
        delay = r.uniform(0.0, ceiling)
        if retry_after is not None and retry_after > 0:
            # Honour the server's floor; a little jitter on top keeps waiters from re-colliding.
            delay = min(retry_after, MAX_RETRY_AFTER_S) + r.uniform(0.0, self.base_s)
        return delay


@dataclass
class RetryBudget:
    """A counter of retries left for the whole run (shared by every request)."""

    total: int
    used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> bool:
        """Spend one retry; False when the budget is exhausted."""
        with self._lock:
            if self.used >= self.total:
                return False
            self.used += 1
            return True

    @property
    def exhausted(self) -> bool:
        """True once every retry has been spent."""
        return self.used >= self.total


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())
