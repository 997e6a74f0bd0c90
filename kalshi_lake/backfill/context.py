"""What every part of one backfill run shares: its range, client, sink, saved state and counters."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kalshi_lake.api.client import KalshiClient
from kalshi_lake.backfill.keys import SavedState
from kalshi_lake.backfill.sink import PageSink
from kalshi_lake.cities import City, Series, family_for_ticker
from kalshi_lake.errors import PermanentError, TransientError
from kalshi_lake.log import get_logger

log = get_logger(__name__)

T = TypeVar("T")


@dataclass
class Tally:
    """Counters, phase and failures of one run: the progress display and summary read them."""

    tier_counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {"live": Counter(), "historical": Counter()}
    )
    failures: list[str] = field(default_factory=list)
    failed_units: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    events_total: int | None = None
    events_done: int = 0
    events_skipped: int = 0
    #: Events still to fetch, per series (each family's discovery sets its own).
    events_todo: dict[str, int] = field(default_factory=dict)
    markets_seen: int = 0
    phase: str = "discovering"
    #: The same counters per family (``high``, ``low``): ``events_skipped``, ``events_done``,
    #: ``markets``, ``trades``, ``candles``, ``trades_skipped``, ``pages`` (the family's answered
    #: requests). Requests that serve several families (the cutoff, ``GET /series``, a candle
    #: page shared by a day's high and low), retries and 429s are counted for the run only.
    family_counts: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, ticker: str | None, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` of the family of ``ticker`` (a series, event or market
        ticker; one the registry does not know is counted for the run only)."""
        family = family_for_ticker(ticker) if ticker else None
        if family is not None:
            self.family_counts.setdefault(family, Counter())[name] += n

    def fail(self, name: str, exc: BaseException) -> None:
        """Record a unit (or the run) that could not be done."""
        self.failed_units.append(name)
        self.failures.append(f"{name}: {exc}")


@dataclass
class RunContext:
    """One run's fixed facts and shared services, handed to discovery, walks and units."""

    city: City
    start: dt.date
    end: dt.date
    #: ``--candle-window``: "full" or "trades".
    mode: str
    run_id: str
    client: KalshiClient
    sink: PageSink
    saved: SavedState
    tally: Tally
    #: The city's series this run fetches (one per family); empty: the high series alone.
    series: tuple[Series, ...] = ()

    @property
    def all_series(self) -> tuple[Series, ...]:
        """The series this run fetches, in family order."""
        return self.series or (self.city.series("high"),)

    async def guard(self, name: str, unit: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        """Run one unit (``unit()``); a failure is recorded and does not stop the others.

        ``unit`` is a callable, not a coroutine: a guard cancelled before it starts (a sibling
        failed) then leaves no coroutine behind that was never awaited.
        """
        try:
            return True, await unit()
        except (TransientError, PermanentError) as exc:
            # Reported in the summary and the error; a log line per failure would tear the
            # progress display.
            log.info("%s failed: %s", name, exc)
            self.tally.fail(name, exc)
            return False, None


async def gather(*aws: Awaitable[Any]) -> list[Any]:
    """``asyncio.gather`` that cancels the siblings when one fails (no orphaned walks)."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
