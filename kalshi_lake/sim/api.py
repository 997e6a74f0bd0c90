"""Request handling: Kalshi Trade API v2 routes over a :class:`~kalshi_lake.sim.world.World`.

Pure and socket-free: :meth:`SimApp.handle` maps ``(method, target)`` to a :class:`Reply` (status,
body bytes, endpoint label). Behaviour follows Kalshi's pagination and endpoint pages
(https://docs.kalshi.com/getting_started/pagination, https://docs.kalshi.com/api-reference) and
the OpenAPI spec 3.28:

- ``limit`` above an endpoint's maximum is a 400 (the spec's Go validators say ``lte=1000`` /
  ``maximum: 200``); ``0`` or an empty value means the default (``omitempty``).
- Cursors are opaque (base64 of an offset, a fingerprint of the query and an HMAC); the last page
  returns ``""``. A tampered cursor, or one reused with different filters, is a 400.
- Listings are newest first; ``/markets/trades`` and ``/historical/trades`` too.
- Candle requests over 5,000 periods (per-market) or 10,000 (batch, tickers x periods) are 400s;
  the event endpoint instead truncates and reports ``adjusted_end_ts``. Both caps are computed
  from the *requested* range, as observed live.
- Markets settled before ``market_settled_ts`` and trades created before ``trades_created_ts``
  exist only under ``/historical``: 404 for the live single-market and candle paths, silently
  absent from live listings, trades and batch candles.

Simulator-only limit (documented deviation): ``/markets/trades`` without ``ticker`` merges every
market trading in ``[min_ts, max_ts]`` and answers 400 when that spans more than
``MAX_MERGED_MARKETS`` markets (the real API scans the whole exchange).
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from kalshi_lake.sim import orderbooks
from kalshi_lake.sim.candlejson import (
    historical_candle_json,
    live_candle_json,
    period_boundary_at_or_after,
    synthetic_candle,
)
from kalshi_lake.sim.faults import CursorFault, PayloadFaults
from kalshi_lake.sim.model import US, Event, Market, fmt_ts, from_us
from kalshi_lake.sim.wire import (
    PREFIX,
    ApiError,
    Cursors,
    Params,
    Raw,
    Reply,
    bad_request,
    dumps,
    invalid,
    json_text,
    not_found,
)
from kalshi_lake.sim.world import PERIODS, SERIES, UNREGISTERED, World

log = logging.getLogger(__name__)

MAX_CANDLES = 5000
MAX_BATCH_CANDLES = 10000
MAX_BATCH_TICKERS = 100
MAX_MERGED_MARKETS = 600

#: /markets ``status`` filter values and the lifecycle status each one matches.
STATUS_FILTER = {
    "unopened": "initialized",
    "open": "active",
    "paused": "inactive",
    "closed": "closed",
    "settled": "finalized",
}
_EVENT_STATUS = ("unopened", "open", "closed", "settled")


def _sort_markets(markets: Iterable[Market]) -> list[Market]:
    # Newest first, like the real listings; ticker order inside an event.
    return sorted(markets, key=lambda m: (-m.close_us, m.event_ticker, m.index))


class SimApp:
    """The simulator's routes. One instance per server; safe to call from several threads."""

    def __init__(
        self,
        world: World,
        cursor_fault: CursorFault | None = None,
        payload_faults: PayloadFaults | None = None,
    ) -> None:
        self.world = world
        #: Hostile pagination on the requests it matches (``SimConfig.cursor_fault``).
        self.cursor_fault = cursor_fault
        #: Hostile content in well-formed answers (``SimConfig.payload_faults``).
        self.payload_faults = payload_faults
        self.cursors = Cursors(f"kalshi-sim-cursor|{world.seed}".encode())
        self._merged = lru_cache(maxsize=8)(self._merge_trades)
        self._events_cache = lru_cache(maxsize=64)(self._events)
        self._keys_cache = lru_cache(maxsize=64)(self._keys)

    # -----------------------------------------------------------------------------------------
    # entry point

    def handle(self, method: str, target: str) -> Reply:
        """Answer one request. Never raises for bad input: errors become error replies."""
        path, _, query = target.partition("?")
        path = unquote(path)
        endpoint = "unknown"
        try:
            if not path.startswith(PREFIX + "/"):
                raise not_found()
            parts = path[len(PREFIX) + 1 :].split("/")
            route = self._route(parts)
            if route is None:
                raise not_found()
            endpoint, fn, args = route
            if method != "GET":
                raise ApiError(
                    405, {"error": {"code": "method_not_allowed", "message": "method not allowed"}}
                )
            body = fn(Params(query), *args)
            if self.payload_faults is not None and isinstance(body, dict):
                body = self.payload_faults.spoil(body)
            data = body.encode() if isinstance(body, Raw) else dumps(body)
            return Reply(200, data, endpoint)
        except ApiError as exc:
            return Reply(exc.status, dumps(exc.payload), endpoint)
        except Exception as exc:  # a simulator bug: answer 500 and say so, never hang up
            log.exception("simulator error on %s %s", method, target)
            payload = {
                "error": {
                    "code": "internal_server_error",
                    "message": "internal server error",
                    "details": f"simulator bug: {type(exc).__name__}: {exc}",
                }
            }
            return Reply(500, dumps(payload), endpoint)

    def endpoint(self, target: str) -> str:
        """The endpoint label (route template) of a request target, ``"unknown"`` if none."""
        path = unquote(target.partition("?")[0])
        if not path.startswith(PREFIX + "/"):
            return "unknown"
        route = self._route(path[len(PREFIX) + 1 :].split("/"))
        return route[0] if route else "unknown"

    def _route(self, p: list[str]) -> tuple[str, Callable[..., Any], tuple[str, ...]] | None:
        n = len(p)
        if any(s == "" for s in p):
            return None
        head = p[0]
        if head == "series":
            if n == 1:
                return "/series", self.get_series_list, ()
            if n == 2:
                return "/series/{series_ticker}", self.get_series, (p[1],)
            if n == 5 and p[2] == "markets" and p[4] == "candlesticks":
                return (
                    "/series/{series_ticker}/markets/{ticker}/candlesticks",
                    self.get_market_candles,
                    (p[1], p[3]),
                )
            if n == 5 and p[2] == "events" and p[4] == "candlesticks":
                return (
                    "/series/{series_ticker}/events/{ticker}/candlesticks",
                    self.get_event_candles,
                    (p[1], p[3]),
                )
        elif head == "events":
            if n == 1:
                return "/events", self.get_events, ()
            if n == 2:
                return "/events/{event_ticker}", self.get_event, (p[1],)
        elif head == "markets":
            if n == 1:
                return "/markets", self.get_markets, ()
            if n == 2 and p[1] == "trades":
                return "/markets/trades", self.get_trades_live, ()
            if n == 2 and p[1] == "candlesticks":
                return "/markets/candlesticks", self.get_batch_candles, ()
            if n == 2 and p[1] == "orderbooks":
                return "/markets/orderbooks", self.get_orderbooks, ()
            if n == 2:
                return "/markets/{ticker}", self.get_market, (p[1],)
            if n == 3 and p[2] == "orderbook":
                return "/markets/{ticker}/orderbook", self.get_orderbook, (p[1],)
        elif head == "historical":
            if n == 2 and p[1] == "cutoff":
                return "/historical/cutoff", self.get_cutoff, ()
            if n == 2 and p[1] == "markets":
                return "/historical/markets", self.get_historical_markets, ()
            if n == 2 and p[1] == "trades":
                return "/historical/trades", self.get_trades_historical, ()
            if n == 3 and p[1] == "markets":
                return "/historical/markets/{ticker}", self.get_historical_market, (p[2],)
            if n == 4 and p[1] == "markets" and p[3] == "candlesticks":
                return (
                    "/historical/markets/{ticker}/candlesticks",
                    self.get_historical_candles,
                    (p[2],),
                )
        return None

    # -----------------------------------------------------------------------------------------
    # shared helpers

    @staticmethod
    def _limit(params: Params, maximum: int, default: int) -> int:
        v = params.integer("limit")
        if v is None or v == 0:
            return default
        if v < 0:
            raise invalid("Limit", "gte")
        if v > maximum:
            raise invalid("Limit", "lte")
        return v

    def _page(
        self, params: Params, endpoint: str, total: int, maximum: int, default: int
    ) -> tuple[int, int, str]:
        """(start, stop, next cursor) of the requested page over ``total`` items."""
        limit = self._limit(params, maximum, default)
        fp = params.fingerprint(endpoint)
        cursor = params.text("cursor")
        start = self.cursors.decode(cursor, fp) if cursor else 0
        stop = min(total, start + limit)
        fault = self.cursor_fault
        if fault is not None and fault.applies(endpoint, params.raw):
            start, stop, after = fault.page(start, stop, total, limit)
            return start, stop, self.cursors.encode(after, fp)
        nxt = self.cursors.encode(stop, fp) if stop < total else ""
        return start, stop, nxt

    def _market_payloads(self, markets: Iterable[Market]) -> list[dict[str, Any]]:
        return [self.world.market_payload(m) for m in markets]

    def _live_market(self, ticker: str) -> Market:
        m = self.world.market(ticker)
        if m is None or self.world.is_historical(m):
            raise not_found()
        return m

    def _historical_market(self, ticker: str) -> Market:
        m = self.world.market(ticker)
        if m is None or not self.world.is_historical(m):
            raise not_found()
        return m

    def _events(self, tickers: tuple[str, ...] | None, first: Any, last: Any) -> list[Event]:
        series = None if tickers is None else [c for c in SERIES if c.series_ticker in tickers]
        return self.world.events(series, first, last)

    def _keys(self, tickers: tuple[str, ...] | None, first: Any, last: Any) -> list[Any]:
        series = None if tickers is None else [c for c in SERIES if c.series_ticker in tickers]
        return self.world.event_keys(series, first, last)

    def _candle_window(self, params: Params) -> tuple[int, int, int]:
        start = params.integer("start_ts", required=True)
        end = params.integer("end_ts", required=True)
        period = params.integer("period_interval", required=True)
        assert start is not None and end is not None and period is not None
        if period not in PERIODS:
            raise invalid("PeriodInterval", "oneof")
        if start > end:
            raise bad_request("start_ts must not be after end_ts")
        return start, end, period

    @staticmethod
    def _check_cap(start: int, end: int, period: int) -> None:
        requested = (end - start) / (period * 60)
        if requested > MAX_CANDLES:
            raise bad_request(
                f"requested time range with candlesticks: {requested:.6f}, "
                f"max candlesticks: {MAX_CANDLES}"
            )

    def _rows_between(self, market: Market, period: int, start: int, end: int) -> list[Any]:
        rows = self.world.candle_rows(market, period)
        i = bisect_left(rows, start, key=lambda r: r.end_s)
        j = bisect_right(rows, end, key=lambda r: r.end_s)
        return rows[i:j]

    def _live_candles(
        self, market: Market, period: int, start: int, end: int, latest_before: bool
    ) -> str:
        """The JSON array of live candles (plus the synthetic one when asked)."""
        rows = self._rows_between(market, period, start, end)
        salt = zlib.crc32(market.ticker.encode())
        out = [live_candle_json(r, salt) for r in rows]
        if latest_before:
            all_rows = self.world.candle_rows(market, period)
            i = bisect_left(all_rows, start, key=lambda r: r.end_s)
            if i > 0:
                boundary = period_boundary_at_or_after(start, period)
                first_real = rows[0].end_s if rows else None
                if boundary <= end and boundary != first_real:
                    out.insert(0, json_text(synthetic_candle(all_rows[i - 1], boundary)))
        return "[" + ",".join(out) + "]"

    # -----------------------------------------------------------------------------------------
    # series and events

    def get_series_list(self, params: Params) -> dict[str, Any]:
        """GET /series."""
        category = params.text("category")
        tags = params.text("tags")
        volume = bool(params.flag("include_volume"))
        meta = bool(params.flag("include_product_metadata"))
        params.integer("min_updated_ts")
        out = []
        for c in (*SERIES, *UNREGISTERED):
            s = self.world.series_payload(c, include_volume=volume)
            if category is not None and category not in s["categories"]:
                continue
            if tags is not None and not set(tags.split(",")) & set(s["tags"]):
                continue
            if not meta:
                s.pop("product_metadata", None)
            out.append(s)
        return {"series": out}

    def get_series(self, params: Params, series_ticker: str) -> dict[str, Any]:
        """GET /series/{series_ticker}."""
        city = self.world.series(series_ticker)
        if city is None:
            raise not_found()
        return {"series": self.world.series_payload(city, bool(params.flag("include_volume")))}

    def get_events(self, params: Params) -> dict[str, Any]:
        """GET /events."""
        status = params.text("status")
        if status is not None and status not in _EVENT_STATUS:
            raise invalid("Status", "oneof")
        nested = bool(params.flag("with_nested_markets"))
        milestones = bool(params.flag("with_milestones"))
        min_close = params.integer("min_close_ts")
        min_updated = params.integer("min_updated_ts")
        tickers = params.csv("tickers")
        series = params.text("series_ticker")
        w = self.world
        keys: list[tuple[Any, Any]]
        if tickers is not None:
            found = [w.event_by_ticker(t) for t in dict.fromkeys(tickers)]
            keys = sorted(
                ((e.city, e.date) for e in found if e is not None),
                key=lambda k: (-k[1].toordinal(), k[0].event_ticker(k[1])),
            )
            if series is not None:
                keys = [k for k in keys if k[0].series_ticker == series]
        elif series is not None:
            city = w.series(series)
            keys = self._keys_cache((city.series_ticker,), None, None) if city else []
        else:
            keys = self._keys_cache(None, None, None)
        now = w.now_us
        if status is not None or min_close is not None or min_updated is not None:
            want = STATUS_FILTER.get(status) if status else None

            def keep(city: Any, day: Any) -> bool:
                e = w.event(city, day)
                assert e is not None
                return (
                    (want is None or e.status(now) == want)
                    and (min_close is None or e.close_us > min_close * US)
                    and (min_updated is None or e.created_us > min_updated * US)
                )

            keys = [k for k in keys if keep(*k)]
        start, stop, cursor = self._page(params, "/events", len(keys), 200, 200)
        out = []
        for c, d in keys[start:stop]:
            e = w.event(c, d)
            assert e is not None
            markets = self._market_payloads(w.live_markets(e)) if nested else None
            out.append(w.event_payload(e, markets))
        body: dict[str, Any] = {"cursor": cursor, "events": out}
        if milestones:
            body["milestones"] = []
        return body

    def get_event(self, params: Params, event_ticker: str) -> dict[str, Any]:
        """GET /events/{event_ticker}: markets top-level, and nested too when asked."""
        nested = bool(params.flag("with_nested_markets"))
        ev = self.world.event_by_ticker(event_ticker)
        if ev is None:
            raise not_found()
        markets = self._market_payloads(self.world.live_markets(ev))
        return {
            "event": self.world.event_payload(ev, markets if nested else None),
            "markets": markets,
        }

    # -----------------------------------------------------------------------------------------
    # markets

    def get_markets(self, params: Params) -> dict[str, Any]:
        """GET /markets with the documented filter restrictions."""
        status = params.text("status")
        if status is not None and status not in STATUS_FILTER:
            raise invalid("Status", "oneof")
        mve = params.text("mve_filter")
        if mve is not None and mve not in ("only", "exclude"):
            raise invalid("MveFilter", "oneof")
        ts = {
            name: params.integer(name)
            for name in (
                "min_created_ts",
                "max_created_ts",
                "min_close_ts",
                "max_close_ts",
                "min_settled_ts",
                "max_settled_ts",
                "min_updated_ts",
            )
        }
        families = {
            "created": ts["min_created_ts"] is not None or ts["max_created_ts"] is not None,
            "close": ts["min_close_ts"] is not None or ts["max_close_ts"] is not None,
            "settled": ts["min_settled_ts"] is not None or ts["max_settled_ts"] is not None,
            "updated": ts["min_updated_ts"] is not None,
        }
        used = [f for f, on in families.items() if on]
        if len(used) > 1:
            raise bad_request(f"timestamp filters cannot be combined: {', '.join(used)}")
        allowed = {
            "created": (None, "unopened", "open"),
            "close": (None, "closed"),
            "settled": (None, "settled"),
            "updated": (None,),
        }
        if used and status not in allowed[used[0]]:
            raise bad_request(f"{used[0]} timestamp filters are incompatible with status={status}")
        event_ticker = params.text("event_ticker")
        tickers = params.csv("tickers")
        series = params.text("series_ticker")
        if used == ["updated"] and (
            mve != "exclude" or event_ticker is not None or tickers is not None
        ):
            raise bad_request("min_updated_ts requires mve_filter=exclude and no other filters")
        if event_ticker is not None and "," in event_ticker:
            raise bad_request("only a single event_ticker is supported")

        w = self.world
        candidates: list[Market]
        if mve == "only":
            candidates = []
        elif tickers is not None:
            found = (w.market(t) for t in dict.fromkeys(tickers))
            candidates = [m for m in found if m is not None]
        elif event_ticker is not None:
            ev = w.event_by_ticker(event_ticker)
            candidates = list(ev.markets) if ev else []
        else:
            names: tuple[str, ...] | None = None
            if series is not None:
                city = w.series(series)
                names = (city.series_ticker,) if city else ()
            if names == ():
                candidates = []
            else:
                evs = self._events_cache(names, w.live_window_first_day(), None)
                candidates = [m for e in evs for m in e.markets]
        if series is not None:
            candidates = [m for m in candidates if m.series_ticker == series]
        now = w.now_us
        want = STATUS_FILTER.get(status) if status else None
        lo_hi = {
            "created": ("min_created_ts", "max_created_ts", lambda m: m.created_us),
            "close": ("min_close_ts", "max_close_ts", lambda m: m.close_us),
            "settled": ("min_settled_ts", "max_settled_ts", lambda m: m.settlement_us),
            "updated": ("min_updated_ts", "", lambda m: m.updated_open_us),
        }
        out = []
        for m in candidates:
            if w.is_historical(m):
                continue
            st = m.status(now)
            if want is not None and st != want:
                continue
            if used:
                lo_name, hi_name, get = lo_hi[used[0]]
                if used[0] == "settled" and st != "finalized":
                    continue
                v = get(m)
                lo = ts[lo_name]
                hi = ts[hi_name] if hi_name else None
                if lo is not None and v < lo * US:
                    continue
                if hi is not None and v > hi * US:
                    continue
            out.append(m)
        markets = _sort_markets(out)
        start, stop, cursor = self._page(params, "/markets", len(markets), 1000, 100)
        return {"cursor": cursor, "markets": self._market_payloads(markets[start:stop])}

    def get_market(self, params: Params, ticker: str) -> dict[str, Any]:
        """GET /markets/{ticker}: 404 once archived."""
        return {"market": self.world.market_payload(self._live_market(ticker))}

    def get_orderbook(self, params: Params, ticker: str) -> dict[str, Any]:
        """GET /markets/{ticker}/orderbook (:mod:`kalshi_lake.sim.orderbooks`)."""
        return orderbooks.get_orderbook(self.world, params, ticker)

    def get_orderbooks(self, params: Params) -> dict[str, Any]:
        """GET /markets/orderbooks (:mod:`kalshi_lake.sim.orderbooks`)."""
        return orderbooks.get_orderbooks(self.world, params)

    # -----------------------------------------------------------------------------------------
    # trades

    def get_trades_live(self, params: Params) -> dict[str, Any]:
        """GET /markets/trades: trades created at or after ``trades_created_ts``."""
        return self._trades(params, "/markets/trades", self.world.cutoff_us, self.world.now_us)

    def get_trades_historical(self, params: Params) -> dict[str, Any]:
        """GET /historical/trades: trades created before ``trades_created_ts``."""
        return self._trades(params, "/historical/trades", 0, self.world.cutoff_us - 1)

    def _trades(self, params: Params, endpoint: str, tier_lo: int, tier_hi: int) -> dict[str, Any]:
        ticker = params.text("ticker")
        min_ts = params.integer("min_ts")
        max_ts = params.integer("max_ts")
        block = params.flag("is_block_trade")
        self._limit(params, 1000, 100)
        lo = tier_lo if min_ts is None else max(tier_lo, min_ts * US)
        hi = tier_hi if max_ts is None else min(tier_hi, max_ts * US)
        w = self.world
        if ticker is not None:
            m = w.market(ticker)
            if m is None or hi < lo:
                refs: list[tuple[str, int]] = []
                total = 0
            else:
                i, j = w.trade_index_range(m, lo, hi)
                if block is None:
                    refs = []
                    total = j - i
                else:
                    tape = w.tape(m)
                    refs = [
                        (ticker, k) for k in range(j - 1, i - 1, -1) if tape.t_block[k] == block
                    ]
                    total = len(refs)
            start, stop, cursor = self._page(params, endpoint, total, 1000, 100)
            if m is not None and block is None:
                dicts = w.trade_dicts(ticker)
                page = [dicts[k] for k in range(j - 1 - start, j - 1 - stop, -1)]
                before = dicts[j - start] if 0 < start <= j - i else None
            else:
                page = [w.trade_dicts(t)[k] for t, k in refs[start:stop]]
                before = (
                    w.trade_dicts(refs[start - 1][0])[refs[start - 1][1]]
                    if 0 < start <= len(refs)
                    else None
                )
            return {"cursor": cursor, "trades": self._conflict(before, page)}
        merged = self._merged(lo, hi, block)
        start, stop, cursor = self._page(params, endpoint, len(merged), 1000, 100)
        page = [w.trade_dicts(t)[k] for _, t, k in merged[start:stop]]
        prev = merged[start - 1] if 0 < start <= len(merged) else None
        before = w.trade_dicts(prev[1])[prev[2]] if prev is not None else None
        return {"cursor": cursor, "trades": self._conflict(before, page)}

    def _conflict(
        self, before: dict[str, Any] | None, page: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The trades of a page; with the ``trade_conflict`` fault, a page after the first
        starts with ``before`` (the previous page's last trade) again, its price changed."""
        faults = self.payload_faults
        if faults is None or not faults.trade_conflict or before is None or not page:
            return page
        return [faults.conflicting_trade(before), *page]

    def _merge_trades(self, lo: int, hi: int, block: bool | None) -> list[tuple[int, str, int]]:
        w = self.world
        if hi < lo:
            return []
        d_lo = from_us(lo).date()
        d_hi = from_us(min(hi, w.now_us)).date()
        evs = self._events_cache(None, d_lo - dt.timedelta(days=1), d_hi + dt.timedelta(days=2))
        markets = [m for e in evs for m in e.markets if m.open_us <= hi and m.close_us >= lo]
        if len(markets) > MAX_MERGED_MARKETS:
            raise bad_request(
                f"simulator: {len(markets)} markets trade in that window (max "
                f"{MAX_MERGED_MARKETS}); pass ticker or narrow min_ts/max_ts"
            )
        out: list[tuple[int, str, int]] = []
        for m in markets:
            i, j = w.trade_index_range(m, lo, hi)
            if i >= j:
                continue
            tape = w.tape(m)
            for k in range(i, j):
                if block is None or tape.t_block[k] == block:
                    out.append((tape.t_us[k], m.ticker, k))
        out.sort(key=lambda r: (-r[0], r[1], -r[2]))
        return out

    # -----------------------------------------------------------------------------------------
    # candles

    def get_market_candles(self, params: Params, series: str, ticker: str) -> Raw:
        """GET /series/{s}/markets/{t}/candlesticks (live tier)."""
        start, end, period = self._candle_window(params)
        latest = bool(params.flag("include_latest_before_start"))
        self._check_cap(start, end, period)
        if self.world.series(series) is None:
            raise not_found()
        m = self._live_market(ticker)
        if m.series_ticker != series:
            raise not_found()
        candles = self._live_candles(m, period, start, end, latest)
        return Raw(f'{{"candlesticks":{candles},"ticker":{json_text(ticker)}}}')

    def get_event_candles(self, params: Params, series: str, event_ticker: str) -> Raw:
        """GET /series/{s}/events/{e}/candlesticks: 5,000 candles across all markets per call."""
        start, end, period = self._candle_window(params)
        ev = self.world.event_by_ticker(event_ticker)
        if ev is None or ev.series_ticker != series:
            raise not_found()
        markets = self.world.live_markets(ev)
        if not markets:
            raise not_found()
        step = period * 60
        adjusted = end
        if len(markets) * (end - start) / step > MAX_CANDLES:
            adjusted = start + (MAX_CANDLES // len(markets)) * step
        lists = ",".join(self._live_candles(m, period, start, adjusted, False) for m in markets)
        tickers = json_text([m.ticker for m in markets])
        return Raw(
            f'{{"adjusted_end_ts":{adjusted},"market_candlesticks":[{lists}],'
            f'"market_tickers":{tickers}}}'
        )

    def get_batch_candles(self, params: Params) -> Raw:
        """GET /markets/candlesticks: <= 100 tickers, <= 10,000 requested candles in total."""
        tickers = params.csv("market_tickers")
        if not tickers:
            raise invalid("MarketTickers", "required")
        if len(tickers) > MAX_BATCH_TICKERS:
            raise bad_request(f"too many market tickers: {len(tickers)}, max {MAX_BATCH_TICKERS}")
        start, end, period = self._candle_window(params)
        latest = bool(params.flag("include_latest_before_start"))
        requested = len(tickers) * ((end - start) // (period * 60))
        if requested > MAX_BATCH_CANDLES:
            raise bad_request(
                f"requested candlesticks across all markets: {requested}, "
                f"max candlesticks: {MAX_BATCH_CANDLES}"
            )
        out = []
        for t in dict.fromkeys(tickers):
            m = self.world.market(t)
            if m is None or self.world.is_historical(m):
                continue  # unknown and archived tickers are silently left out
            candles = self._live_candles(m, period, start, end, latest)
            out.append(f'{{"candlesticks":{candles},"market_ticker":{json_text(t)}}}')
        return Raw('{"markets":[' + ",".join(out) + "]}")

    # -----------------------------------------------------------------------------------------
    # historical tier

    def get_cutoff(self, params: Params) -> dict[str, Any]:
        """GET /historical/cutoff."""
        return {k: fmt_ts(self.world.cutoff_us) for k in sorted(self.world.cutoff)}

    def get_historical_markets(self, params: Params) -> dict[str, Any]:
        """GET /historical/markets: one of ``tickers`` / ``event_ticker`` / ``series_ticker``."""
        tickers = params.csv("tickers")
        event_ticker = params.text("event_ticker")
        series = params.text("series_ticker")
        mve = params.text("mve_filter")
        if mve is not None and mve != "exclude":
            raise invalid("MveFilter", "oneof")
        given = [n for n, v in (("tickers", tickers), ("event_ticker", event_ticker),
                                ("series_ticker", series)) if v is not None]  # fmt: skip
        if len(given) > 1:
            raise bad_request(f"filters are mutually exclusive: {', '.join(given)}")
        w = self.world
        if tickers is not None:
            found = (w.market(t) for t in dict.fromkeys(tickers))
            candidates = [m for m in found if m is not None]
        elif event_ticker is not None:
            ev = w.event_by_ticker(event_ticker)
            candidates = list(ev.markets) if ev else []
        else:
            names: tuple[str, ...] | None = None
            if series is not None:
                city = w.series(series)
                names = (city.series_ticker,) if city else ()
            evs = (
                []
                if names == ()
                else self._events_cache(names, None, w.historical_window_last_day())
            )
            candidates = [m for e in evs for m in e.markets]
        markets = _sort_markets(m for m in candidates if w.is_historical(m))
        start, stop, cursor = self._page(params, "/historical/markets", len(markets), 1000, 100)
        return {"cursor": cursor, "markets": self._market_payloads(markets[start:stop])}

    def get_historical_market(self, params: Params, ticker: str) -> dict[str, Any]:
        """GET /historical/markets/{ticker}: archived markets only."""
        return {"market": self.world.market_payload(self._historical_market(ticker))}

    def get_historical_candles(self, params: Params, ticker: str) -> Raw:
        """GET /historical/markets/{ticker}/candlesticks (flat field names)."""
        start, end, period = self._candle_window(params)
        self._check_cap(start, end, period)
        m = self._historical_market(ticker)
        rows = self._rows_between(m, period, start, end)
        candles = ",".join(historical_candle_json(r) for r in rows)
        return Raw(f'{{"candlesticks":[{candles}],"ticker":{json_text(ticker)}}}')
