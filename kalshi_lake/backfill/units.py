"""The trades and candles of one event: each market's trades, then or alongside its candles.

Per event, once its markets are known (live events overlap the archive listing)::

    per market:  /markets/trades | /historical/trades       cursor walks to the end; both when
                                                            the market straddles the cutoff;
                                                            none for a closed market whose
                                                            payload says volume 0
    live:        /markets/candlesticks?market_tickers=...    the event's markets (100 a batch),
                                                            chunks under 10,000 candles
    historical:  /historical/markets/{t}/candlesticks        chunks under 5,000 candles

The batch endpoint (https://docs.kalshi.com/api-reference/market/batch-get-market-candlesticks)
allows 10,000 candles a request against the event endpoint's 5,000: a six-market event open for
about 38 hours takes 2 requests instead of 3 (6 x 2,281 periods = 13,686 > 10,000: 2 is the
least). The events of one day (a city's high and low, the same window) share requests
(:class:`_DayBatch`, :mod:`~kalshi_lake.backfill.packing`): 3 for their 12 markets instead of 4.
Consecutive days do not: their windows are a day apart, so a request spanning two pays for about
62 hours of every ticker and fits fewer candles, not more (their common 14 hours with 12 tickers
is 10,080, just over the cap), and a page holds one climate date (its raw partition).
(``EventUnits.live_candles = "event"`` still uses the event endpoint; the curated candles are
the same either way.)

Each market's trades and candles are units with a state record (see
:mod:`~kalshi_lake.backfill.keys`); a final unit is not fetched again, an open one resumes from
its watermark. The event is final once all its units worked and all its markets are final.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from functools import partial
from typing import Any

from kalshi_lake.api.paging import (
    BATCH_TICKERS,
    CANDLE_CAP,
    AdjustedEndPager,
    BatchPager,
    ChunkPager,
    CursorPager,
)
from kalshi_lake.backfill.context import RunContext, gather
from kalshi_lake.backfill.discover import EventPlan
from kalshi_lake.backfill.keys import (
    CandlesRecord,
    EventRecord,
    TradesRecord,
    batch_candles_walk_key,
    candles_key,
    event_candles_walk_key,
    event_key,
    market_candles_walk_key,
    packed_candles_walk_key,
    trades_key,
    trades_walk_key,
)
from kalshi_lake.backfill.packing import Chunk, pack
from kalshi_lake.backfill.plan import (
    Cutoff,
    MarketInfo,
    candle_window,
    market_tier,
    merge_span,
    trade_page_span,
    trade_tiers,
    union_window,
    with_watermark,
)
from kalshi_lake.backfill.walk import WalkSpec, walk
from kalshi_lake.errors import NotFoundError
from kalshi_lake.log import get_logger

log = get_logger(__name__)

TRADES_LIMIT = 1000
#: Periods per per-market candlestick request (the API refuses more than 5,000).
HIST_CANDLE_CAP = CANDLE_CAP

Span = tuple[float | None, float | None]
Updates = dict[str, Mapping[str, Any] | None]


#: Why a trades walk is skipped (saved in the ``trades/`` record as ``skipped``).
NEVER_TRADED = "closed with volume 0 in its market payload"


class EventUnits:
    """Fetches the units of one event at a time, against the run's cutoff."""

    #: Live candles from the ``batch`` endpoint (default) or the older ``event`` endpoint.
    live_candles = "batch"

    def __init__(self, ctx: RunContext, cutoff: Cutoff) -> None:
        self.ctx = ctx
        self.cutoff = cutoff

    async def events(self, plans: list[EventPlan]) -> None:
        """Every unit of ``plans`` (events of one day): like :meth:`event` each, but the live
        candles of all of them packed into shared batch requests (a city's highs and lows)."""
        live = [p for p in plans if any(self._live(m) for m in p.markets.values())]
        if len(live) < 2 or self.live_candles != "batch" or self.ctx.mode != "full":
            await gather(*(self.event(p) for p in plans))
            return
        day = _DayBatch(self, len(live))
        await gather(*(self.event(p, day) for p in plans))

    def _live(self, m: MarketInfo) -> bool:
        return market_tier(m, self.cutoff) == "live"

    async def event(self, plan: EventPlan, day: _DayBatch | None = None) -> None:
        """Every unit of ``plan``'s markets, then the event's record (``day``: the live candles
        go through that day's packed batch instead of the event's own)."""
        ctx = self.ctx
        markets = sorted(plan.markets.values(), key=lambda m: m.ticker)
        ctx.tally.markets_seen += len(markets)
        ctx.tally.count(plan.ticker, "markets", len(markets))
        if not markets:
            log.info("event %s has no markets yet", plan.ticker)
            return
        tiers = {m.ticker: market_tier(m, self.cutoff) for m in markets}
        spans: dict[str, Span] = {}
        oks: list[bool] = []

        # A day counts as fetched when it has trades pages (``status``): an event none of whose
        # markets ever traded still walks one of them (an empty page).
        skip = {m.ticker for m in markets if m.never_traded}
        if len(skip) == len(markets):
            skip.discard(markets[0].ticker)

        async def trades(m: MarketInfo) -> None:
            unit = partial(self.trades, plan, m, skip=m.ticker in skip)
            ok, span = await ctx.guard(f"trades {m.ticker}", unit)
            oks.append(ok)
            if span is not None:
                spans[m.ticker] = span

        async def candles() -> None:
            for ok, _ in await gather(*self._candle_units(plan, markets, tiers, spans, day)):
                oks.append(ok)

        if ctx.mode == "trades":
            await gather(*(trades(m) for m in markets))
            await candles()
        else:
            await gather(candles(), *(trades(m) for m in markets))
        record: EventRecord = {
            "date": plan.date.isoformat(),
            "markets": [m.ticker for m in markets],
            "final": all(oks) and all(m.is_final for m in markets),
        }
        await ctx.sink.note({event_key(plan.ticker): record})

    def _candle_units(
        self,
        plan: EventPlan,
        markets: list[MarketInfo],
        tiers: dict[str, str],
        spans: dict[str, Span],
        day: _DayBatch | None = None,
    ) -> list[Awaitable[tuple[bool, Any]]]:
        """The guarded candle units of an event: one live event walk, one walk per archived
        market."""
        ctx = self.ctx
        jobs: list[Awaitable[tuple[bool, Any]]] = []
        todo = markets
        if ctx.mode == "trades":
            # The window comes from the trades: without them there is nothing to ask for yet,
            # and nothing may be recorded as done (the failed trades unit is reported).
            todo = [m for m in markets if m.ticker in spans]
        live = [m for m in todo if tiers[m.ticker] == "live"]
        if live:
            name = f"candles {plan.ticker} (live event)"
            if day is not None:
                fetch = day.candles
            elif self.live_candles == "batch":
                fetch = self.batch_candles
            else:
                fetch = self.event_candles
            jobs.append(ctx.guard(name, partial(fetch, plan, live, spans)))
        for m in todo:
            if tiers[m.ticker] == "historical":
                name = f"candles {m.ticker} (historical)"
                unit = partial(self.market_candles, plan, m, spans.get(m.ticker))
                jobs.append(ctx.guard(name, unit))
        return jobs

    # --- trades ------------------------------------------------------------------------------
    async def trades(self, plan: EventPlan, m: MarketInfo, *, skip: bool = False) -> Span:
        """All trades of ``m`` (or those newer than the newest stored); returns their span.

        ``skip``: ``m`` closed without a trade (:attr:`MarketInfo.never_traded`), so its
        walk is recorded as done, with the reason, without a request.
        """
        ctx = self.ctx
        rec = ctx.saved.trades(m.ticker)
        if rec and rec.get("final"):
            return rec.get("lo"), rec.get("hi")
        if skip and m.never_traded:
            return await self._skip_trades(m, rec)
        since = rec.get("hi") if rec else None
        # Whole seconds, inclusive: trades in the newest stored second come again (deduped later)
        # rather than any later trade in that second being missed.
        min_ts = int(since) if since is not None else None
        span: Span = (rec.get("lo"), rec.get("hi")) if rec else (None, None)
        walk_keys: list[str] = []

        async def one_tier(tier: str) -> dict[str, Any]:
            params: dict[str, Any] = {"ticker": m.ticker, "limit": TRADES_LIMIT}
            if min_ts is not None:
                params["min_ts"] = min_ts
            wkey = trades_walk_key(tier, m.ticker, min_ts)
            walk_keys.append(wkey)
            agg: dict[str, Any] = {}

            def on_page(data: dict[str, Any]) -> None:
                lo, hi, n = trade_page_span(data.get("trades") or [])
                agg["lo"], agg["hi"] = merge_span((agg.get("lo"), agg.get("hi")), (lo, hi))
                agg["n"] = agg.get("n", 0) + n
                ctx.tally.tier_counts[tier]["trades"] += n
                ctx.tally.count(m.ticker, "trades", n)

            path = "/historical/trades" if tier == "historical" else "/markets/trades"
            spec = WalkSpec(
                "trades", tier, path, "trades", plan.date, wkey, plan.series, plan.ticker, m.ticker
            )
            return await walk(ctx, CursorPager(params), spec, agg=agg, on_page=on_page)

        for agg in await gather(*(one_tier(t) for t in trade_tiers(m, self.cutoff, since))):
            span = merge_span(span, (agg.get("lo"), agg.get("hi")))
        updates: Updates = {k: None for k in walk_keys}
        done: TradesRecord = {"lo": span[0], "hi": span[1], "final": m.trading_over}
        updates[trades_key(m.ticker)] = done
        await ctx.sink.note(updates)
        return span

    async def _skip_trades(self, m: MarketInfo, rec: TradesRecord | None) -> Span:
        """Record a closed market that never traded as done without walking its trades."""
        span: Span = (rec.get("lo"), rec.get("hi")) if rec else (None, None)
        done: TradesRecord = {"lo": span[0], "hi": span[1], "final": True, "skipped": NEVER_TRADED}
        self.ctx.tally.tier_counts[market_tier(m, self.cutoff)]["trades_skipped"] += 1
        self.ctx.tally.count(m.ticker, "trades_skipped")
        await self.ctx.sink.note({trades_key(m.ticker): done})
        return span

    # --- candles -----------------------------------------------------------------------------
    def _window(self, m: MarketInfo, span: Span | None) -> tuple[int, int] | None:
        """The candle window ``--candle-window`` asks for (from the trades' span in "trades")."""
        lo, hi = span if span is not None else (None, None)
        if self.ctx.mode == "trades" and span is None:
            rec = self.ctx.saved.trades(m.ticker)
            lo, hi = (rec.get("lo"), rec.get("hi")) if rec else (None, None)
        return candle_window(m, self.ctx.mode, lo, hi)

    def _tally_candles(
        self, agg: dict[str, Any], candles: list[Any], tier: str, ticker: str
    ) -> None:
        """Count a page's candles (for ``ticker``'s family: one event's or market's page) and
        raise the walk's watermark to its newest period end."""
        ends: list[int] = [
            e
            for c in candles
            if isinstance(c, dict) and isinstance(e := c.get("end_period_ts"), int)
        ]
        if agg.get("hi") is not None:
            ends.append(agg["hi"])
        agg["hi"] = max(ends, default=None)
        agg["n"] = agg.get("n", 0) + len(candles)
        self.ctx.tally.tier_counts[tier]["candles"] += len(candles)
        self.ctx.tally.count(ticker, "candles", len(candles))

    async def event_candles(
        self, plan: EventPlan, markets: list[MarketInfo], spans: dict[str, Span]
    ) -> None:
        """Live tier: the event candlestick endpoint over the union of the markets' windows."""
        ctx = self.ctx
        windows, done_now = self._live_windows(markets, spans)
        window = union_window(windows.values())
        if window is not None:
            key = event_candles_walk_key(plan.ticker, window)
            agg: dict[str, Any] = {}

            def on_page(data: dict[str, Any]) -> None:
                per_market = data.get("market_candlesticks") or []
                candles = [c for cs in per_market for c in cs or []]
                self._tally_candles(agg, candles, "live", plan.ticker)

            path = f"/series/{plan.series}/events/{plan.ticker}/candlesticks"
            spec = WalkSpec(
                "event_candlesticks", "live", path, "market_candlesticks", plan.date, key,
                plan.series, plan.ticker,
            )  # fmt: skip
            try:
                await walk(
                    ctx, AdjustedEndPager(window[0], window[1]), spec, agg=agg, on_page=on_page
                )
            except NotFoundError:
                # The event's markets were archived since they were listed: use the historical tier.
                log.info(
                    "live candles of %s gone; fetching them from the historical tier", plan.ticker
                )
                for m in markets:
                    if m.ticker in windows:
                        await self.market_candles(plan, m, spans.get(m.ticker))
                return
            done_now[key] = None
            for t in windows:
                rec = ctx.saved.candles(t)
                prev = rec.get("hi") if rec else None
                hi = max((x for x in (agg.get("hi"), prev) if x is not None), default=None)
                done_now[candles_key(t)] = _candles(hi, plan.markets[t].trading_over)
        if done_now:
            await ctx.sink.note(done_now)

    async def batch_candles(
        self, plan: EventPlan, markets: list[MarketInfo], spans: dict[str, Span]
    ) -> None:
        """Live tier: the batch candlestick endpoint over the union of the markets' windows.

        A market the batch leaves out was archived since it was listed (the batch endpoint
        serves only the live tier): its candles come from the historical tier.
        """
        ctx = self.ctx
        windows, done_now = self._live_windows(markets, spans)
        window = union_window(windows.values())
        if window is not None:
            tickers = sorted(windows)
            seen: set[str] = set()
            his: list[int] = []
            for i in range(0, len(tickers), BATCH_TICKERS):
                group = tuple(tickers[i : i + BATCH_TICKERS])
                key = batch_candles_walk_key(plan.ticker, window, i // BATCH_TICKERS)
                agg = await self._batch_walk(plan, group, window, key)
                seen.update(agg.get("seen") or ())
                if agg.get("hi") is not None:
                    his.append(agg["hi"])
                done_now[key] = None
            older = event_candles_walk_key(plan.ticker, window)
            if ctx.saved.get(older) is not None:
                done_now[older] = None  # an event-endpoint walk of an older version: superseded
            for t in windows:
                if t not in seen:
                    continue
                rec = ctx.saved.candles(t)
                prev = rec.get("hi") if rec else None
                hi = max((x for x in (*his, prev) if x is not None), default=None)
                done_now[candles_key(t)] = _candles(hi, plan.markets[t].trading_over)
            gone = [t for t in tickers if t not in seen]
            if gone:
                log.info(
                    "live candles of %s gone; fetching them from the historical tier",
                    ", ".join(gone),
                )
                for t in gone:
                    await self.market_candles(plan, plan.markets[t], spans.get(t))
        if done_now:
            await ctx.sink.note(done_now)

    async def _batch_walk(
        self,
        plan: EventPlan,
        tickers: tuple[str, ...],
        window: tuple[int, int],
        key: str,
        *,
        shared: bool = False,
    ) -> dict[str, Any]:
        """One batch walk of up to 100 ``tickers``; ``agg`` has ``hi``, ``n`` and ``seen``.

        ``shared``: the tickers are of several events of ``plan``'s day, so the pages name no
        event (nor series) of their own.
        """
        agg: dict[str, Any] = {}

        def on_page(data: dict[str, Any]) -> None:
            entries = [e for e in data.get("markets") or [] if isinstance(e, dict)]
            got = {e["market_ticker"] for e in entries if isinstance(e.get("market_ticker"), str)}
            agg["seen"] = sorted(got.union(agg.get("seen") or ()))
            for e in entries:
                ticker = e.get("market_ticker")
                candles = e.get("candlesticks") or []
                self._tally_candles(agg, candles, "live", ticker if isinstance(ticker, str) else "")

        series, event = (None, None) if shared else (plan.series, plan.ticker)
        spec = WalkSpec(
            "batch_candlesticks", "live", "/markets/candlesticks", "markets", plan.date, key,
            series, event,
        )  # fmt: skip
        pager = BatchPager(window[0], window[1], tickers=tickers)
        return await walk(self.ctx, pager, spec, agg=agg, on_page=on_page)

    def _live_windows(
        self, markets: list[MarketInfo], spans: dict[str, Span]
    ) -> tuple[dict[str, tuple[int, int] | None], Updates]:
        """The window still to fetch per market, and the records of markets with none left."""
        windows: dict[str, tuple[int, int] | None] = {}
        done_now: Updates = {}
        for m in markets:
            rec = self.ctx.saved.candles(m.ticker)
            if rec and rec.get("final"):
                continue
            prev_hi = rec.get("hi") if rec else None
            w = with_watermark(self._window(m, spans.get(m.ticker)), prev_hi)
            if w is None:
                done_now[candles_key(m.ticker)] = _candles(prev_hi, m.trading_over)
            else:
                windows[m.ticker] = w
        return windows, done_now

    async def market_candles(self, plan: EventPlan, m: MarketInfo, span: Span | None) -> None:
        """Historical tier: per-market candlesticks in chunks under the 5,000-candle cap."""
        ctx = self.ctx
        rec = ctx.saved.candles(m.ticker)
        if rec and rec.get("final"):
            return
        hi = rec.get("hi") if rec else None
        window = with_watermark(self._window(m, span), hi)
        updates: Updates = {}
        if window is not None:
            key = market_candles_walk_key(m.ticker, window)
            agg: dict[str, Any] = {}

            def on_page(data: dict[str, Any]) -> None:
                candles = data.get("candlesticks") or []
                self._tally_candles(agg, candles, "historical", m.ticker)

            path = f"/historical/markets/{m.ticker}/candlesticks"
            spec = WalkSpec(
                "candlesticks", "historical", path, "candlesticks", plan.date, key, plan.series,
                plan.ticker, m.ticker,
            )  # fmt: skip
            pager = ChunkPager(window[0], window[1], cap=HIST_CANDLE_CAP)
            await walk(ctx, pager, spec, agg=agg, on_page=on_page)
            updates[key] = None
            hi = max((x for x in (agg.get("hi"), hi) if x is not None), default=None)
        updates[candles_key(m.ticker)] = _candles(hi, m.trading_over)
        await ctx.sink.note(updates)


def _candles(hi: float | None, final: bool) -> CandlesRecord:
    return {"hi": hi, "final": final}


class _DayBatch:
    """The live candles of several events of one day, fetched once as packed batch walks
    (:func:`~kalshi_lake.backfill.packing.pack`) when every one of them has said which of its
    markets still need them; each event then records its own markets' candles.

    All the events run in one task (:meth:`EventUnits.events`), so none waits on an event that
    has not started. The last event to ask runs the walks itself (no task of their own outlives
    a stopped run); a failed walk fails the candles unit of every event waiting on it.
    """

    def __init__(self, units: EventUnits, expected: int) -> None:
        self.units = units
        self.expected = expected
        self.asked: dict[str, tuple[EventPlan, dict[str, tuple[int, int] | None]]] = {}
        self.fetched: asyncio.Future[dict[str, int | None]] = (
            asyncio.get_running_loop().create_future()
        )
        # Retrieved here: an error no event waits for any more (the run stopping) is not
        # reported a second time when the future is collected.
        self.fetched.add_done_callback(lambda f: f.cancelled() or f.exception())
        #: Each event's chunk walk keys (cleared with its candle records).
        self.keys_of: dict[str, list[str]] = {}

    async def candles(
        self, plan: EventPlan, markets: list[MarketInfo], spans: dict[str, Span]
    ) -> None:
        """``plan``'s live candles (as :meth:`EventUnits.batch_candles`), through the day's walks."""
        units, ctx = self.units, self.units.ctx
        windows, done_now = units._live_windows(markets, spans)
        self.asked[plan.ticker] = (plan, windows)
        if len(self.asked) == self.expected:
            try:
                self.fetched.set_result(await self._fetch())
            except asyncio.CancelledError:
                self.fetched.cancel()
                raise
            except BaseException as exc:
                self.fetched.set_exception(exc)
                raise
        # Shielded: one waiting event's unit cancelled must not cancel the others' result.
        his = await asyncio.shield(self.fetched)
        window = union_window(windows.values())
        if window is not None:
            older = event_candles_walk_key(plan.ticker, window)
            if ctx.saved.get(older) is not None:
                done_now[older] = None  # an event-endpoint walk of an older version
        for key in self.keys_of.get(plan.ticker, ()):
            done_now[key] = None
        gone = [t for t in sorted(windows) if t not in his]
        for t in windows:
            if t in his:
                rec = ctx.saved.candles(t)
                prev = rec.get("hi") if rec else None
                hi = max((x for x in (his[t], prev) if x is not None), default=None)
                done_now[candles_key(t)] = _candles(hi, plan.markets[t].trading_over)
        if gone:
            log.info(
                "live candles of %s gone; fetching them from the historical tier", ", ".join(gone)
            )
            for t in gone:
                await units.market_candles(plan, plan.markets[t], spans.get(t))
        if done_now:
            await ctx.sink.note(done_now)

    async def _fetch(self) -> dict[str, int | None]:
        """Every chunk's walk; returns the newest candle end per ticker the batches served."""
        entries = [
            (event, sorted(w), window)
            for event, (_, w) in sorted(self.asked.items())
            if (window := union_window(w.values())) is not None
        ]
        plans = {event: plan for event, (plan, _) in self.asked.items()}
        his: dict[str, int | None] = {}

        async def one(chunk: Chunk) -> None:
            key = packed_candles_walk_key(chunk.events[0], chunk.tickers, chunk.window)
            plan = plans[chunk.events[0]]
            agg = await self.units._batch_walk(
                plan, chunk.tickers, chunk.window, key, shared=len(chunk.events) > 1
            )
            for t in agg.get("seen") or ():
                his[t] = agg.get("hi")
            for event in chunk.events:
                self.keys_of.setdefault(event, []).append(key)

        # The chunks' walks at once, like the events' own walks they replace.
        await gather(*(one(c) for c in pack(entries)))
        return his
