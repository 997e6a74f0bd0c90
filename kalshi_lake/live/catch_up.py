"""REST catch-up passes: what the stream may have missed (or, without a key, all trades) from REST.

A pass runs every ``every_s`` and soon after a gap (:attr:`CatchUp.due`: a hole in a sequence,
a buffer overflow, a reconnect; a burst of gaps waits ``after_gap_s`` to share one pass, except
the first pass, which runs at once). A pass is a backfill of the followed cities' current event
days (:func:`~kalshi_lake.backfill.run_backfills`, from two days back to tomorrow): incremental
from each market's saved watermark, so it costs a few requests per market. What a pass did goes
to ``on_pass``: the follower records it (a finished pass repairs every gap before it, which the
``live_gap_unrepaired`` check reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from kalshi_lake.cities import City
from kalshi_lake.config import Settings
from kalshi_lake.errors import FetchIncompleteError, LockedError
from kalshi_lake.log import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class CatchUpPass:
    """One pass: when it began (UTC us), whether it finished, the markets followed then."""

    started_us: int
    ok: bool
    tickers: list[str]
    requests: int
    note: str | None = None


class CatchUp:
    """The catch-up loop of one run (see the module doc)."""

    def __init__(
        self,
        settings: Settings,
        cities: Sequence[City],
        families: Sequence[str] | None,
        transport: httpx.AsyncBaseTransport | None,
        *,
        every_s: float,
        after_gap_s: float,
        raw_writes: asyncio.Lock,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.settings = settings.with_(progress=False)
        self.cities = list(cities)
        self.families = families
        self.transport = transport
        self.every_s = every_s
        self.after_gap_s = after_gap_s
        # A pass deletes the temp files under raw/ of its cities that predate its lease, taking
        # them for a killed run's: the follower's own page writes must not be in flight then.
        self.raw_writes = raw_writes
        #: The instant whose UTC day is "today" for a pass (the follower's clock).
        self.clock = clock
        #: Set to ask for a pass soon (a gap); set at start, so the first pass runs at once.
        self.due = asyncio.Event()
        self.due.set()
        self.passes = 0

    async def run(
        self,
        stop: asyncio.Event,
        followed: Callable[[], list[str]],
        on_pass: Callable[[CatchUpPass], None],
    ) -> None:
        """Pass after pass until ``stop``."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.due.wait(), self.every_s)
            if stop.is_set():
                return
            if self.due.is_set() and self.passes:
                # let a burst of gaps settle into one pass
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.after_gap_s)
            self.due.clear()
            on_pass(await self.once(list(followed())))

    async def once(self, tickers: list[str]) -> CatchUpPass:
        """One pass over the followed cities' current days."""
        from kalshi_lake.backfill.multi import run_backfills

        started_us = time.time_ns() // 1000
        today = self.clock().date()
        self.passes += 1
        try:
            async with self.raw_writes:
                summary = await asyncio.to_thread(
                    run_backfills,
                    self.settings,
                    self.cities,
                    today - dt.timedelta(days=2),
                    today + dt.timedelta(days=1),
                    families=self.families,
                    transport=self.transport,
                )
        except (FetchIncompleteError, LockedError) as exc:
            log.warning("catch-up: %s", exc)
            return CatchUpPass(started_us, False, tickers, 0, note=f"catch-up: {exc}")
        return CatchUpPass(started_us, True, tickers, summary.requests)
