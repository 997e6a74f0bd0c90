"""Discovery: which events of the range exist and what their markets are, phase by phase.

1. :func:`fetch_reference`: ``/historical/cutoff`` and ``/series/{s}`` of every series of the
   run, concurrently, always. All answering 404 means the API base URL is wrong: a
   :class:`UsageError` (exit 2).

One :class:`Discovery` per series (family) of the city walks phases 2 to 5 for that series.
2. :meth:`Discovery.list_events_and_live_markets`: ``/events?series_ticker=`` (stopped once
   past the range while its pages come newest first) and, unless the range is all archived or
   all done, ``/markets?series_ticker=&min_close_ts=&max_close_ts=``.
3. :meth:`Discovery.plan_events`: skip finished events; restore the markets of unfinished ones
   from state when every one of them is final. Events whose markets are known start at once.
4. :meth:`Discovery.list_archived_markets`: archived events via ``/historical/markets``, one
   series-wide walk (newest first, stopped past the range) or one request per event, whichever
   needs fewer requests.
5. :meth:`Discovery.list_markets_per_event`: events still without markets are asked for by
   ``event_ticker``, the likelier tier first, then the other.

Listings are always re-read: they are how new events and state changes are found.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kalshi_lake.api.client import ApiResponse, KalshiClient
from kalshi_lake.api.paging import CursorPager
from kalshi_lake.backfill.context import RunContext, gather
from kalshi_lake.backfill.keys import market_key
from kalshi_lake.backfill.plan import (
    Cutoff,
    MarketInfo,
    choose_historical_listing,
    day_start,
    epoch,
    parse_ts,
)
from kalshi_lake.backfill.walk import OnPage, WalkSpec, fetch_one, walk
from kalshi_lake.cities import Series, event_date, family_prefixes
from kalshi_lake.errors import NotFoundError, PermanentError, TransientError, UsageError
from kalshi_lake.log import get_logger

log = get_logger(__name__)

EVENTS_LIMIT = 200
MARKETS_LIMIT = 1000
#: Settlement can lag the climate day by up to a week (the ``expiration_time`` backstop).
SETTLEMENT_LAG = dt.timedelta(days=8)
#: The ``GET /series`` category the registry is compared with, and a bound on its pages.
WEATHER_CATEGORY = "Climate and Weather"
SERIES_PAGES_MAX = 50
#: Series ticker prefixes of daily temperature series (highs, lows), registered or not.
TEMPERATURE_PREFIXES = ("KXHIGH", "KXLOW")
#: Listing path of each tier.
MARKETS_PATHS = {"live": "/markets", "historical": "/historical/markets"}


@dataclass
class EventPlan:
    """One event in range and the markets found for it."""

    ticker: str
    date: dt.date
    series: str
    markets: dict[str, MarketInfo] = field(default_factory=dict)


#: Starts fetching the trades and candles of these events (the run bounds how many at once).
StartEvents = Callable[[list[EventPlan]], None]


async def fetch_reference(
    ctx: RunContext, series: Sequence[str] | None = None
) -> tuple[Cutoff, dict[str, TransientError | PermanentError]]:
    """The archive cutoff and the series records (landed as raw pages).

    ``series``: the series tickers whose records to fetch (default: every series of the run).
    Returns the cutoff and the series whose record could not be fetched, with the error: only
    that family's discovery fails then. A cutoff that could not be fetched raises (no family
    can be routed without it).
    """
    today = dt.datetime.now(dt.UTC).date()
    tickers = list(series) if series is not None else [s.ticker for s in ctx.all_series]
    cutoff = WalkSpec("cutoff", "historical", "/historical/cutoff", "market_settled_ts", today)
    specs = [WalkSpec("series", "live", f"/series/{t}", "series", today, series=t) for t in tickers]
    results = await asyncio.gather(
        fetch_one(ctx, cutoff), *(fetch_one(ctx, s) for s in specs), return_exceptions=True
    )
    if all(isinstance(r, NotFoundError) for r in results):
        # Unrelated paths, all of which every Kalshi API answers: the base URL is wrong
        # (a typo in the path, a missing /trade-api/v2), not the data. Re-running cannot help.
        paths = ", ".join([cutoff.path, *(s.path for s in specs)])
        raise UsageError(
            f"every request to {ctx.client.base_url} answered 404 ({paths}): "
            "is the API URL right? (--api-url / KALSHI_API_URL)"
        )
    resp = results[0]
    if isinstance(resp, BaseException):
        raise resp
    assert isinstance(resp, ApiResponse)
    failed: dict[str, TransientError | PermanentError] = {}
    for t, r in zip(tickers, results[1:], strict=True):
        if isinstance(r, (TransientError, PermanentError)):
            failed[t] = r
        elif isinstance(r, BaseException):
            raise r
    return Cutoff.from_payload(resp.data), failed


async def unregistered_series(client: KalshiClient) -> list[str]:
    """Temperature series that ``GET /series`` (category "Climate and Weather", every page)
    lists and the registry lacks, sorted.

    The registry (:mod:`kalshi_lake.cities`) is the source of truth; this only tells when it is
    stale. Read once per run and not landed in the raw layer (no market data in it).
    """
    known = set(family_prefixes())
    found: set[str] = set()
    params: dict[str, Any] = {"category": WEATHER_CATEGORY}
    for _ in range(SERIES_PAGES_MAX):
        resp = await client.get("/series", params, expect="series")
        for s in resp.data.get("series") or []:
            ticker = s.get("ticker") if isinstance(s, dict) else None
            if not isinstance(ticker, str):
                continue
            if ticker.upper().startswith(TEMPERATURE_PREFIXES) and ticker.upper() not in known:
                found.add(ticker)
        cursor = resp.data.get("cursor")
        if not cursor:
            break
        params = {**params, "cursor": cursor}
    return sorted(found)


class Discovery:
    """Finds one series' events of the range and their markets; each event starts as soon as
    they are known."""

    def __init__(
        self,
        ctx: RunContext,
        cutoff: Cutoff,
        start_events: StartEvents,
        series: Series | None = None,
    ) -> None:
        self.ctx = ctx
        #: The series walked (default: the city's high series).
        self.info = series or ctx.city.series("high")
        self.series = self.info.ticker
        self.cutoff = cutoff
        self.cut_date = cutoff.market_settled.date()
        self.start_events = start_events
        self.today = dt.datetime.now(dt.UTC).date()
        #: Every event on the events listing: ticker -> (date, series).
        self.listed: dict[str, tuple[dt.date, str]] = {}
        #: Events in range with the markets found so far.
        self.plans: dict[str, EventPlan] = {}
        #: Events in range still to fetch (not final; dropped when their market listing failed).
        self.todo: dict[str, EventPlan] = {}
        #: The events listing's dates in page order: the last one, and whether they never rose.
        self._events_order: dict[str, Any] = {"last": None, "ordered": True}

    async def run(self) -> None:
        """All phases, in order (see the module docstring)."""
        tally = self.ctx.tally
        tally.phase = "listing events and markets"
        await self.list_events_and_live_markets()
        self.todo = self.plan_events()
        self._count()
        self.start_events([p for p in self.todo.values() if p.markets])
        asked_historical = await self.list_archived_markets()
        await self.list_markets_per_event(asked_historical)
        # Events that still have no markets (not listed yet) are counted, and retried next run.
        self.start_events([p for p in self.todo.values() if not p.markets])
        self._count()

    def _count(self) -> None:
        """Set this series' events to fetch; the total adds every series' and the skipped."""
        tally = self.ctx.tally
        tally.events_todo[self.series] = len(self.todo)
        tally.events_total = sum(tally.events_todo.values()) + tally.events_skipped

    # --- phase 2: the events listing and the live markets listing -----------------------------
    async def list_events_and_live_markets(self) -> None:
        """Walk ``/events`` and (when needed) the range's live ``/markets``, concurrently."""
        ctx, start = self.ctx, self.ctx.start
        series = self.series
        # All events stay on /events after archiving, but whether a min_close_ts filter sees
        # archived markets is undocumented: filter only when the whole range is live.
        events_params: dict[str, Any] = {"series_ticker": series, "limit": EVENTS_LIMIT}
        if start > self.cut_date:
            events_params["min_close_ts"] = int(epoch(day_start(start)))
        tasks = [
            walk(
                ctx,
                CursorPager(events_params),
                WalkSpec("events", "live", "/events", "events", self.today, series=series),
                on_page=self._on_events,
                stop=self._events_past_range,
            )
        ]
        if self._need_live_listing():
            # One listing for the whole range (batched, 1,000 per page).
            live_params = {
                "series_ticker": series,
                "min_close_ts": int(epoch(day_start(start))),
                "max_close_ts": int(epoch(self._last_close())),
                "limit": MARKETS_LIMIT,
            }
            tasks.append(
                walk(
                    ctx,
                    CursorPager(live_params),
                    WalkSpec("markets", "live", "/markets", "markets", self.today, series=series),
                    on_page=self._on_markets("live"),
                )
            )
        await gather(*tasks)

    def _on_events(self, data: dict[str, Any]) -> None:
        for ev in data.get("events") or []:
            tk = ev.get("event_ticker") if isinstance(ev, dict) else None
            if not isinstance(tk, str):
                continue
            try:
                d = event_date(tk)
            except ValueError:
                log.warning("skipping event with an unparseable ticker %r", tk)
                continue
            self.listed[tk] = (d, str(ev.get("series_ticker") or self.series))
            order = self._events_order
            if order["last"] is not None and d > order["last"]:
                order["ordered"] = False
            order["last"] = d

    def _events_past_range(self) -> bool:
        """True once the events listing has gone past the range (stop walking it).

        Without a ``min_close_ts`` filter (a range reaching into the archive) the listing holds
        the series' every event since its first: years of pages for a few days. Its pages come
        newest first (observed, not documented), so once an event dated before the range has
        gone by, no later page holds one of ours; if the order is ever broken, the walk goes to
        the end. An event missed all the same would still be found by its markets (the archive
        and live market listings file every market of the range under its event).
        """
        last = self._events_order["last"]
        return bool(self._events_order["ordered"]) and last is not None and last < self.ctx.start

    def _on_markets(self, tier: str, only: set[str] | None = None) -> OnPage:
        """A page handler that files listed markets of the range (of ``only``'s events) by event
        and saves each market's facts with the page."""
        ctx = self.ctx

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
                if not ctx.start <= d <= ctx.end:
                    continue
                if only is not None and m.event_ticker not in only:
                    continue
                series = self.listed.get(m.event_ticker, (d, self.series))[1]
                plan = self.plans.setdefault(m.event_ticker, EventPlan(m.event_ticker, d, series))
                # The live tier wins if a market is (briefly) on both listings.
                if m.ticker not in plan.markets or tier == "live":
                    plan.markets[m.ticker] = m
                updates[market_key(m.ticker)] = m.to_state()
            return updates

        return handle

    def _need_live_listing(self) -> bool:
        """False when the range is archived for sure, or every one of its days is done."""
        recent = day_start(self.ctx.end) + SETTLEMENT_LAG >= self.cutoff.market_settled
        return recent and not self._all_final()

    def _all_final(self) -> bool:
        """True when the state says every date in range has a finished event of this series
        (days before the series' first event have none to finish)."""
        start, end = max(self.ctx.start, self.info.first_event), self.ctx.end
        if start > end:
            return True
        prefixes = {self.series, self.info.legacy_prefix or self.series}
        dates = self.ctx.saved.final_event_dates(prefixes)
        n_days = (end - start).days + 1
        return all((start + dt.timedelta(days=i)).isoformat() in dates for i in range(n_days))

    def _last_close(self) -> dt.datetime:
        """Latest close of a market of ``end``'s event: the climate day ends by 08:00Z the next
        day (LA, standard time), so noon UTC covers every city while leaving out the next
        event's markets (they close a day later)."""
        return day_start(self.ctx.end + dt.timedelta(days=1)) + dt.timedelta(hours=12)

    # --- phase 3: what is left to do ----------------------------------------------------------
    def plan_events(self) -> dict[str, EventPlan]:
        """Events in range still to fetch; finished ones are counted as skipped."""
        ctx = self.ctx
        in_range = {tk: v for tk, v in self.listed.items() if ctx.start <= v[0] <= ctx.end}
        for tk, (d, series) in in_range.items():
            self.plans.setdefault(tk, EventPlan(tk, d, series))
        for plan in self.plans.values():
            if plan.ticker in self.listed:
                plan.series = self.listed[plan.ticker][1]
        # Skip finished events; restore markets of unfinished ones from state when all are known.
        todo: dict[str, EventPlan] = {}
        for tk, plan in sorted(self.plans.items(), key=lambda kv: (kv[1].date, kv[0])):
            rec = ctx.saved.event(tk)
            if rec and rec.get("final"):
                ctx.tally.events_skipped += 1
                ctx.tally.count(tk, "events_skipped")
                continue
            if not plan.markets and rec and rec.get("markets"):
                saved = [ctx.saved.market(t) for t in rec["markets"]]
                if all(s is not None and s.get("final") for s in saved):
                    plan.markets = {s["ticker"]: MarketInfo.from_state(s) for s in saved if s}
            todo[tk] = plan
        return todo

    # --- phase 4: archived events -------------------------------------------------------------
    async def list_archived_markets(self) -> set[str]:
        """Markets of archived events the live listing did not cover; returns the events asked
        for one by one on the historical tier."""
        hist = [p for p in self.todo.values() if not p.markets and p.date < self.cut_date]
        if not hist:
            return set()
        self.ctx.tally.phase = "listing archived markets"
        n_series = sum(1 for d, _ in self.listed.values() if d < self.cut_date)
        if choose_historical_listing(len(hist), n_series) == "series":
            await self._walk_archive({p.ticker for p in hist})
            asked: set[str] = set()
        else:
            asked = await self._each_event(hist, "historical")
        self.start_events([p for p in hist if p.markets and p.ticker in self.todo])
        return asked

    async def _walk_archive(self, events: set[str]) -> None:
        """The series' whole ``/historical/markets`` listing, stopped once past the range."""
        handle = self._on_markets("historical", events)
        closes: dict[str, Any] = {"last": None, "ordered": True}
        range_start = day_start(self.ctx.start)

        def on_page(data: dict[str, Any]) -> Any:
            for raw in data.get("markets") or []:
                c = parse_ts(raw.get("close_time")) if isinstance(raw, dict) else None
                if c is None:
                    continue
                if closes["last"] is not None and c > closes["last"]:
                    closes["ordered"] = False
                closes["last"] = c
            return handle(data)

        def past_range() -> bool:
            # Archive pages come newest first (observed, not documented). Once a market closing
            # before the range has gone by, no later page holds one of ours; if the order is
            # ever broken, walk to the end. Any event still missing is asked for by itself in
            # phase 5, so stopping early can never lose one.
            last = closes["last"]
            return bool(closes["ordered"]) and last is not None and last < range_start

        series = self.series
        await walk(
            self.ctx,
            CursorPager({"series_ticker": series, "limit": MARKETS_LIMIT}),
            WalkSpec(
                "markets", "historical", "/historical/markets", "markets", self.today, series=series
            ),
            on_page=on_page,
            stop=past_range,
        )

    # --- phase 5: one event at a time ---------------------------------------------------------
    async def list_markets_per_event(self, asked_historical: set[str]) -> None:
        """Ask for the markets of each event still without any (a close time outside the
        listing's window, a market archived between listings, an archive walk stopped early):
        the likelier tier first, then the other."""
        asked: dict[str, set[str]] = {t: {"historical"} for t in asked_historical}
        for attempt in (0, 1):
            batch = self._next_tiers(asked, second_try=attempt == 1)
            if not batch:
                continue
            self.ctx.tally.phase = "listing markets per event"
            await self._each_event_batch(batch)
            self.start_events([p for p, _ in batch if p.markets and p.ticker in self.todo])

    def _next_tiers(
        self, asked: dict[str, set[str]], *, second_try: bool
    ) -> list[tuple[EventPlan, str]]:
        """The events to ask for now, each with the tier to ask (marked as asked)."""
        batch: list[tuple[EventPlan, str]] = []
        for p in self.todo.values():
            if p.markets:
                continue
            likely = ["historical", "live"] if p.date < self.cut_date else ["live", "historical"]
            tiers = [
                t
                for t in likely
                if t not in asked.get(p.ticker, set())
                and (t == "live" or p.date < self.cut_date + SETTLEMENT_LAG)
            ]
            if tiers and (second_try or not asked.get(p.ticker)):
                batch.append((p, tiers[0]))
                asked.setdefault(p.ticker, set()).add(tiers[0])
        return batch

    async def _each_event(self, plans: list[EventPlan], tier: str) -> set[str]:
        """Ask ``tier`` for each event's markets; returns the events whose listing worked."""
        return await self._each_event_batch([(p, tier) for p in plans])

    async def _each_event_batch(self, batch: list[tuple[EventPlan, str]]) -> set[str]:
        """One ``event_ticker`` listing per (event, tier); an event whose listing failed is
        dropped from :attr:`todo` (reported as a failed unit). Returns the events that worked."""
        results = await gather(
            *(
                self.ctx.guard(
                    f"markets of {p.ticker} ({tier})", partial(self._event_markets, p, tier)
                )
                for p, tier in batch
            )
        )
        worked: set[str] = set()
        for (p, _), (ok, _) in zip(batch, results, strict=True):
            if ok:
                worked.add(p.ticker)
            else:
                self.todo.pop(p.ticker, None)
        return worked

    async def _event_markets(self, plan: EventPlan, tier: str) -> None:
        """One event's markets from a listing filtered by ``event_ticker`` (event-scoped page)."""
        await walk(
            self.ctx,
            CursorPager({"event_ticker": plan.ticker, "limit": MARKETS_LIMIT}),
            WalkSpec(
                "markets",
                tier,
                MARKETS_PATHS[tier],
                "markets",
                plan.date,
                series=plan.series,
                event=plan.ticker,
            ),
            on_page=self._on_markets(tier, {plan.ticker}),
        )
