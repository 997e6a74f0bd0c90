"""An asyncio token bucket that spaces requests at a steady rate, and adapts to 429s.

Kalshi meters reads with a token bucket (https://docs.kalshi.com/getting_started/rate_limits).
Ours mirrors it on the client so the server's bucket is never the one that says no: requests
wait here, not in a 429 retry loop.

Tokens are *reserved*: :meth:`TokenBucket.acquire` takes a token at once (the level may go below
zero) and sleeps until the moment that token has been earned. Waiters are therefore served in
arrival order and the rate is exact, with no polling and no lock.

The rate adapts in case the server grants less than we were told (an unsigned caller's unknown
limit, a lower tier than configured). A 429 cuts the rate to the smaller of ``rate * DECREASE``
and the throughput the server actually granted over the last few seconds, and puts the bucket
into debt for a moment so the server's bucket refills ahead of ours. Each success then grows the
rate by :data:`INCREASE` of itself, never above the configured rate. Like TCP, one overrun is
answered once: 429s for requests sent before the last cut are ignored.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

#: Rate multiplier after a 429 (an upper bound: the measured granted rate may be lower).
DECREASE = 0.8
#: Relative rate growth per successful request (doubles in about 70 requests).
INCREASE = 0.01
#: The adaptive rate never falls below this share of the configured rate.
MIN_SHARE = 0.02
#: Window (seconds) over which the server's granted throughput is measured.
WINDOW_S = 3.0


class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity`` (the burst).

    ``initial`` is the level at start (default: full). ``clock`` and ``sleep`` are seams for tests.
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        initial: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.rate = float(rate)
        self.max_rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._level = self.capacity if initial is None else float(initial)
        self._stamp = clock()
        self._epoch = 0
        self._ok: deque[float] = deque()

    def _refill(self) -> float:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now
        return now

    @property
    def level(self) -> float:
        """Tokens available now (negative while requests are queued for future tokens)."""
        self._refill()
        return self._level

    @property
    def epoch(self) -> int:
        """Counts rate cuts; :meth:`acquire` returns the epoch a request is sent under."""
        return self._epoch

    def reserve(self) -> float:
        """Take one token; returns how many seconds to wait before using it (0 if available)."""
        self._refill()
        self._level -= 1.0
        return 0.0 if self._level >= 0 else -self._level / self.rate

    async def acquire(self) -> int:
        """Wait for one token; returns the :attr:`epoch` the request is sent under.

        A waiter overtaken by a rate cut while it slept (its slot was reserved at the old rate)
        queues again behind the cut, so a 429 slows every queued request at once.
        """
        while True:
            epoch = self._epoch
            delay = self.reserve()
            if delay > 0:
                await self._sleep(delay)  # type: ignore[misc]
            if epoch == self._epoch:
                return epoch

    def granted_rate(self) -> float | None:
        """Successful requests per second over the last :data:`WINDOW_S` (None if too few)."""
        now = self._clock()
        while self._ok and self._ok[0] < now - WINDOW_S:
            self._ok.popleft()
        if len(self._ok) < 5:
            return None
        span = max(now - self._ok[0], 1.0 / self.max_rate)
        return len(self._ok) / span

    def penalize(self, seconds: float, sent_epoch: int | None = None) -> bool:
        """React to a 429: cut the rate and push every future grant back by ``seconds``.

        The server's bucket is empty when it answers 429; if ours merely drained to zero both would
        stay in lock step at zero and every bit of network jitter would be another 429. Going into
        debt lets the server's bucket refill ahead of ours. A 429 for a request sent before the
        last cut (``sent_epoch`` older than :attr:`epoch`) reports the same overrun and is
        ignored. Returns True when the penalty was applied.
        """
        self._refill()
        if sent_epoch is not None and sent_epoch < self._epoch:
            return False
        self._epoch += 1
        target = self.rate * DECREASE
        granted = self.granted_rate()
        if granted is not None:
            target = min(target, granted)
        self.rate = max(self.max_rate * MIN_SHARE, target)
        self._level = min(self._level, 0.0) - seconds * self.rate
        return True

    def reward(self) -> None:
        """A request succeeded: note it, and grow the rate back towards the configured one."""
        self._ok.append(self._clock())
        if len(self._ok) > 4 * self.max_rate * WINDOW_S:
            self._ok.popleft()
        if self.rate < self.max_rate:
            self._refill()
            self.rate = min(self.max_rate, self.rate * (1.0 + INCREASE))
