"""The backfill run: lease, client, sink, run record and summary around discovery and the units.

:func:`run_backfill` discovers one city's events in a date range
(:mod:`~kalshi_lake.backfill.discover`) and fetches each event's trades and candles as soon as
its markets are known (:mod:`~kalshi_lake.backfill.units`), every request through one walk engine
(:mod:`~kalshi_lake.backfill.walk`). Every response page goes to the raw layer through
:class:`~kalshi_lake.backfill.sink.PageSink` (pages first, then the progress they prove, under
the state keys of :mod:`~kalshi_lake.backfill.keys`); ``--refresh`` ignores saved progress.

The run holds the city's lease and checks it (:meth:`Lease.ensure`) before every durable
commit: a run paused past the lease's time to live, whose lease another worker took over, stops
with :class:`LockedError` (exit 2) before writing anything more. A unit that fails after retries
is reported, the others go on, and the run ends with :class:`FetchIncompleteError` (exit 3)
carrying its :class:`BackfillSummary`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any, TypeVar

import httpx

from kalshi_lake.api.client import ClientStats, KalshiClient
from kalshi_lake.backfill.context import RunContext, Tally, gather
from kalshi_lake.backfill.discover import (
    Discovery,
    EventPlan,
    fetch_reference,
    unregistered_series,
)
from kalshi_lake.backfill.keys import SavedState
from kalshi_lake.backfill.plan import CANDLE_WINDOWS
from kalshi_lake.backfill.progress import ProgressDisplay, ProgressRow
from kalshi_lake.backfill.sink import PageSink
from kalshi_lake.backfill.summary import BackfillSummary, summarize
from kalshi_lake.backfill.units import EventUnits
from kalshi_lake.cities import City, Series
from kalshi_lake.config import Settings
from kalshi_lake.errors import (
    ApiUnreachableError,
    BadDateError,
    FetchIncompleteError,
    KalshiLakeError,
    LockedError,
    PermanentError,
    StorageError,
    TransientError,
    UsageError,
)
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.raw import page_endpoints
from kalshi_lake.lake.state import (
    DEMO_MARKER,
    StateStore,
    close_abandoned_runs,
    new_run_id,
    write_run_record,
)
from kalshi_lake.lake.storage import Lake
from kalshi_lake.log import get_logger

log = get_logger(__name__)

T = TypeVar("T")

__all__ = ["BackfillSummary", "resolve_range", "run_backfill"]


def resolve_range(
    city: City,
    start: dt.date | None,
    end: dt.date | None,
    today: dt.date | None = None,
    *,
    first_event: dt.date | None = None,
) -> tuple[dt.date, dt.date, list[str]]:
    """Default and check the event-date range; returns ``(start, end, notes)``.

    ``start`` defaults to the first event (``first_event``: of the series fetched; the city's
    high series by default) and ``end`` to today (UTC). A range that ends before the first
    event, or starts after it ends, is a :class:`BadDateError` (exit 2).
    """
    today = today or dt.datetime.now(dt.UTC).date()
    first = first_event or city.first_event
    notes: list[str] = []
    end = end or today
    start = start or first
    if start > end:
        raise BadDateError(f"--start {start} is after --end {end}")
    if end < first:
        raise BadDateError(
            f"{city.name} has no events before {first} (its first event); "
            f"the range {start}..{end} is empty"
        )
    if start < first:
        notes.append(f"start moved from {start} to {first}, {city.name}'s first event")
        start = first
    return start, end, notes


def resolve_series(city: City, families: Sequence[str] | None) -> tuple[Series, ...]:
    """The city's series of ``families`` (None: every family it has), in family order.

    A family that does not exist, or that the city does not have, is an
    :class:`~kalshi_lake.errors.UnknownFamilyError` (exit 2) naming the valid ones.
    """
    if families is None:
        return tuple(city.families.values())
    asked = {f for f in families}
    for f in asked:
        city.series(f)  # raises for an unknown family or one the city lacks
    return tuple(s for f, s in city.families.items() if f in asked)


def run_backfill(
    settings: Settings,
    city: City,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    families: Sequence[str] | None = None,
    refresh: bool = False,
    candle_window: str = "full",
    transport: httpx.AsyncBaseTransport | None = None,
) -> BackfillSummary:
    """Backfill ``city`` for event dates ``start..end`` into the raw layer of ``settings.lake``.

    ``families``: which of the city's series to fetch (``high``, ``low``); None: every family
    the city has. Each family's events are discovered from its own series; the raw layout is
    the same for all (the ``series_ticker`` column tells them apart).

    Returns the :class:`BackfillSummary`. Raises :class:`FetchIncompleteError` (exit 3, carrying
    the summary) when some units could not be fetched after retries, or the API could not be
    reached at all; what was fetched is kept and a re-run resumes. Raises :class:`LockedError`
    (exit 2) when another process holds or took over the city's lease. ``transport`` replaces
    the network (tests).
    """
    if candle_window not in CANDLE_WINDOWS:
        raise UsageError(f"--candle-window must be one of {', '.join(CANDLE_WINDOWS)}")
    series = resolve_series(city, families)
    first = min(s.first_event for s in series)
    start, end, notes = resolve_range(city, start, end, first_event=first)
    refuse_demo_lake(settings)
    job = _Run(settings, city, start, end, refresh, candle_window, transport, series)
    job.tally.notes.extend(notes)
    return run_sync(job.run())


async def registry_note(client: KalshiClient) -> str | None:
    """The summary warning naming temperature series ``GET /series`` lists that the registry
    lacks (None: it lacks none); a failed read is a warning too, never a failed run."""
    try:
        missing = await unregistered_series(client)
    except (TransientError, PermanentError, ApiUnreachableError) as exc:
        return f"warning: could not compare the registry with GET /series: {exc}"
    if not missing:
        return None
    return (
        "warning: GET /series lists temperature series the city registry lacks: "
        f"{', '.join(missing)} (kalshi-lake cities shows the registry)"
    )


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end, also when called from inside an event loop (a notebook)."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is None:
        return asyncio.run(coro)
    # Called from inside an event loop: run ours in a worker thread.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def refuse_demo_lake(settings: Settings) -> None:
    """A lake written by ``kalshi-lake demo`` holds simulated pages: never add real ones to it."""
    host = httpx.URL(settings.api_url).host
    if host in ("127.0.0.1", "localhost", "::1"):
        return
    if Lake.of(settings).exists(DEMO_MARKER):
        raise UsageError(
            f"{settings.lake} holds the simulator demo ({DEMO_MARKER}); "
            "backfill real data into another lake (--lake) or delete this one first"
        )


class _Run:
    """One run: holds the lease, the client, the sink and the counters."""

    def __init__(
        self,
        settings: Settings,
        city: City,
        start: dt.date,
        end: dt.date,
        refresh: bool,
        mode: str,
        transport: httpx.AsyncBaseTransport | None,
        series: tuple[Series, ...] = (),
    ) -> None:
        self.settings = settings
        self.city = city
        self.series = series or tuple(city.families.values())
        self.start = start
        self.end = end
        self.refresh = refresh
        self.mode = mode
        self.transport = transport
        self.lake = Lake.of(settings)
        self.run_id = new_run_id()
        self.state = StateStore(self.lake, f"backfill/city={city.name}")
        self.lease = Lease(
            self.lake,
            f"backfill/{city.name}",
            ttl_s=settings.lease_ttl_s,
            purpose=f"backfill run {self.run_id}",
        )
        self.tally = Tally()
        self.client: KalshiClient | None = None
        #: This city's share of the client's counters when the client is shared (else None:
        #: the client's own counters are this city's).
        self.own_stats: ClientStats | None = None
        self.sink: PageSink | None = None
        self._event_tasks: list[asyncio.Future[None]] = []
        #: Compare the registry with ``GET /series`` at the end (a run of several cities does
        #: it once for all of them instead).
        self.check_registry = True
        self._in_flight: asyncio.Semaphore | None = None

    async def run(
        self, shared: KalshiClient | None = None, row: ProgressRow | None = None
    ) -> BackfillSummary:
        """Lease, run record, fetch, summary; raises as :func:`run_backfill` documents.

        ``shared``: a client already open that other cities' runs use too (its slots, limiter
        and retry budget are shared); ``row``: where this city's progress is shown then. Without
        them the run opens its own client and progress display.
        """
        t0 = time.monotonic()
        started_at = dt.datetime.now(dt.UTC)
        # Built first: a bad key file is a ConfigError before anything touches the lake.
        api = shared or KalshiClient(self.settings, transport=self.transport)
        await asyncio.to_thread(self.lease.acquire)
        held_since = time.time()
        await asyncio.to_thread(self.state.load)
        record = self._record(started_at)
        status = "failed"
        unreachable: ApiUnreachableError | None = None
        storage: StorageError | None = None
        try:
            await self._durably(write_run_record, self.lake, self.run_id, record)
            await self._durably(self._close_leftovers, held_since)
            await self._durably(self.state.compact)
            opened = contextlib.nullcontext(shared) if shared is not None else api
            async with opened as client:
                assert client is not None
                self.client = client
                self.sink = PageSink(
                    self.lake,
                    self.state,
                    run_id=self.run_id,
                    flush_pages=self.settings.flush_pages,
                    flush_seconds=self.settings.flush_seconds,
                    before_commit=self.lease.ensure,
                )
                ctx = RunContext(
                    city=self.city,
                    start=self.start,
                    end=self.end,
                    mode=self.mode,
                    run_id=self.run_id,
                    client=client,
                    sink=self.sink,
                    saved=SavedState(self.state, self.refresh),
                    tally=self.tally,
                    series=self.series,
                )
                if row is not None:
                    await self._fetch(ctx, row)
                else:
                    with ProgressDisplay(
                        self.settings.progress,
                        f"backfill {self.city.name}",
                        interval_s=self.settings.progress_interval_s,
                    ) as shown:
                        await self._fetch(ctx, shown)
            status = "incomplete" if self.tally.failures else "ok"
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = "interrupted"
            raise
        except ApiUnreachableError as exc:
            self.tally.fail("the run", exc)
            unreachable = exc
        except StorageError as exc:
            # Disk full or unwritable mid-run: the summary says what was kept (the run record
            # says "failed" if it can still be written).
            self.tally.fail("the run", exc)
            storage = exc
        except KalshiLakeError as exc:
            self.tally.fail("the run", exc)
            raise
        finally:
            summary = self._summary(status, t0)
            record.update(
                status=status,
                finished_at=dt.datetime.now(dt.UTC).isoformat(),
                summary=summary.as_dict(),
            )
            lost = await self._finish(record)
        if lost is not None:
            raise lost
        if unreachable is not None:
            raise FetchIncompleteError(str(unreachable), summary) from unreachable
        if storage is not None:
            raise FetchIncompleteError(
                f"{storage}. What was written before is kept; free space or fix the folder, "
                "then re-run the same command to fetch the rest",
                summary,
            ) from storage
        if self.tally.failures:
            raise FetchIncompleteError(summary.incomplete_message(self.tally.failed_units), summary)
        return summary

    async def _finish(self, record: dict[str, Any]) -> LockedError | None:
        """Close the run record, compact the state and release the lease, each best effort.

        Returns the :class:`LockedError` if the lease turned out lost (the run was paused past
        it): nothing more is written then, the lake belongs to the new holder.
        """
        lost: LockedError | None = None
        closing: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
            (write_run_record, (self.lake, self.run_id, record)),
            (self.state.compact, ()),
        ]
        for write, args in closing:
            try:
                await self._durably(write, *args)
            except LockedError as exc:
                lost = exc
                break
            except Exception:
                pass
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.lease.release)
        return lost

    def _close_leftovers(self, held_since: float) -> None:
        """Clear what killed runs of this city left behind (we hold its lease, so they are over).

        Their run records still say "running": they are marked "killed". Their raw temp files
        (a page batch cut off before its rename) are deleted when they predate our lease. Best
        effort: a failure here is logged and the run goes on.
        """
        heard: dict[str, dt.datetime] = {}
        prev = self.lease.taken_over
        if prev is not None and prev.purpose.startswith("backfill run "):
            heard[prev.purpose.removeprefix("backfill run ")] = prev.renewed
        try:
            marked = close_abandoned_runs(
                self.lake,
                command="backfill",
                city=self.city.name,
                current_run_id=self.run_id,
                last_heard=heard,
            )
            swept = sum(
                self.lake.remove_stale_temp_files(
                    f"raw/{endpoint}/city={self.city.name}", before=held_since
                )
                for endpoint in page_endpoints(self.lake)
            )
        except OSError as exc:
            log.warning("could not clear what earlier runs left behind: %s", exc)
            return
        if marked:
            self.tally.notes.append(
                f"earlier run(s) {', '.join(marked)} ended without closing their record: "
                "marked killed"
            )
        if swept:
            log.info("removed %d temp file(s) left under raw/ by killed runs", swept)

    async def _fetch(self, ctx: RunContext, shown: ProgressDisplay | ProgressRow) -> None:
        """Discovery, then every event started along the way, with the progress display ticking."""
        ticker = asyncio.create_task(self._tick(ctx, shown))
        try:
            try:
                cutoff, failed = await fetch_reference(ctx)
            except (TransientError, PermanentError) as exc:
                # Without the archive cutoff no family can be routed: the run's own failure.
                self.tally.fail(f"discovery of {self.city.name}'s archive cutoff", exc)
            else:
                units = EventUnits(ctx, cutoff)
                start = _FirstWave(ctx.all_series, lambda plans: self._start(units, plans))

                async def discover(series: Series) -> None:
                    # Events start as soon as their markets are known, so the walks of live
                    # events overlap the (slow, sequential) archive listing. One family's
                    # failed discovery (its series record included) does not stop the other's.
                    name = f"discovery of {series.ticker} events and markets"
                    if series.ticker in failed:
                        self.tally.fail(name, failed[series.ticker])
                        start.gone(series)
                        return
                    found = Discovery(ctx, cutoff, partial(start, series), series)
                    try:
                        await found.run()
                    except (TransientError, PermanentError) as exc:
                        self.tally.fail(name, exc)
                    finally:
                        start.gone(series)

                await gather(*(discover(s) for s in ctx.all_series))
            self.tally.phase = ""
            await gather(*self._event_tasks)
            # Once per run, after the data: the request neither competes with discovery for
            # the rate limit nor shifts anything a run fetches.
            if self.check_registry:
                note = await registry_note(ctx.client)
                if note is not None:
                    self.tally.notes.append(note)
        finally:
            for task in self._event_tasks:
                task.cancel()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await ctx.sink.close()
            self._show(ctx, shown)

    def _start(self, units: EventUnits, plans: list[EventPlan]) -> None:
        """Start fetching these events (bounded: a few events in flight per request slot).

        The events of one day (a city's high and low) go together, so their live candles can
        share batch requests (:meth:`EventUnits.events`).
        """
        if self._in_flight is None:
            assert self.client is not None
            self._in_flight = asyncio.Semaphore(max(2, self.client.concurrency))
        sem = self._in_flight

        async def day(group: list[EventPlan]) -> None:
            async with sem:
                await units.events(group)
                for plan in group:
                    self.tally.events_done += 1
                    self.tally.count(plan.ticker, "events_done")

        by_day: dict[dt.date, list[EventPlan]] = {}
        for plan in sorted(plans, key=lambda p: (p.date, p.ticker)):
            by_day.setdefault(plan.date, []).append(plan)
        for group in by_day.values():
            self._event_tasks.append(asyncio.ensure_future(day(group)))

    async def _durably(self, write: Callable[..., Any], *args: Any) -> None:
        """Run a durable write in a thread, once the lease is known to be still ours."""

        def checked() -> None:
            self.lease.ensure()
            write(*args)

        await asyncio.to_thread(checked)

    def _record(self, started_at: dt.datetime) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "command": "backfill",
            "city": self.city.name,
            "families": [s.family for s in self.series],
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "candle_window": self.mode,
            "refresh": self.refresh,
            "api_url": self.settings.api_url,
            "rate": self.settings.rate,
            "concurrency": self.settings.concurrency,
            "signed": self.settings.signed,
            "started_at": started_at.isoformat(),
            "status": "running",
        }

    async def _tick(self, ctx: RunContext, shown: ProgressDisplay | ProgressRow) -> None:
        while True:
            await asyncio.sleep(0.25)
            await ctx.sink.tick()
            self._show(ctx, shown)

    def _stats(self) -> ClientStats | None:
        """This city's request counters (its share of a shared client)."""
        if self.own_stats is not None:
            return self.own_stats
        return self.client.stats if self.client is not None else None

    def _show(self, ctx: RunContext, shown: ProgressDisplay | ProgressRow) -> None:
        s = self._stats() or ctx.client.stats
        t = self.tally
        shown.update(
            events_done=t.events_done,
            events_skipped=t.events_skipped,
            events_total=t.events_total,
            requests=s.sent,
            rate=s.rate(time.monotonic()),
            rate_limited=s.rate_limited,
            retries=s.retries,
            failures=len(t.failures),
            phase=t.phase,
        )

    def _summary(self, status: str, t0: float) -> BackfillSummary:
        base = BackfillSummary(
            run_id=self.run_id,
            city=self.city.name,
            start=self.start,
            end=self.end,
            candle_window=self.mode,
            refresh=self.refresh,
            lake=self.lake.url,
            status=status,
            families=[s.family for s in self.series],
        )
        client = self._stats()
        sink = self.sink.stats if self.sink is not None else None
        return summarize(base, self.tally, client, sink, time.monotonic() - t0)


class _FirstWave:
    """Starts events as each family's discovery finds them, except the first wave: the events
    every family's discovery can start at once (their markets on the live listing) are held
    until each family has found its own (or failed), then started together, so a day's high
    and low events go together (:meth:`_Run._start`)."""

    def __init__(self, series: Sequence[Series], start: Callable[[list[EventPlan]], None]) -> None:
        self.start = start
        self.waiting = {s.ticker for s in series}
        self.held: list[EventPlan] = []

    def __call__(self, series: Series, plans: list[EventPlan]) -> None:
        if series.ticker in self.waiting:
            self.held.extend(plans)
            self.gone(series)
        else:
            self.start(plans)

    def gone(self, series: Series) -> None:
        """``series`` has nothing more for the first wave (found it, failed or ended)."""
        self.waiting.discard(series.ticker)
        if not self.waiting and self.held:
            held, self.held = self.held, []
            self.start(held)
