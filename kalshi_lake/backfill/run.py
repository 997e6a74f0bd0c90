"""The backfill: discover one city's events in a date range, route, walk, and land raw pages.

Order of work (KALSHI_API sections 0, 4, 5)::

    /historical/cutoff + /series/{s}                       (concurrently; always)
    /events?series_ticker=KX..  +  /markets?series_ticker=KX..&min_close_ts=&max_close_ts=
    /historical/markets?series_ticker=KX.. (newest first, stopped past the range)
        or ?event_ticker=E per event, whichever needs fewer requests    (archived events only)
    /markets or /historical/markets?event_ticker=E          (events no listing covered)
    per event, as soon as its markets are known (live events overlap the archive listing):
        per market:  /markets/trades | /historical/trades           (cursor walks to the end;
                                                                    both when it straddles)
        live:        /series/{s}/events/{e}/candlesticks             (following adjusted_end_ts)
        historical:  /historical/markets/{t}/candlesticks            (chunks under 5,000 candles)

Every response page goes to the raw layer through :class:`~kalshi_lake.backfill.sink.PageSink`
(pages first, then the progress they prove). Listings are always re-read (they are how new events and state changes are found). Every other
request belongs to a *unit* with a key in the state store:

    trades/<ticker>     {lo, hi, final}   newest stored trade; an open market resumes at min_ts=hi
    candles/<ticker>    {hi, final}       last stored candle; an open market resumes there
    market/<ticker>     market facts and ``final`` (settled with a result)
    event/<event>       {date, markets, final}: a final event is skipped entirely
    walk/...            cursor (or window start) of an unfinished walk, with its running totals

``--refresh`` ignores all of it. A unit that fails after retries is reported, the others go on,
and the run ends with :class:`FetchIncompleteError` (exit 3) naming what is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from kalshi_lake.api.client import KalshiClient
from kalshi_lake.api.paging import CANDLE_CAP, AdjustedEndPager, ChunkPager, CursorPager
from kalshi_lake.backfill.plan import (
    CANDLE_WINDOWS,
    Cutoff,
    MarketInfo,
    candle_window,
    choose_historical_listing,
    day_start,
    epoch,
    market_tier,
    merge_span,
    parse_ts,
    trade_page_span,
    trade_tiers,
    union_window,
    with_watermark,
)
from kalshi_lake.backfill.progress import ProgressDisplay
from kalshi_lake.backfill.sink import PageSink
from kalshi_lake.cities import City, event_date
from kalshi_lake.config import Settings
from kalshi_lake.errors import (
    BadDateError,
    ClientError,
    FetchIncompleteError,
    KalshiLakeError,
    NotFoundError,
    PermanentError,
    TransientError,
    UsageError,
)
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.raw import RawPage
from kalshi_lake.lake.state import DEMO_MARKER, StateStore, new_run_id, write_run_record
from kalshi_lake.lake.storage import Lake
from kalshi_lake.log import get_logger

log = get_logger(__name__)

T = TypeVar("T")

EVENTS_LIMIT = 200
MARKETS_LIMIT = 1000
TRADES_LIMIT = 1000
#: Periods per per-market candlestick request (the API refuses more than 5,000).
HIST_CANDLE_CAP = CANDLE_CAP
#: Settlement can lag the climate day by up to a week (the ``expiration_time`` backstop).
SETTLEMENT_LAG = dt.timedelta(days=8)


@dataclass
class EventPlan:
    """One event in range and the markets found for it."""

    ticker: str
    date: dt.date
    series: str
    markets: dict[str, MarketInfo] = field(default_factory=dict)


@dataclass
class BackfillSummary:
    """What a backfill run did (also written to the run record)."""

    run_id: str
    city: str
    start: dt.date
    end: dt.date
    candle_window: str
    refresh: bool
    lake: str
    status: str = "ok"
    events: int = 0
    events_skipped: int = 0
    events_done: int = 0
    markets: int = 0
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    pages: int = 0
    files: int = 0
    bytes: int = 0
    trades: int = 0
    candles: int = 0
    by_tier: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    requests_per_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = dict(self.__dict__)
        d["start"] = self.start.isoformat()
        d["end"] = self.end.isoformat()
        return d

    def render(self) -> str:
        """A short human-readable report."""
        lines = [
            f"backfill {self.city} {self.start}..{self.end} (run {self.run_id}): {self.status}",
            f"  events    {self.events} in range: {self.events_done} fetched, "
            f"{self.events_skipped} already complete; {self.markets} markets",
            f"  requests  {self.requests:,} ({self.requests_per_s:.1f}/s over {self.elapsed_s:.1f}s), "
            f"429s {self.rate_limited}, retries {self.retries}",
            f"  landed    {self.pages:,} pages in {self.files:,} files ({self.bytes / 1e6:.1f} MB): "
            f"{self.trades:,} trades, {self.candles:,} candles",
        ]
        for tier in ("live", "historical"):
            t = self.by_tier.get(tier)
            if t:
                lines.append(
                    f"  {tier:<10}{t.get('requests', 0):>7,} requests {t.get('pages', 0):>7,} pages "
                    f"{t.get('trades', 0):>9,} trades {t.get('candles', 0):>10,} candles"
                )
        lines.extend(f"  note      {n}" for n in self.notes)
        if self.failures:
            lines.append(f"  FAILED    {len(self.failures)} unit(s) could not be fetched:")
            lines.extend(f"    - {f}" for f in self.failures[:20])
            if len(self.failures) > 20:
                lines.append(f"    ... and {len(self.failures) - 20} more (see the run record)")
            lines.append(
                "  to retry  run the same command again: finished units are skipped and "
                "unfinished walks resume from their last saved page"
            )
        return "\n".join(lines)


def resolve_range(
    city: City, start: dt.date | None, end: dt.date | None, today: dt.date | None = None
) -> tuple[dt.date, dt.date, list[str]]:
    """Default and check the event-date range; returns ``(start, end, notes)``.

    ``start`` defaults to the city's first event and ``end`` to today (UTC). A range that ends
    before the first event, or starts after it ends, is a :class:`BadDateError` (exit 2).
    """
    today = today or dt.datetime.now(dt.UTC).date()
    notes: list[str] = []
    end = end or today
    start = start or city.first_event
    if start > end:
        raise BadDateError(f"--start {start} is after --end {end}")
    if end < city.first_event:
        raise BadDateError(
            f"{city.name} has no events before {city.first_event} (its first event); "
            f"the range {start}..{end} is empty"
        )
    if start < city.first_event:
        notes.append(f"start moved from {start} to {city.first_event}, {city.name}'s first event")
        start = city.first_event
    return start, end, notes


def run_backfill(
    settings: Settings,
    city: City,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    refresh: bool = False,
    candle_window: str = "full",
    transport: httpx.AsyncBaseTransport | None = None,
) -> BackfillSummary:
    """Backfill ``city`` for event dates ``start..end`` into the raw layer of ``settings.lake``.

    Returns the :class:`BackfillSummary`. Raises :class:`FetchIncompleteError` (exit 3, with the
    summary as ``.summary``) when some units could not be fetched after retries; what was fetched
    is kept and a re-run resumes. ``transport`` replaces the network (tests).
    """
    if candle_window not in CANDLE_WINDOWS:
        raise UsageError(f"--candle-window must be one of {', '.join(CANDLE_WINDOWS)}")
    start, end, notes = resolve_range(city, start, end)
    _refuse_demo_lake(settings)
    job = _Backfill(settings, city, start, end, refresh, candle_window, transport)
    job.notes.extend(notes)
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is None:
        return asyncio.run(job.run())
    # Called from inside an event loop (a notebook): run ours in a worker thread.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, job.run()).result()


def _refuse_demo_lake(settings: Settings) -> None:
    """A lake written by ``kalshi-lake demo`` holds simulated pages: never add real ones to it."""
    host = httpx.URL(settings.api_url).host
    if host in ("127.0.0.1", "localhost", "::1"):
        return
    if Lake.from_settings(settings).exists(DEMO_MARKER):
        raise UsageError(
            f"{settings.lake} holds the simulator demo ({DEMO_MARKER}); "
            "backfill real data into another lake (--lake) or delete this one first"
        )


class _Backfill:
    """One run: owns the client, the sink, the state and the counters."""

    def __init__(
        self,
        settings: Settings,
        city: City,
        start: dt.date,
        end: dt.date,
        refresh: bool,
        mode: str,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.settings = settings
        self.city = city
        self.start = start
        self.end = end
        self.refresh = refresh
        self.mode = mode
        self.transport = transport
        self.lake = Lake(settings.lake, settings.storage_options)
        self.run_id = new_run_id()
        self.state = StateStore(self.lake, f"backfill/city={city.name}")
        self.failures: list[str] = []
        self.failed_units: list[str] = []
        self.notes: list[str] = []
        self.tier_counts: dict[str, Counter[str]] = {"live": Counter(), "historical": Counter()}
        self.events_total: int | None = None
        self.events_done = 0
        self.events_skipped = 0
        self.markets_seen = 0
        self.phase = "discovering"
        self.cutoff: Cutoff | None = None
        self._event_tasks: list[asyncio.Future[None]] = []
        self._in_flight: asyncio.Semaphore | None = None
        self.client: KalshiClient
        self.sink: PageSink

    # --- orchestration -----------------------------------------------------------------------
    async def run(self) -> BackfillSummary:
        t0 = time.monotonic()
        started_at = dt.datetime.now(dt.UTC)
        # Built first: a bad key file is a ConfigError before anything touches the lake.
        api = KalshiClient(self.settings, transport=self.transport)
        lease = Lease(
            self.lake, f"backfill/{self.city.name}", purpose=f"backfill run {self.run_id}"
        )
        await asyncio.to_thread(lease.acquire)
        await asyncio.to_thread(self.state.load)
        record: dict[str, Any] = {
            "run_id": self.run_id,
            "command": "backfill",
            "city": self.city.name,
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
        status = "failed"
        summary: BackfillSummary | None = None
        try:
            await asyncio.to_thread(write_run_record, self.lake, self.run_id, record)
            await asyncio.to_thread(self.state.compact)
            async with api as client:
                self.client = client
                self.sink = PageSink(
                    self.lake,
                    self.state,
                    run_id=self.run_id,
                    flush_pages=self.settings.flush_pages,
                    flush_seconds=self.settings.flush_seconds,
                )
                with ProgressDisplay(self.settings.progress, f"backfill {self.city.name}") as shown:
                    ticker = asyncio.create_task(self._tick(shown))
                    try:
                        try:
                            # Events start as soon as their markets are known, so the walks of
                            # live events overlap the (slow, sequential) archive listing.
                            await self._discover()
                        except (TransientError, PermanentError) as exc:
                            self._fail(
                                f"discovery of {self.city.series_ticker} events and markets", exc
                            )
                        self.phase = ""
                        await _gather(*self._event_tasks)
                    finally:
                        for task in self._event_tasks:
                            task.cancel()
                        ticker.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await ticker
                        await self.sink.close()
                        self._show(shown)
            status = "incomplete" if self.failures else "ok"
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = "interrupted"
            raise
        except KalshiLakeError as exc:
            self._fail("the run", exc)
            raise
        finally:
            summary = self._summary(status, t0)
            record.update(
                status=status,
                finished_at=dt.datetime.now(dt.UTC).isoformat(),
                summary=summary.as_dict(),
            )
            with contextlib.suppress(Exception):
                await asyncio.to_thread(write_run_record, self.lake, self.run_id, record)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.state.compact)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(lease.release)
        if self.failures:
            err = FetchIncompleteError(self._incomplete_message())
            err.summary = summary  # type: ignore[attr-defined]
            raise err
        return summary

    def _incomplete_message(self) -> str:
        names = self.failed_units
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        first = self.failures[0].split(": ", 1)[-1]
        return (
            f"{len(names)} unit(s) of {self.city.name} {self.start}..{self.end} could not be "
            f"fetched after retries: {shown} (first error: {first}). What was fetched is kept; "
            f"re-run the same command to fetch the rest (run record _state/runs/{self.run_id}.json)"
        )

    def _fail(self, name: str, exc: BaseException) -> None:
        self.failed_units.append(name)
        self.failures.append(f"{name}: {exc}")

    async def _tick(self, shown: ProgressDisplay) -> None:
        while True:
            await asyncio.sleep(0.25)
            await self.sink.tick()
            self._show(shown)

    def _show(self, shown: ProgressDisplay) -> None:
        s = self.client.stats
        shown.update(
            events_done=self.events_done + self.events_skipped,
            events_total=self.events_total,
            requests=s.sent,
            rate=s.rate(time.monotonic()),
            rate_limited=s.rate_limited,
            retries=s.retries,
            failures=len(self.failures),
            phase=self.phase,
        )

    def _summary(self, status: str, t0: float) -> BackfillSummary:
        client = getattr(self, "client", None)
        sink = getattr(self, "sink", None)
        by_tier: dict[str, dict[str, int]] = {}
        for tier, c in self.tier_counts.items():
            reqs = client.stats.by_tier.get(tier, 0) if client else 0
            if reqs or c:
                by_tier[tier] = {"requests": reqs, **{k: int(v) for k, v in c.items()}}
        return BackfillSummary(
            run_id=self.run_id,
            city=self.city.name,
            start=self.start,
            end=self.end,
            candle_window=self.mode,
            refresh=self.refresh,
            lake=self.lake.url,
            status=status,
            events=self.events_total or 0,
            events_skipped=self.events_skipped,
            events_done=self.events_done,
            markets=self.markets_seen,
            requests=client.stats.sent if client else 0,
            rate_limited=client.stats.rate_limited if client else 0,
            retries=client.stats.retries if client else 0,
            pages=sink.stats.pages if sink else 0,
            files=sink.stats.files if sink else 0,
            bytes=sink.stats.bytes if sink else 0,
            trades=sum(c["trades"] for c in self.tier_counts.values()),
            candles=sum(c["candles"] for c in self.tier_counts.values()),
            by_tier=by_tier,
            failures=list(self.failures),
            elapsed_s=round(time.monotonic() - t0, 3),
            requests_per_s=round(client.stats.rate(), 3) if client else 0.0,
            notes=list(self.notes),
        )

    def known(self, key: str) -> dict[str, Any] | None:
        """The saved record of ``key`` (None under ``--refresh``)."""
        return None if self.refresh else self.state.get(key)

    async def _guard(self, name: str, coro: Awaitable[T]) -> tuple[bool, T | None]:
        """Run one unit; a failure after retries is recorded and does not stop the others."""
        try:
            return True, await coro
        except (TransientError, PermanentError) as exc:
            # Reported in the summary and the error; a log line per failure would tear the
            # progress display.
            log.info("%s failed: %s", name, exc)
            self._fail(name, exc)
            return False, None

    # --- pages -------------------------------------------------------------------------------
    def _page(
        self,
        endpoint: str,
        tier: str,
        date: dt.date,
        resp: Any,
        page_number: int,
        *,
        cursor_in: str | None = None,
        cursor_out: str | None = None,
        series: str | None = None,
        event: str | None = None,
        market: str | None = None,
    ) -> RawPage:
        self.tier_counts[tier]["pages"] += 1
        return RawPage(
            endpoint=endpoint,
            tier=tier,
            city=self.city.name,
            date=date,
            request_path=resp.path,
            request_params=resp.params,
            body=resp.text,
            fetched_at=resp.fetched_at,
            run_id=self.run_id,
            http_status=resp.status,
            page_number=page_number,
            cursor_in=cursor_in,
            cursor_out=cursor_out,
            series_ticker=series or self.city.series_ticker,
            event_ticker=event,
            market_ticker=market,
        )

    async def _walk(
        self,
        pager: CursorPager | AdjustedEndPager | ChunkPager,
        *,
        endpoint: str,
        tier: str,
        path: str,
        expect: str,
        date: dt.date,
        key: str | None = None,
        agg: dict[str, Any] | None = None,
        on_page: Callable[[dict[str, Any]], Mapping[str, Mapping[str, Any] | None] | None]
        | None = None,
        series: str | None = None,
        event: str | None = None,
        market: str | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> dict[str, Any]:
        """Fetch every page of one walk, landing each with its checkpoint.

        ``stop`` (checked after each page) ends a listing early once it has what it needs.

        With a ``key`` the walk is resumable: a finished walk is not repeated and an unfinished
        one continues from its saved cursor (or window start). ``agg`` holds running totals that
        are saved with each checkpoint; ``on_page`` updates them and may return extra state
        updates that become durable with the page.
        """
        agg = agg if agg is not None else {}
        fresh_state = pager.checkpoint()
        resumed = False
        if key is not None:
            saved = self.known(key)
            if saved is not None:
                agg.update(saved.get("agg") or {})
                if saved.get("done"):
                    return agg
                pager.restore(saved)
                resumed = True
        while (params := pager.next_params()) is not None:
            cursor_in = getattr(pager, "cursor", None)
            try:
                resp = await self.client.get(path, params, expect=expect, tier=tier)
            except ClientError as exc:
                if resumed and cursor_in and not isinstance(exc, NotFoundError):
                    # A saved cursor can expire between runs: walk again from the start.
                    log.info("saved cursor of %s refused (%s); restarting the walk", key, exc)
                    pager.restore(fresh_state)
                    agg.clear()
                    resumed = False
                    continue
                raise
            pager.update(resp.data)
            extra = on_page(resp.data) if on_page is not None else None
            updates: dict[str, Mapping[str, Any] | None] = dict(extra or {})
            if key is not None:
                updates[key] = {**pager.checkpoint(), "agg": dict(agg)}
            cursor_out = resp.data.get("cursor") if isinstance(pager, CursorPager) else None
            page = self._page(
                endpoint,
                tier,
                date,
                resp,
                pager.page - 1,
                cursor_in=cursor_in,
                cursor_out=cursor_out,
                series=series,
                event=event,
                market=market,
            )
            await self.sink.add(page, updates)
            if stop is not None and stop():
                break
        return agg

    # --- discovery ---------------------------------------------------------------------------
    async def _discover(self) -> None:
        today = dt.datetime.now(dt.UTC).date()
        S = self.city.series_ticker

        async def fetch_cutoff() -> Cutoff:
            resp = await self.client.get(
                "/historical/cutoff", expect="market_settled_ts", tier="historical"
            )
            await self.sink.add(self._page("cutoff", "historical", today, resp, 0))
            return Cutoff.from_payload(resp.data)

        async def fetch_series() -> None:
            resp = await self.client.get(f"/series/{S}", expect="series", tier="live")
            await self.sink.add(self._page("series", "live", today, resp, 0, series=S))

        self.cutoff, _ = await _gather(fetch_cutoff(), fetch_series())
        cut = self.cutoff
        cut_date = cut.market_settled.date()

        # Events listing. All events stay on /events after archiving, but whether a min_close_ts
        # filter sees archived markets is undocumented: filter only when the whole range is live.
        events_params: dict[str, Any] = {"series_ticker": S, "limit": EVENTS_LIMIT}
        if self.start > cut_date:
            events_params["min_close_ts"] = int(epoch(day_start(self.start)))
        listed: dict[str, tuple[dt.date, str]] = {}

        def on_events(data: dict[str, Any]) -> None:
            for ev in data.get("events") or []:
                tk = ev.get("event_ticker") if isinstance(ev, dict) else None
                if not isinstance(tk, str):
                    continue
                try:
                    d = event_date(tk)
                except ValueError:
                    log.warning("skipping event with an unparseable ticker %r", tk)
                    continue
                listed[tk] = (d, str(ev.get("series_ticker") or S))

        # Live markets in range: one listing for the whole range (batched, 1,000 per page).
        plans: dict[str, EventPlan] = {}
        need_live = (
            day_start(self.end) + SETTLEMENT_LAG >= cut.market_settled and not self._all_final()
        )

        def on_markets(tier: str, only: set[str] | None = None) -> Callable[[dict[str, Any]], Any]:
            def handle(data: dict[str, Any]) -> dict[str, Any]:
                updates: dict[str, Any] = {}
                for raw in data.get("markets") or []:
                    if not isinstance(raw, dict):
                        continue
                    m = MarketInfo.from_payload(raw, tier)
                    try:
                        d = event_date(m.event_ticker)
                    except ValueError:
                        continue
                    if not self.start <= d <= self.end:
                        continue
                    if only is not None and m.event_ticker not in only:
                        continue
                    plan = plans.setdefault(
                        m.event_ticker,
                        EventPlan(m.event_ticker, d, listed.get(m.event_ticker, (d, S))[1]),
                    )
                    # The live tier wins if a market is (briefly) on both listings.
                    if m.ticker not in plan.markets or tier == "live":
                        plan.markets[m.ticker] = m
                    updates[f"market/{m.ticker}"] = m.to_state()
                return updates

            return handle

        self.phase = "listing events and markets"
        tasks: list[Awaitable[Any]] = [
            self._walk(
                CursorPager(events_params),
                endpoint="events",
                tier="live",
                path="/events",
                expect="events",
                date=today,
                on_page=lambda d: on_events(d),
            )
        ]
        if need_live:
            tasks.append(
                self._walk(
                    CursorPager(
                        {
                            "series_ticker": S,
                            "min_close_ts": int(epoch(day_start(self.start))),
                            "max_close_ts": int(epoch(self._last_close())),
                            "limit": MARKETS_LIMIT,
                        }
                    ),
                    endpoint="markets",
                    tier="live",
                    path="/markets",
                    expect="markets",
                    date=today,
                    on_page=on_markets("live"),
                )
            )
        await _gather(*tasks)

        in_range = {tk: v for tk, v in listed.items() if self.start <= v[0] <= self.end}
        for tk, (d, series) in in_range.items():
            plans.setdefault(tk, EventPlan(tk, d, series))
        for plan in plans.values():
            if plan.ticker in listed:
                plan.series = listed[plan.ticker][1]

        # Skip finished events; restore markets of unfinished ones from state when all are known.
        todo: dict[str, EventPlan] = {}
        for tk, plan in sorted(plans.items(), key=lambda kv: (kv[1].date, kv[0])):
            rec = self.known(f"event/{tk}")
            if rec and rec.get("final"):
                self.events_skipped += 1
                continue
            if not plan.markets and rec and rec.get("markets"):
                saved = [self.known(f"market/{t}") for t in rec["markets"]]
                if all(s is not None and s.get("final") for s in saved):
                    plan.markets = {s["ticker"]: MarketInfo.from_state(s) for s in saved if s}
            todo[tk] = plan

        # Events whose markets are known start at once; the rest are looked up below.
        self.events_total = len(todo) + self.events_skipped
        self._start([p for p in todo.values() if p.markets])

        # Archived events: whatever the live listing did not cover and is old enough to be archived.
        hist = [p for p in todo.values() if not p.markets and p.date < cut_date]
        asked_historical: set[str] = set()
        if hist:
            self.phase = "listing archived markets"
            n_series = sum(1 for d, _ in listed.values() if d < cut_date)
            how = choose_historical_listing(len(hist), n_series)
            if how == "series":
                handle = on_markets("historical", {p.ticker for p in hist})
                closes: dict[str, Any] = {"last": None, "ordered": True}

                def on_archive_page(data: dict[str, Any]) -> dict[str, Any]:
                    for raw in data.get("markets") or []:
                        c = parse_ts(raw.get("close_time")) if isinstance(raw, dict) else None
                        if c is None:
                            continue
                        if closes["last"] is not None and c > closes["last"]:
                            closes["ordered"] = False
                        closes["last"] = c
                    return handle(data)

                def past_range() -> bool:
                    # Archive pages come newest first (observed, not documented). Once a market
                    # closing before the range has gone by, no later page holds one of ours; if
                    # the order is ever broken, walk to the end. Any event still missing is
                    # asked for by itself below, so stopping early can never lose one.
                    last = closes["last"]
                    return (
                        bool(closes["ordered"])
                        and last is not None
                        and last < day_start(self.start)
                    )

                await self._walk(
                    CursorPager({"series_ticker": S, "limit": MARKETS_LIMIT}),
                    endpoint="markets",
                    tier="historical",
                    path="/historical/markets",
                    expect="markets",
                    date=today,
                    on_page=on_archive_page,
                    stop=past_range,
                )
            else:
                results = await _gather(
                    *(
                        self._guard(
                            f"markets of {p.ticker} (historical)",
                            self._event_markets(p, "historical", "/historical/markets", on_markets),
                        )
                        for p in hist
                    )
                )
                for p, (ok, _) in zip(hist, results, strict=True):
                    if ok:
                        asked_historical.add(p.ticker)
                    else:
                        todo.pop(p.ticker, None)
            self._start([p for p in hist if p.markets and p.ticker in todo])
        # Anything still without markets (a close time outside the listing's window, a market
        # archived between listings, an archive walk stopped early): ask for the event's markets
        # directly, the likelier tier first.
        asked: dict[str, set[str]] = {t: {"historical"} for t in asked_historical}
        paths = {"live": "/markets", "historical": "/historical/markets"}
        for attempt in (0, 1):
            batch: list[tuple[EventPlan, str]] = []
            for p in todo.values():
                if p.markets:
                    continue
                likely = ["historical", "live"] if p.date < cut_date else ["live", "historical"]
                tiers = [
                    t
                    for t in likely
                    if t not in asked.get(p.ticker, set())
                    and (t == "live" or p.date < cut_date + SETTLEMENT_LAG)
                ]
                if tiers and (attempt == 1 or not asked.get(p.ticker)):
                    batch.append((p, tiers[0]))
                    asked.setdefault(p.ticker, set()).add(tiers[0])
            if not batch:
                continue
            self.phase = "listing markets per event"
            results = await _gather(
                *(
                    self._guard(
                        f"markets of {p.ticker} ({tier})",
                        self._event_markets(p, tier, paths[tier], on_markets),
                    )
                    for p, tier in batch
                )
            )
            for (p, _), (ok, _) in zip(batch, results, strict=True):
                if not ok:
                    todo.pop(p.ticker, None)
            self._start([p for p, _ in batch if p.markets and p.ticker in todo])
        # Events that still have no markets (not listed yet) are counted, and retried next run.
        self._start([p for p in missing_markets(todo)])
        self.events_total = len(todo) + self.events_skipped

    async def _event_markets(
        self,
        plan: EventPlan,
        tier: str,
        path: str,
        on_markets: Callable[..., Callable[[dict[str, Any]], Any]],
    ) -> None:
        """One event's markets from a listing filtered by ``event_ticker`` (event-scoped page)."""
        await self._walk(
            CursorPager({"event_ticker": plan.ticker, "limit": MARKETS_LIMIT}),
            endpoint="markets",
            tier=tier,
            path=path,
            expect="markets",
            date=plan.date,
            on_page=on_markets(tier, {plan.ticker}),
            series=plan.series,
            event=plan.ticker,
        )

    def _last_close(self) -> dt.datetime:
        """Latest close of a market of ``end``'s event: the climate day ends by 08:00Z the next
        day (LA, standard time), so noon UTC covers every city while leaving out the next
        event's markets (they close a day later)."""
        return day_start(self.end + dt.timedelta(days=1)) + dt.timedelta(hours=12)

    def _all_final(self) -> bool:
        """True when the state says every date in range has a finished event."""
        if self.refresh:
            return False
        dates = set()
        for _, rec in self.state.items("event/"):
            if rec.get("final") and rec.get("date"):
                dates.add(rec["date"])
        n_days = (self.end - self.start).days + 1
        return all((self.start + dt.timedelta(days=i)).isoformat() in dates for i in range(n_days))

    # --- per event ---------------------------------------------------------------------------
    def _start(self, plans: list[EventPlan]) -> None:
        """Start fetching these events (bounded: a few events in flight per request slot)."""
        if self._in_flight is None:
            self._in_flight = asyncio.Semaphore(max(2, self.client.concurrency))
        sem = self._in_flight

        async def one(plan: EventPlan) -> None:
            async with sem:
                await self._event(plan)
                self.events_done += 1

        for plan in sorted(plans, key=lambda p: (p.date, p.ticker)):
            self._event_tasks.append(asyncio.ensure_future(one(plan)))

    async def _event(self, plan: EventPlan) -> None:
        assert self.cutoff is not None
        markets = sorted(plan.markets.values(), key=lambda m: m.ticker)
        self.markets_seen += len(markets)
        if not markets:
            log.info("event %s has no markets yet", plan.ticker)
            return
        tiers = {m.ticker: market_tier(m, self.cutoff) for m in markets}
        spans: dict[str, tuple[float | None, float | None]] = {}
        oks: list[bool] = []

        async def trades(m: MarketInfo) -> None:
            ok, span = await self._guard(f"trades {m.ticker}", self._trades(plan, m))
            oks.append(ok)
            if span is not None:
                spans[m.ticker] = span

        async def candles() -> None:
            jobs: list[Awaitable[tuple[bool, Any]]] = []
            todo = markets
            if self.mode == "trades":
                # The window comes from the trades: without them there is nothing to ask for
                # yet, and nothing may be recorded as done (the failed trades unit is reported).
                todo = [m for m in markets if m.ticker in spans]
            live = [m for m in todo if tiers[m.ticker] == "live"]
            if live:
                jobs.append(
                    self._guard(
                        f"candles {plan.ticker} (live event)",
                        self._event_candles(plan, live, spans),
                    )
                )
            for m in todo:
                if tiers[m.ticker] == "historical":
                    jobs.append(
                        self._guard(
                            f"candles {m.ticker} (historical)",
                            self._market_candles(plan, m, spans.get(m.ticker)),
                        )
                    )
            for ok, _ in await _gather(*jobs):
                oks.append(ok)

        if self.mode == "trades":
            await _gather(*(trades(m) for m in markets))
            await candles()
        else:
            await _gather(candles(), *(trades(m) for m in markets))
        final = all(oks) and all(m.is_final for m in markets)
        await self.sink.note(
            {
                f"event/{plan.ticker}": {
                    "date": plan.date.isoformat(),
                    "markets": [m.ticker for m in markets],
                    "final": final,
                }
            }
        )

    async def _trades(self, plan: EventPlan, m: MarketInfo) -> tuple[float | None, float | None]:
        """All trades of ``m`` (or those newer than the newest stored); returns their span."""
        assert self.cutoff is not None
        key = f"trades/{m.ticker}"
        rec = self.known(key) or {}
        if rec.get("final"):
            return rec.get("lo"), rec.get("hi")
        since = rec.get("hi")
        # Whole seconds, inclusive: trades in the newest stored second come again (deduped later)
        # rather than any later trade in that second being missed.
        min_ts = int(since) if since is not None else None
        span: tuple[float | None, float | None] = (rec.get("lo"), rec.get("hi"))
        walk_keys = []

        async def walk(tier: str) -> dict[str, Any]:
            params: dict[str, Any] = {"ticker": m.ticker, "limit": TRADES_LIMIT}
            if min_ts is not None:
                params["min_ts"] = min_ts
            wkey = f"walk/trades/{tier}/{m.ticker}/{min_ts or 0}"
            walk_keys.append(wkey)
            agg: dict[str, Any] = {}

            def on_page(data: dict[str, Any]) -> None:
                lo, hi, n = trade_page_span(data.get("trades") or [])
                agg["lo"], agg["hi"] = merge_span((agg.get("lo"), agg.get("hi")), (lo, hi))
                agg["n"] = agg.get("n", 0) + n
                self.tier_counts[tier]["trades"] += n

            return await self._walk(
                CursorPager(params),
                endpoint="trades",
                tier=tier,
                path="/historical/trades" if tier == "historical" else "/markets/trades",
                expect="trades",
                date=plan.date,
                key=wkey,
                agg=agg,
                on_page=on_page,
                series=plan.series,
                event=plan.ticker,
                market=m.ticker,
            )

        for agg in await _gather(*(walk(t) for t in trade_tiers(m, self.cutoff, since))):
            span = merge_span(span, (agg.get("lo"), agg.get("hi")))
        updates: dict[str, Mapping[str, Any] | None] = {k: None for k in walk_keys}
        updates[key] = {"lo": span[0], "hi": span[1], "final": m.trading_over}
        await self.sink.note(updates)
        return span

    def _window(
        self, m: MarketInfo, span: tuple[float | None, float | None] | None
    ) -> tuple[int, int] | None:
        lo, hi = span if span is not None else (None, None)
        if self.mode == "trades" and span is None:
            rec = self.known(f"trades/{m.ticker}") or {}
            lo, hi = rec.get("lo"), rec.get("hi")
        return candle_window(m, self.mode, lo, hi)

    async def _event_candles(
        self,
        plan: EventPlan,
        markets: list[MarketInfo],
        spans: dict[str, tuple[float | None, float | None]],
    ) -> None:
        """Live tier: the event candlestick endpoint over the union of the markets' windows."""
        windows: dict[str, tuple[int, int] | None] = {}
        done_now: dict[str, Mapping[str, Any] | None] = {}
        for m in markets:
            rec = self.known(f"candles/{m.ticker}") or {}
            if rec.get("final"):
                continue
            w = with_watermark(self._window(m, spans.get(m.ticker)), rec.get("hi"))
            if w is None:
                done_now[f"candles/{m.ticker}"] = {"hi": rec.get("hi"), "final": m.trading_over}
            else:
                windows[m.ticker] = w
        window = union_window(windows.values())
        if window is not None:
            key = f"walk/ecandles/{plan.ticker}/{window[0]}-{window[1]}"
            agg: dict[str, Any] = {}

            def on_page(data: dict[str, Any]) -> None:
                per_market = data.get("market_candlesticks") or []
                self._tally_candles(agg, [c for cs in per_market for c in cs or []], "live")

            try:
                await self._walk(
                    AdjustedEndPager(window[0], window[1]),
                    endpoint="event_candlesticks",
                    tier="live",
                    path=f"/series/{plan.series}/events/{plan.ticker}/candlesticks",
                    expect="market_candlesticks",
                    date=plan.date,
                    key=key,
                    agg=agg,
                    on_page=on_page,
                    series=plan.series,
                    event=plan.ticker,
                )
            except NotFoundError:
                # The event's markets were archived since they were listed: use the historical tier.
                log.info(
                    "live candles of %s gone; fetching them from the historical tier", plan.ticker
                )
                for m in markets:
                    if m.ticker in windows:
                        await self._market_candles(plan, m, spans.get(m.ticker))
                return
            done_now[key] = None
            for t in windows:
                m = plan.markets[t]
                prev = (self.known(f"candles/{t}") or {}).get("hi")
                hi = max((x for x in (agg.get("hi"), prev) if x is not None), default=None)
                done_now[f"candles/{t}"] = {"hi": hi, "final": m.trading_over}
        if done_now:
            await self.sink.note(done_now)

    def _tally_candles(self, agg: dict[str, Any], candles: list[Any], tier: str) -> None:
        """Count a page's candles and raise the walk's watermark to its newest period end."""
        ends: list[int] = [
            e
            for c in candles
            if isinstance(c, dict) and isinstance(e := c.get("end_period_ts"), int)
        ]
        if agg.get("hi") is not None:
            ends.append(agg["hi"])
        agg["hi"] = max(ends, default=None)
        agg["n"] = agg.get("n", 0) + len(candles)
        self.tier_counts[tier]["candles"] += len(candles)

    async def _market_candles(
        self, plan: EventPlan, m: MarketInfo, span: tuple[float | None, float | None] | None
    ) -> None:
        """Historical tier: per-market candlesticks in chunks under the 5,000-candle cap."""
        rec = self.known(f"candles/{m.ticker}") or {}
        if rec.get("final"):
            return
        window = with_watermark(self._window(m, span), rec.get("hi"))
        updates: dict[str, Mapping[str, Any] | None] = {}
        hi = rec.get("hi")
        if window is not None:
            key = f"walk/hcandles/{m.ticker}/{window[0]}-{window[1]}"
            agg: dict[str, Any] = {}

            def on_page(data: dict[str, Any]) -> None:
                self._tally_candles(agg, data.get("candlesticks") or [], "historical")

            await self._walk(
                ChunkPager(window[0], window[1], cap=HIST_CANDLE_CAP),
                endpoint="candlesticks",
                tier="historical",
                path=f"/historical/markets/{m.ticker}/candlesticks",
                expect="candlesticks",
                date=plan.date,
                key=key,
                agg=agg,
                on_page=on_page,
                series=plan.series,
                event=plan.ticker,
                market=m.ticker,
            )
            updates[key] = None
            hi = max((x for x in (agg.get("hi"), hi) if x is not None), default=None)
        updates[f"candles/{m.ticker}"] = {"hi": hi, "final": m.trading_over}
        await self.sink.note(updates)


def missing_markets(plans: Mapping[str, EventPlan]) -> list[EventPlan]:
    """Plans for which no market was found."""
    return [p for p in plans.values() if not p.markets]


async def _gather(*aws: Awaitable[Any]) -> list[Any]:
    """``asyncio.gather`` that cancels the siblings when one fails (no orphaned walks)."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
