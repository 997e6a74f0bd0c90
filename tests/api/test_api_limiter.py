"""Token bucket: steady spacing at the rate, burst at start, penalty after a 429."""

from __future__ import annotations

import asyncio

import pytest

from kalshi_lake.api.limiter import DECREASE, MIN_SHARE, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


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


def test_level_refills_but_never_above_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 4.0, initial=0.0, clock=clock)
    clock.now = 1.0
    assert bucket.level == pytest.approx(2.0)
    clock.now = 100.0
    assert bucket.level == pytest.approx(4.0)


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


def test_rate_adapts_down_on_429_and_back_up_on_success() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100.0, 10.0, clock=clock)
    for i in range(30):
        clock.now = i * 1.0
        bucket.penalize(0.5, sent_epoch=bucket.epoch)
    assert bucket.rate == pytest.approx(100.0 * MIN_SHARE)
    low = bucket.rate
    for _ in range(100):
        bucket.reward()
    assert low < bucket.rate < 100.0
    for _ in range(2000):
        bucket.reward()
    assert bucket.rate == 100.0  # never above the configured rate


def test_a_429_cuts_to_the_throughput_the_server_granted() -> None:
    clock = FakeClock()
    bucket = TokenBucket(400.0, 10.0, clock=clock)
    # The server let 8 requests per second through over the last two seconds ...
    for i in range(16):
        clock.now = i / 8.0
        bucket.reward()
    clock.now = 2.0
    assert bucket.granted_rate() == pytest.approx(8.0, rel=0.1)
    # ... so one 429 brings the rate there at once instead of 0.8 ** n steps.
    bucket.penalize(0.5, sent_epoch=bucket.epoch)
    assert bucket.rate == pytest.approx(8.0, rel=0.1)


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, 0.5)
