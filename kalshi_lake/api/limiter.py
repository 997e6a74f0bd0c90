"""An asyncio token bucket that spaces requests at a steady rate, and learns the server's rate.

Kalshi meters reads with a token bucket (https://docs.kalshi.com/getting_started/rate_limits).
Ours mirrors it on the client so the server's bucket is rarely the one that says no: requests
wait here, not in a 429 retry loop.

Waiters queue in arrival order (an :class:`asyncio.Lock` is FIFO). Only the head of the queue
holds a *reservation*: :meth:`TokenBucket.reserve` takes a token at once (the level may go below
zero) and the head sleeps until that token has been earned. When the rate is cut while the head
sleeps, its slot was computed at the old rate: it gives the reservation back and reserves again
behind the cut. The queue behind the head holds nothing, so a cut costs the same whether one
request or fifty are waiting (reserving a token per waiter and re-reserving on a cut put the bucket
a token deeper into debt per queued waiter, and the client starved itself the more concurrent it
was).

The rate is learned from the server, not taken as a share of the configured one. A 429 cuts the
rate to the throughput the server actually granted over the last :data:`WINDOW_S` seconds (the
server's rate when we were above it; a little below our rate if the 429 was jitter), or by
:data:`DECREASE` when too few requests succeeded to measure, and puts the bucket into debt for a
moment so the server's bucket refills ahead of ours. Each success grows the rate by
:data:`INCREASE` of itself, never above the configured rate: the client keeps probing, so it
climbs again when the server allows more. Like TCP, one overrun is answered once: 429s for
requests sent before the last cut are ignored. The burst scales with the learned rate, so an idle
client does not save up the configured rate's burst and spend it all at once on a slower server.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

#: Rate multiplier after a 429 when too few requests succeeded to measure the server's rate.
DECREASE = 0.5
#: Upper bound of the rate after a measured cut: a 429 always slows the client a little.
MEASURED_DECREASE = 0.95
#: Relative rate growth per successful request (doubles in about 70 requests).
INCREASE = 0.01
#: The learned rate never falls below this many requests per second (or the configured rate).
MIN_RATE = 0.1
#: Window (seconds) over which the server's granted throughput is measured.
WINDOW_S = 3.0
#: Shortest span a granted rate is measured over (a burst of answers is not a rate).
MIN_SPAN_S = 0.5


class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity`` (the burst).

    ``initial`` is the level at start (default: full). ``clock`` and ``sleep`` are seams for tests.
    The burst is ``capacity / rate`` seconds of whatever the current rate is.
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
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if not capacity >= 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.rate = float(rate)
        self.max_rate = float(rate)
        self.min_rate = min(self.max_rate, MIN_RATE)
        self._burst_s = float(capacity) / self.rate
        self._clock = clock
        self._sleep = sleep
        self._level = float(capacity) if initial is None else float(initial)
        self._stamp = clock()
        self._started: float | None = None
        self._epoch = 0
        self._ok: deque[float] = deque()
        self._queue = asyncio.Lock()

    @property
    def capacity(self) -> float:
        """The burst at the current rate (the configured capacity at the configured rate)."""
        return max(1.0, self.rate * self._burst_s)

    def _refill(self) -> float:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now
        return now

    @property
    def level(self) -> float:
        """Tokens available now (negative while the head waiter waits or after a 429)."""
        self._refill()
        return self._level

    @property
    def epoch(self) -> int:
        """Counts rate cuts; :meth:`acquire` returns the epoch a request is sent under."""
        return self._epoch

    def reserve(self) -> float:
        """Take one token; returns how many seconds to wait before using it (0 if available)."""
        now = self._refill()
        if self._started is None:
            self._started = now
        self._level -= 1.0
        return 0.0 if self._level >= 0 else -self._level / self.rate

    def give_back(self) -> None:
        """Return a reserved token that was not used (its holder queues again or gave up)."""
        self._refill()
        self._level = min(self.capacity, self._level + 1.0)

    async def acquire(self) -> int:
        """Wait in line for one token; returns the :attr:`epoch` the request is sent under.

        The head of the line reserves its token and sleeps until it is earned. If the rate was
        cut meanwhile, the slot it slept towards is too early: it gives the token back and
        reserves again behind the cut, so a 429 slows every queued request at once.
        """
        async with self._queue:
            while True:
                epoch = self._epoch
                delay = self.reserve()
                if delay <= 0:
                    return epoch
                try:
                    await self._sleep(delay)  # type: ignore[misc]
                except BaseException:
                    self.give_back()  # cancelled in line: the token was never used
                    raise
                if epoch == self._epoch:
                    return epoch
                self.give_back()

    def granted_rate(self) -> float | None:
        """Successful requests per second over the last :data:`WINDOW_S` (None if too few)."""
        now = self._clock()
        self._forget(now)
        if len(self._ok) < 2 or self._started is None:
            return None
        since = max(now - WINDOW_S, self._started)
        return len(self._ok) / max(now - since, MIN_SPAN_S)

    def _forget(self, now: float) -> None:
        while self._ok and self._ok[0] < now - WINDOW_S:
            self._ok.popleft()

    def penalize(self, seconds: float, sent_epoch: int | None = None) -> bool:
        """React to a 429: cut the rate and push every future grant back by ``seconds``.

        The server's bucket is empty when it answers 429; if ours merely drained to zero both would
        stay in lock step at zero and every bit of network jitter would be another 429. Going into
        debt lets the server's bucket refill ahead of ours. A 429 for a request sent before the
        last cut (``sent_epoch`` older than :attr:`epoch`) reports the same overrun and is
        ignored, so a storm seen by many waiters is answered (and its Retry-After honoured) once.
        Returns True when the penalty was applied.
        """
        self._refill()
        if sent_epoch is not None and sent_epoch < self._epoch:
            return False
        self._epoch += 1
        granted = self.granted_rate()
        if granted is None:
            target = self.rate * DECREASE
        else:
            target = min(self.rate * MEASURED_DECREASE, granted)
        self.rate = max(self.min_rate, target)
        self._level = min(self._level, 0.0) - seconds * self.rate
        return True

    def reward(self) -> None:
        """A request succeeded: note it, and grow the rate back towards the configured one."""
        now = self._refill()
        self._ok.append(now)
        self._forget(now)
        if self.rate < self.max_rate:
            self.rate = min(self.max_rate, self.rate * (1.0 + INCREASE))
