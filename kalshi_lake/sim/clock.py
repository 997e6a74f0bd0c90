"""The simulator's clock: the simulated "now", frozen, advancing with real time, or set by hand.

One :class:`SimClock` per server, shared by the REST routes and the WebSocket endpoint, so both
always agree on the instant. Three modes:

- frozen (``SimClock(start)``): ``now_us()`` is always ``start`` (the simulator as it has always
  been: equal requests get byte-identical answers);
- moving (``SimClock(start, speed=60)``): ``speed`` simulated seconds pass per real second,
  measured on the monotonic clock from the moment the clock is made;
- manual (``SimClock.manual(start)``): frozen until a test moves it with :meth:`SimClock.set` or
  :meth:`SimClock.advance`, so a test decides exactly which instants are visited.

The clock never goes backwards: everything streamed from it is "what happened in (last, now]".
Simulated instants are integer UTC microseconds, like every time in :mod:`kalshi_lake.sim.model`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from kalshi_lake.errors import ConfigError
from kalshi_lake.sim.model import US, from_us, to_us

__all__ = ["SimClock"]

UTC = dt.UTC


def _as_us(t: dt.datetime | int) -> int:
    if isinstance(t, dt.datetime):
        return to_us(t if t.tzinfo else t.replace(tzinfo=UTC))
    return int(t)


class SimClock:
    """The simulated clock of one server (thread-safe: read by the loop, moved by tests).

    ``start``: the simulated instant at creation (aware datetime, naive = UTC, or UTC µs).
    ``speed``: simulated seconds per real second (> 0), or None for a frozen clock.
    """

    def __init__(self, start: dt.datetime | int, speed: float | None = None) -> None:
        if speed is not None and not speed > 0:
            raise ConfigError(
                f"sim speed must be positive (or None for a frozen clock), got {speed}"
            )
        self._lock = threading.Lock()
        self._base_us = _as_us(start)
        self._manual = False
        self._listeners: list[Callable[[int], object]] = []
        # The rate as an exact fraction of the decimal the user wrote, so the simulated time is
        # integer arithmetic on the monotonic nanoseconds (no float drift over long runs).
        self._rate = None if speed is None else Fraction(Decimal(repr(float(speed))))
        self._speed = speed
        self._t0_ns = time.monotonic_ns()

    @classmethod
    def manual(cls, start: dt.datetime | int) -> SimClock:
        """A clock that stays at ``start`` until :meth:`set` or :meth:`advance` moves it."""
        clock = cls(start)
        clock._manual = True
        return clock

    # -----------------------------------------------------------------------------------------
    # reading

    @property
    def speed(self) -> float | None:
        """Simulated seconds per real second (None: frozen or manual)."""
        return self._speed

    @property
    def is_manual(self) -> bool:
        """True for a clock moved only by :meth:`set` / :meth:`advance`."""
        return self._manual

    @property
    def is_frozen(self) -> bool:
        """True when ``now`` never changes (not moving, not manual): answers can be cached."""
        return self._rate is None and not self._manual

    @property
    def start_us(self) -> int:
        """The simulated instant the clock started at (moved by :meth:`set` in manual mode)."""
        return self._base_us

    def now_us(self) -> int:
        """The simulated now, integer UTC microseconds."""
        if self._rate is None:
            return self._base_us
        elapsed_ns = time.monotonic_ns() - self._t0_ns
        rate = self._rate
        return self._base_us + elapsed_ns * rate.numerator // (rate.denominator * 1000)

    def now(self) -> dt.datetime:
        """The simulated now as an aware UTC datetime."""
        return from_us(self.now_us())

    def now_s(self) -> int:
        """The simulated now in whole Unix seconds (rounded down)."""
        return self.now_us() // US

    # -----------------------------------------------------------------------------------------
    # moving a manual clock

    def set(self, ts: dt.datetime | int) -> int:
        """Move a manual clock to ``ts`` (datetime or UTC µs); returns the new now.

        Raises ValueError on a frozen or moving clock, or when ``ts`` is before now (the clock
        never goes back: streams emit what happened in (last, now]).
        """
        target = _as_us(ts)
        with self._lock:
            if not self._manual:
                raise ValueError("only a manual clock (SimClock.manual) can be set")
            if target < self._base_us:
                raise ValueError(
                    f"the simulated clock never goes back ({from_us(target).isoformat()} is "
                    f"before {from_us(self._base_us).isoformat()})"
                )
            self._base_us = target
            listeners = list(self._listeners)
        for listener in listeners:
            listener(target)
        return target

    def advance(self, seconds: float | int) -> int:
        """Move a manual clock ``seconds`` forward (>= 0); returns the new now."""
        if seconds < 0:
            raise ValueError(f"the simulated clock never goes back (advance {seconds})")
        step = int(Decimal(repr(seconds)) * US) if isinstance(seconds, float) else seconds * US
        return self.set(self._base_us + step)

    def on_change(self, listener: Callable[[int], object]) -> Callable[[], None]:
        """Call ``listener(now_us)`` after every :meth:`set` / :meth:`advance` (in the caller's
        thread: a listener on an event loop must hop with ``call_soon_threadsafe``).

        Returns a function that removes the listener.
        """
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def __repr__(self) -> str:
        mode = "manual" if self._manual else "frozen" if self._rate is None else f"x{self._speed}"
        return f"SimClock({from_us(self.now_us()).isoformat()}, {mode})"
