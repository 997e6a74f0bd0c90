"""Token bucket: steady spacing at the rate, burst at start, penalty after a 429, learned rate."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Coroutine
from typing import Any

import pytest

from kalshi_lake.api.limiter import DECREASE, MEASURED_DECREASE, MIN_RATE, TokenBucket
from kalshi_lake.sim.faults import TokenBucket as ServerBucket


class FakeClock:
    """A clock whose sleep jumps time forward (for one sleeper at a time)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class VirtualClock:
    """Virtual time for many concurrent sleepers: time jumps to the next wake-up when idle."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), self._seq, fut))
        await fut

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        async def drive() -> Any:
            task = asyncio.ensure_future(coro)
            while True:
                for _ in range(30):  # let every runnable task reach its next sleep
                    await asyncio.sleep(0)
                if task.done():
                    return task.result()
                assert self._timers, "deadlock: nothing sleeps and the task is not done"
                when, _, fut = heapq.heappop(self._timers)
                self.now = max(self.now, when)
                if not fut.cancelled():
                    fut.set_result(None)

        return asyncio.run(drive())


def test_burst_is_free_then_requests_are_spaced_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 3.0, clock=clock)
    waits = [bucket.reserve() for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1, 0.2, 0.3])


def test_acquire_sleeps_until_the_token_is_earned() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5.0, 1.0, initial=0.0, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        for _ in range(10):
            await bucket.acquire()

    asyncio.run(go())
    # 10 tokens at 5/s from an empty bucket: 2 seconds.
    assert clock.now == pytest.approx(2.0)


def test_concurrent_waiters_are_served_in_order_at_the_rate() -> None:
    clock = VirtualClock()
    bucket = TokenBucket(10.0, 1.0, initial=0.0, clock=clock, sleep=clock.sleep)
    granted: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await bucket.acquire()
        granted.append((i, clock.now))

    async def go() -> None:
        await asyncio.gather(*(one(i) for i in range(5)))

    clock.run(go())
    assert [i for i, _ in granted] == [0, 1, 2, 3, 4]
    assert [t for _, t in granted] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_level_refills_but_never_above_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 4.0, initial=0.0, clock=clock)
    clock.now = 1.0
    assert bucket.level == pytest.approx(2.0)
    clock.now = 100.0
    assert bucket.level == pytest.approx(4.0)


def test_a_cut_costs_the_same_whatever_the_number_of_waiters() -> None:
    """The head waiter gives its reservation back on re-queueing; waiters behind hold none.

    Before, every queued waiter held a token and re-reserved another after a cut: twenty waiters
    put the bucket twenty tokens deeper into debt, and the client starved itself.
    """
    clock = VirtualClock()
    bucket = TokenBucket(10.0, 1.0, initial=0.0, clock=clock, sleep=clock.sleep)
    grants: list[float] = []

    async def waiter() -> None:
        await bucket.acquire()
        grants.append(clock.now)

    async def storm() -> None:
        await clock.sleep(0.05)
        assert bucket.penalize(0.5, sent_epoch=bucket.epoch) is True

    async def go() -> None:
        await asyncio.gather(storm(), *(waiter() for _ in range(20)))

    clock.run(go())
    cut = 10.0 * DECREASE
    assert bucket.rate == pytest.approx(cut)
    # The cut at 0.05 s: half a second of pause, then one token every 1/cut seconds for all 20.
    first = 0.05 + 0.5 + 0.5 / cut  # the head still owed the half token it had not earned
    assert grants == pytest.approx([first + i / cut for i in range(20)])
    # Nothing is owed once the queue is served.
    assert bucket.level == pytest.approx(0.0, abs=1e-9)


def test_a_waiter_cancelled_in_line_gives_its_token_back() -> None:
    clock = VirtualClock()
    bucket = TokenBucket(1.0, 1.0, initial=0.0, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        head = asyncio.ensure_future(bucket.acquire())
        await clock.sleep(0.5)
        head.cancel()
        await asyncio.gather(head, return_exceptions=True)

    clock.run(go())
    assert clock.now == pytest.approx(0.5) and bucket.level == pytest.approx(0.5)


def test_penalize_pushes_grants_back_once_per_overrun() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 10.0, clock=clock)
    sent = bucket.epoch  # three requests sent before any 429
    assert bucket.penalize(0.5, sent_epoch=sent) is True
    assert bucket.rate == pytest.approx(10.0 * DECREASE)
    # The other 429s of the same overrun (sent before the cut) do not stack.
    assert bucket.penalize(0.5, sent_epoch=sent) is False
    assert bucket.penalize(0.5, sent_epoch=sent) is False
    # Half a second of debt at the reduced rate, plus this request's own token.
    assert bucket.reserve() == pytest.approx(0.5 + 1 / bucket.rate)
    # A request sent after the cut that still meets a 429 cuts again.
    assert bucket.penalize(0.5, sent_epoch=bucket.epoch) is True
    assert bucket.rate == pytest.approx(10.0 * DECREASE**2)


def test_the_floor_is_absolute_not_a_share_of_the_configured_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1e6, 1e6, clock=clock)
    for i in range(60):
        clock.now = i * 1.0
        bucket.penalize(0.5, sent_epoch=bucket.epoch)
    # A share of 10^6 would still be thousands of requests per second.
    assert bucket.rate == pytest.approx(MIN_RATE)
    # The burst shrank with the rate: an idle client does not save up 10^6 tokens.
    clock.now = 1000.0
    assert bucket.level == pytest.approx(1.0)
    for _ in range(100):
        bucket.reward()
    assert MIN_RATE < bucket.rate < 1e6
    bucket.rate = 5e5
    for _ in range(200):
        bucket.reward()
    assert bucket.rate == 1e6  # never above the configured rate


def test_a_429_cuts_to_the_throughput_the_server_granted() -> None:
    clock = FakeClock()
    bucket = TokenBucket(400.0, 10.0, clock=clock)
    bucket.reserve()
    # The server let 8 requests per second through over the last three seconds ...
    for i in range(24):
        clock.now = (i + 1) / 8.0
        bucket.reward()
    assert bucket.granted_rate() == pytest.approx(8.0, rel=0.1)
    # ... so one 429 brings the rate there at once instead of 0.5 ** n steps.
    bucket.penalize(0.5, sent_epoch=bucket.epoch)
    assert bucket.rate == pytest.approx(8.0, rel=0.1)
    # When the client itself was the slower one, a 429 (jitter) still slows it a little.
    bucket.rate = 4.0
    bucket.penalize(0.5, sent_epoch=bucket.epoch)
    assert bucket.rate == pytest.approx(4.0 * MEASURED_DECREASE)


def _storm(
    server_rates: list[tuple[float, float]], concurrency: int, client_rate: float = 1e6
) -> tuple[VirtualClock, TokenBucket, list[float], list[float]]:
    """Workers sharing one client bucket against a server bucket (50 ms round trips).

    ``server_rates``: (from time, server rate) steps. Returns the clock, the client bucket, the
    times of the good requests and of the 429s.
    """
    clock = VirtualClock()
    server = ServerBucket(server_rates[0][1], 2.0 * server_rates[0][1], clock=clock)
    bucket = TokenBucket(client_rate, client_rate, clock=clock, sleep=clock.sleep)
    good: list[float] = []
    limited: list[float] = []
    end = server_rates[-1][0] + 60.0

    async def worker() -> None:
        while clock.now < end:
            epoch = await bucket.acquire()
            await clock.sleep(0.025)
            rate = max(step for step in server_rates if step[0] <= clock.now)[1]
            if server.rate != rate:
                server.rate, server.burst = rate, 2.0 * rate
            accepted = server.take()
            await clock.sleep(0.025)
            if accepted:
                good.append(clock.now)
                bucket.reward()
            else:
                limited.append(clock.now)
                bucket.penalize(0.5, sent_epoch=epoch)

    async def go() -> None:
        await asyncio.gather(*(worker() for _ in range(concurrency)))

    clock.run(go())
    return clock, bucket, good, limited


@pytest.mark.parametrize("concurrency", [8, 20, 50])
def test_learned_rate_converges_near_the_servers_rate(concurrency: int) -> None:
    clock, bucket, good, limited = _storm([(0.0, 2.0)], concurrency)
    used = len(good) / (2.0 * clock.now)
    assert used >= 0.95, used
    # After the first seconds the client sits at the server's rate, not a share of 10^6 ...
    assert 1.6 <= bucket.rate <= 2.6, bucket.rate
    # ... and once the opening burst is answered its 429s are an occasional probe, not a storm.
    later = [t for t in limited if t > 5.0]
    assert len(later) <= 0.25 * len(good), (len(later), len(good))


def test_learned_rate_recovers_upward_when_the_server_allows_more() -> None:
    clock, bucket, good, _ = _storm([(0.0, 2.0), (60.0, 10.0)], 20)
    before = [t for t in good if 30.0 <= t < 60.0]
    after = [t for t in good if clock.now - 20.0 <= t]
    assert len(before) / 30.0 == pytest.approx(2.0, rel=0.1)
    assert len(after) / 20.0 >= 0.9 * 10.0
    assert bucket.rate >= 9.0


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, 0.5)
    with pytest.raises(ValueError):
        TokenBucket(float("nan"), 1)
