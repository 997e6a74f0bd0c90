"""The simulator's clock: frozen, moving at a speed, or moved by hand."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from kalshi_lake.errors import ConfigError
from kalshi_lake.sim.clock import SimClock
from kalshi_lake.sim.config import FIXTURE_NOW
from kalshi_lake.sim.model import US, to_us

START_US = to_us(FIXTURE_NOW)


def test_frozen_clock_never_moves() -> None:
    clock = SimClock(FIXTURE_NOW)
    first = clock.now_us()
    time.sleep(0.01)
    assert clock.now_us() == first == START_US
    assert clock.now() == FIXTURE_NOW
    assert clock.is_frozen and not clock.is_manual and clock.speed is None
    with pytest.raises(ValueError, match="manual"):
        clock.advance(1)


def test_naive_start_is_utc_and_int_start_is_microseconds() -> None:
    naive = FIXTURE_NOW.replace(tzinfo=None)
    assert SimClock(naive).now_us() == START_US
    assert SimClock(START_US).now() == FIXTURE_NOW


def test_moving_clock_advances_speed_times_real_time() -> None:
    clock = SimClock(FIXTURE_NOW, speed=3600.0)
    real0 = time.monotonic()
    a = clock.now_us()
    time.sleep(0.05)
    b = clock.now_us()
    real = time.monotonic() - real0
    assert not clock.is_frozen and clock.speed == 3600.0
    assert START_US <= a < b
    # Simulated elapsed <= speed x real elapsed (measured around both reads); generous lower
    # bound: at least the sleep's 0.05 s of real time went by between the reads.
    assert b - a <= 3600 * real * US + 1
    assert b - a >= 3600 * 0.05 * US * 0.99


def test_moving_clock_is_monotonic() -> None:
    clock = SimClock(FIXTURE_NOW, speed=0.5)
    seen = [clock.now_us() for _ in range(2000)]
    assert seen == sorted(seen)


@pytest.mark.parametrize("speed", [0, -1.0])
def test_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ConfigError, match="speed"):
        SimClock(FIXTURE_NOW, speed=speed)


def test_manual_clock_moves_only_when_told() -> None:
    clock = SimClock.manual(FIXTURE_NOW)
    assert clock.is_manual and not clock.is_frozen
    time.sleep(0.01)
    assert clock.now_us() == START_US
    assert clock.advance(90) == START_US + 90 * US
    assert clock.advance(0.25) == START_US + 90 * US + 250_000
    later = FIXTURE_NOW + dt.timedelta(hours=2)
    assert clock.set(later) == to_us(later)
    assert clock.now() == later
    assert clock.now_s() == to_us(later) // US
    assert clock.set(to_us(later)) == to_us(later)  # setting to now is allowed


def test_manual_clock_never_goes_back() -> None:
    clock = SimClock.manual(FIXTURE_NOW)
    clock.advance(60)
    with pytest.raises(ValueError, match="never goes back"):
        clock.set(FIXTURE_NOW)
    with pytest.raises(ValueError, match="never goes back"):
        clock.advance(-1)
    assert clock.now_us() == START_US + 60 * US


def test_listeners_hear_every_move_until_removed() -> None:
    clock = SimClock.manual(FIXTURE_NOW)
    heard: list[int] = []
    remove = clock.on_change(heard.append)
    clock.advance(1)
    clock.advance(2)
    remove()
    remove()  # idempotent
    clock.advance(3)
    assert heard == [START_US + US, START_US + 3 * US]
