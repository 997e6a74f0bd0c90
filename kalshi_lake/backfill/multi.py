"""A backfill of several cities in one process: one client, one rate limiter, cities interleaved.

:func:`run_backfills` runs each city's run (:mod:`~kalshi_lake.backfill.run`) as a concurrent
task over ONE :class:`~kalshi_lake.api.client.KalshiClient`: every city's requests wait for the
same concurrency slots and the same token bucket, so while one city lists its archive (slow and
sequential) the others' walks keep the limiter busy, and the total rate is the configured one
whatever the number of cities. Each city keeps what makes it resumable on its own: its lease
(``backfill/<city>``), its saved state, its run record and its summary. A city's request figures
are its share of the shared client's (see :data:`~kalshi_lake.api.client.ALSO_COUNT`).

One city's failure does not stop the others. At the end:

- some city has units it could not fetch (or its run failed): :class:`FetchIncompleteError`
  (exit 3) naming the cities and units missing, carrying the :class:`CitiesSummary`; the same
  command resumes them (finished cities are skipped in an instant);
- otherwise the :class:`CitiesSummary` is returned; cities whose lease another worker holds
  were skipped and are listed in its ``locked`` (the command line then exits 2, like a
  one-city backfill whose lease is held).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Sequence

import httpx

from kalshi_lake.api.client import ALSO_COUNT, ClientStats, KalshiClient
from kalshi_lake.backfill.plan import CANDLE_WINDOWS
from kalshi_lake.backfill.progress import ProgressDisplay, ProgressRow

# The one-city run is the unit here; it stays private to the backfill package.
from kalshi_lake.backfill.run import (
    _Run,
    refuse_demo_lake,
    registry_note,
    resolve_range,
    run_sync,
)
from kalshi_lake.backfill.summary import BackfillSummary, CitiesSummary
from kalshi_lake.cities import City, check_family
from kalshi_lake.config import Settings
from kalshi_lake.errors import (
    ApiUnreachableError,
    BadDateError,
    FetchIncompleteError,
    KalshiLakeError,
    LockedError,
    UsageError,
)

__all__ = ["run_backfills"]


def run_backfills(
    settings: Settings,
    cities: Sequence[City],
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    families: Sequence[str] | None = None,
    refresh: bool = False,
    candle_window: str = "full",
    transport: httpx.AsyncBaseTransport | None = None,
) -> CitiesSummary:
    """Backfill every city of ``cities`` (duplicates dropped) for ``start..end`` in one process.

    ``start`` defaults to each city's first event; a city with no event in the range is skipped
    with a note (a :class:`BadDateError` when that leaves none). ``families``: the series
    families to fetch (None: every family each city has); a city with none of them is skipped
    with a note, and an unknown family name is an :class:`UnknownFamilyError` (exit 2). Raises
    :class:`FetchIncompleteError` (exit 3) when some city's data could not all be fetched, after
    every other city ran to its end.
    """
    if candle_window not in CANDLE_WINDOWS:
        raise UsageError(f"--candle-window must be one of {', '.join(CANDLE_WINDOWS)}")
    if families is not None:
        for f in families:
            check_family(f)
    unique = list({c.name: c for c in cities}.values())
    if not unique:
        raise UsageError("no city to backfill")
    refuse_demo_lake(settings)
    jobs: list[_Run] = []
    skipped: dict[str, str] = {}
    for city in unique:
        series = tuple(s for f, s in city.families.items() if families is None or f in families)
        if not series:
            skipped[city.name] = f"no {'/'.join(families or ())} series"
            continue
        try:
            first = min(s.first_event for s in series)
            c_start, c_end, notes = resolve_range(city, start, end, first_event=first)
        except BadDateError as exc:
            if start is not None and end is not None and start > end:
                raise
            skipped[city.name] = f"no events in range ({exc})"
            continue
        job = _Run(settings, city, c_start, c_end, refresh, candle_window, transport, series)
        job.tally.notes.extend(notes)
        job.check_registry = False  # once for every city, by the fleet
        jobs.append(job)
    if not jobs:
        raise BadDateError(
            f"none of {', '.join(c.name for c in unique)} has events in the range: "
            + "; ".join(skipped.values())
        )
    fleet = _Fleet(settings, [c.name for c in unique], jobs, skipped, transport)
    return run_sync(fleet.run())


class _Fleet:
    """The cities' runs over one client, one progress display and one summary."""

    def __init__(
        self,
        settings: Settings,
        names: list[str],
        jobs: list[_Run],
        skipped: dict[str, str],
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.transport = transport
        self.summary = CitiesSummary(cities=names, lake=jobs[0].lake.url, skipped=dict(skipped))

    async def run(self) -> CitiesSummary:
        """Every city's run, concurrently; the outcome as :func:`run_backfills` documents."""
        t0 = time.monotonic()
        # Built first: a bad key file is a ConfigError before any city's lease is taken.
        api = KalshiClient(self.settings, transport=self.transport)
        summary = self.summary
        async with api as client:
            with ProgressDisplay(
                self.settings.progress,
                f"backfill {len(self.jobs)} cities",
                interval_s=self.settings.progress_interval_s,
            ) as shown:
                rows = [shown.row(f"  {job.city.name}") for job in self.jobs]
                ticker = asyncio.create_task(self._tick(client, shown))
                try:
                    outcomes = await asyncio.gather(
                        *(
                            self._city(job, client, row)
                            for job, row in zip(self.jobs, rows, strict=True)
                        ),
                        return_exceptions=True,
                    )
                    # Once for the run, after every city's data (one request, one warning);
                    # not when the API could not be reached (each city said so already).
                    if not any(_unreachable(o) for o in outcomes):
                        note = await registry_note(client)
                        if note is not None:
                            summary.notes.append(note)
                finally:
                    ticker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ticker
                    self._show_total(client, shown)
        bug: BaseException | None = None
        for job, outcome in zip(self.jobs, outcomes, strict=True):
            name = job.city.name
            if isinstance(outcome, BackfillSummary):
                summary.runs.append(outcome)
            elif isinstance(outcome, FetchIncompleteError) and isinstance(
                outcome.summary, BackfillSummary
            ):
                summary.runs.append(outcome.summary)
            elif isinstance(outcome, LockedError):
                summary.locked.append(name)
                summary.skipped[name] = str(outcome)
            elif isinstance(outcome, KalshiLakeError):
                summary.errors[name] = str(outcome)
            elif isinstance(outcome, BaseException):
                bug = bug or outcome
        stats = client.stats
        summary.requests = stats.sent
        summary.rate_limited = stats.rate_limited
        summary.retries = stats.retries
        summary.elapsed_s = round(time.monotonic() - t0, 3)
        summary.requests_per_s = round(stats.rate(), 3)
        if bug is not None:
            raise bug
        if summary.incomplete or summary.errors:
            summary.status = "incomplete"
            raise FetchIncompleteError(summary.missing_message(), summary)
        summary.status = "locked" if summary.locked else "ok"
        return summary

    async def _city(self, job: _Run, client: KalshiClient, row: ProgressRow) -> BackfillSummary:
        """One city's run over the shared client, its requests also counted as its own."""
        job.own_stats = ClientStats()
        # Set inside this task only: the city's walks (tasks started from here) inherit it.
        ALSO_COUNT.set(job.own_stats)
        return await job.run(client, row)

    async def _tick(self, client: KalshiClient, shown: ProgressDisplay) -> None:
        while True:
            await asyncio.sleep(0.25)
            self._show_total(client, shown)

    def _show_total(self, client: KalshiClient, shown: ProgressDisplay) -> None:
        s = client.stats
        tallies = [job.tally for job in self.jobs]
        totals = [t.events_total for t in tallies]
        shown.update(
            events_done=sum(t.events_done for t in tallies),
            events_skipped=sum(t.events_skipped for t in tallies),
            events_total=None if None in totals else sum(t or 0 for t in totals),
            requests=s.sent,
            rate=s.rate(time.monotonic()),
            rate_limited=s.rate_limited,
            retries=s.retries,
            failures=sum(len(t.failures) for t in tallies),
        )


def _unreachable(outcome: object) -> bool:
    """A city's outcome that says the API could not be reached at all."""
    return isinstance(outcome, ApiUnreachableError) or (
        isinstance(outcome, BaseException) and isinstance(outcome.__cause__, ApiUnreachableError)
    )
