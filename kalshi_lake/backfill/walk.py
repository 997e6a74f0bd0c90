"""The walk engine: one pager through the client, every page to the sink with its checkpoint.

No walk runs forever: a :class:`~kalshi_lake.api.paging.WalkGuard` reads every page that does
not end its walk, knowing each kind's item identity and page cap (:data:`KINDS`), and a stuck
walk stops with :class:`~kalshi_lake.errors.WalkStuckError` naming the endpoint and the reason.
Its unit fails like any other (the run ends with exit 3). The pages it fetched stay in the raw
layer (the transform dedups them), but its saved cursor is dropped: a cursor from a server that
went round in circles is no place to resume, so a re-run walks it again from its start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from kalshi_lake.api.client import ApiResponse
from kalshi_lake.api.paging import Pager, WalkGuard
from kalshi_lake.backfill.context import RunContext
from kalshi_lake.errors import ClientError, NotFoundError, WalkStuckError
from kalshi_lake.lake.raw import RawPage
from kalshi_lake.log import get_logger

log = get_logger(__name__)

#: Reads one page's JSON; may return extra state updates that become durable with the page.
OnPage = Callable[[dict[str, Any]], Mapping[str, Mapping[str, Any] | None] | None]


#: The identity of each item on a page (None: an item without one).
ItemKeys = Callable[[dict[str, Any]], list[Hashable | None]]


def _keys_of(items_field: str, key: str) -> ItemKeys:
    """Item identity of a flat list: the ``key`` field of each object in ``items_field``."""

    def keys(data: dict[str, Any]) -> list[Hashable | None]:
        out: list[Hashable | None] = []
        for item in data.get(items_field) or []:
            value = item.get(key) if isinstance(item, dict) else None
            out.append(value if isinstance(value, (str, int)) else None)
        return out

    return keys


def _event_candle_keys(data: dict[str, Any]) -> list[Hashable | None]:
    """``(market ticker, end_period_ts)`` of every candle of an event candlestick page."""
    tickers = data.get("market_tickers") or []
    out: list[Hashable | None] = []
    for i, candles in enumerate(data.get("market_candlesticks") or []):
        market = tickers[i] if i < len(tickers) and isinstance(tickers[i], str) else i
        for c in candles if isinstance(candles, list) else []:
            end = c.get("end_period_ts") if isinstance(c, dict) else None
            out.append((market, end) if isinstance(end, int) else None)
    return out


def _batch_candle_keys(data: dict[str, Any]) -> list[Hashable | None]:
    """``(market ticker, end_period_ts)`` of every candle of a batch candlestick page."""
    out: list[Hashable | None] = []
    for entry in data.get("markets") or []:
        market = entry.get("market_ticker") if isinstance(entry, dict) else None
        candles = entry.get("candlesticks") if isinstance(entry, dict) else None
        for c in candles if isinstance(candles, list) else []:
            end = c.get("end_period_ts") if isinstance(c, dict) else None
            ok = isinstance(end, int) and isinstance(market, str)
            out.append((market, end) if ok else None)
    return out


@dataclass(frozen=True)
class WalkKind:
    """What a walk of one raw endpoint brings: its items' identity and its page cap."""

    keys: ItemKeys
    #: More pages than any real walk of this kind needs (see :data:`KINDS`).
    max_pages: int


#: Per raw endpoint: item identity and page cap. The caps are far above real data, so only a
#: walk that would never end meets one:
#:
#: - ``trades`` (one market, one tier, 1,000 a page): a daily market trades for under two days
#:   (it opens the morning before its day and closes that night). A trade every second for
#:   two days is 173 pages; 10,000 pages is ten million trades, fifty times that.
#: - ``events`` (one series, 200 a page): one event a day is 2 pages a year; 1,000 pages is
#:   200,000 events, five centuries.
#: - ``markets`` (a series' archive or one event, 1,000 a page): a ladder of about ten markets
#:   a day is 4 pages a year; 1,000 pages is a million markets.
#: - ``event_candlesticks`` (one event, at least 5,000 / markets minutes a page): a two-day window
#:   of six markets is 4 pages; 1,000 pages covers 69 days even with 50 markets.
#: - ``batch_candlesticks`` (up to 100 live markets, at least 10,000 / tickers minutes a page):
#:   a two-day window of six markets is 2 pages; 1,000 pages covers 69 days even with 100.
#: - ``candlesticks`` (one archived market, 5,000-minute chunks cut by the client): 1,000
#:   pages is nine years of minutes.
KINDS: dict[str, WalkKind] = {
    "trades": WalkKind(_keys_of("trades", "trade_id"), 10_000),
    "events": WalkKind(_keys_of("events", "event_ticker"), 1_000),
    "markets": WalkKind(_keys_of("markets", "ticker"), 1_000),
    "event_candlesticks": WalkKind(_event_candle_keys, 1_000),
    "batch_candlesticks": WalkKind(_batch_candle_keys, 1_000),
    "candlesticks": WalkKind(_keys_of("candlesticks", "end_period_ts"), 1_000),
}
#: Any other walk: no item identity, the most generous cap.
OTHER_KIND = WalkKind(lambda data: [], 10_000)


@dataclass(frozen=True)
class WalkSpec:
    """What one walk asks for and how its pages are filed in the raw layer."""

    #: Raw-layer endpoint name (``raw/<endpoint>/...``).
    endpoint: str
    #: "live" or "historical": the API tier, counted per tier.
    tier: str
    #: Request path relative to the API base.
    path: str
    #: A top-level key every response must have (else it is retried as truncated).
    expect: str
    #: The ``date=`` partition the pages go to.
    date: dt.date
    #: State key of a resumable walk (None: a listing, always walked afresh).
    key: str | None = None
    series: str | None = None
    event: str | None = None
    market: str | None = None


def raw_page(
    ctx: RunContext,
    spec: WalkSpec,
    resp: ApiResponse,
    page_number: int,
    *,
    cursor_in: str | None = None,
    cursor_out: str | None = None,
) -> RawPage:
    """The raw-layer row of one response page (and count it for its tier)."""
    ctx.tally.tier_counts[spec.tier]["pages"] += 1
    ctx.tally.count(spec.market or spec.event or spec.series, "pages")
    return RawPage(
        endpoint=spec.endpoint,
        tier=spec.tier,
        city=ctx.city.name,
        date=spec.date,
        request_path=resp.path,
        request_params=resp.params,
        body=resp.text,
        fetched_at=resp.fetched_at,
        run_id=ctx.run_id,
        http_status=resp.status,
        page_number=page_number,
        cursor_in=cursor_in,
        cursor_out=cursor_out,
        series_ticker=spec.series or ctx.city.series_ticker,
        event_ticker=spec.event,
        market_ticker=spec.market,
    )


async def fetch_one(ctx: RunContext, spec: WalkSpec) -> ApiResponse:
    """GET a single-page endpoint and land its page."""
    resp = await ctx.client.get(spec.path, expect=spec.expect, tier=spec.tier)
    await ctx.sink.add(raw_page(ctx, spec, resp, 0), walk_end=True)
    return resp


async def walk(
    ctx: RunContext,
    pager: Pager,
    spec: WalkSpec,
    *,
    agg: dict[str, Any] | None = None,
    on_page: OnPage | None = None,
    stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Fetch every page of one walk, landing each with its checkpoint; returns ``agg``.

    ``stop`` (checked after each page) ends a listing early once it has what it needs.

    With ``spec.key`` the walk is resumable: a finished walk is not repeated and an unfinished
    one continues from its saved cursor (or window start). ``agg`` holds running totals that
    are saved with each checkpoint; ``on_page`` updates them and may return extra state
    updates that become durable with the page.
    """
    agg = agg if agg is not None else {}
    key = spec.key
    kind = KINDS.get(spec.endpoint, OTHER_KIND)
    fresh_state = pager.checkpoint()
    first = pager.next_params()
    resumed = False
    if key is not None:
        saved = ctx.saved.get(key)
        if saved is not None:
            agg.update(saved.get("agg") or {})
            if saved.get("done"):
                return agg
            pager.restore(saved)
            resumed = True
    guard = WalkGuard(kind.max_pages)
    while (params := pager.next_params()) is not None:
        cursor_in = pager.cursor
        try:
            resp = await ctx.client.get(spec.path, params, expect=spec.expect, tier=spec.tier)
        except ClientError as exc:
            if resumed and cursor_in and not isinstance(exc, NotFoundError):
                # A saved cursor can expire between runs: walk again from the start.
                log.info("saved cursor of %s refused (%s); restarting the walk", key, exc)
                pager.restore(fresh_state)
                agg.clear()
                guard = WalkGuard(kind.max_pages)
                resumed = False
                continue
            raise
        pager.update(resp.data)
        cursor_out = pager.cursor_out(resp.data)
        extra = on_page(resp.data) if on_page is not None else None
        ends = pager.next_params() is None or (stop is not None and stop())
        # A last page may be empty or repeat items without harm: only a walk that goes on is judged.
        stuck = (
            None if ends else guard.check(pager.page, cursor_in, cursor_out, kind.keys(resp.data))
        )
        updates: dict[str, Mapping[str, Any] | None] = dict(extra or {})
        if key is not None:
            # A stuck walk's cursor is no place to resume: the re-run walks it from its start.
            updates[key] = None if stuck else {**pager.checkpoint(), "agg": dict(agg)}
        page = raw_page(ctx, spec, resp, pager.page - 1, cursor_in=cursor_in, cursor_out=cursor_out)
        # A walk's end is a natural durability point: its pages are written now.
        await ctx.sink.add(page, updates, walk_end=ends or stuck is not None)
        if stuck:
            raise WalkStuckError(
                f"GET {spec.path}{_identity(first)}: walk stopped after {pager.page:,} pages, "
                f"{stuck}"
            )
        if ends:
            break
    return agg


def _identity(params: Mapping[str, Any] | None) -> str:
    """The query that names a walk (its first request's, without ``cursor`` and ``limit``)."""
    shown = [f"{k}={v}" for k, v in (params or {}).items() if k not in ("cursor", "limit")]
    return "?" + "&".join(shown) if shown else ""
