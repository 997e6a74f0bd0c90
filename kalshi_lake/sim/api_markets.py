"""The simulator's listing routes: series, events, markets (live tier) and archived markets
(historical tier), with Kalshi's filter rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kalshi_lake.sim.api_base import RouteBase
from kalshi_lake.sim.model import US, Market
from kalshi_lake.sim.wire import Params, bad_request, invalid, not_found
from kalshi_lake.sim.world import SERIES, UNREGISTERED

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


class MarketRoutes(RouteBase):
    """GET /series, /events, /markets and /historical/markets (lists and single items)."""

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
        candidates: list[Market] = []
        if mve != "only":
            first = w.live_window_first_day()
            candidates = self._candidates(tickers, event_ticker, series, first, None)
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
        last = w.historical_window_last_day()
        candidates = self._candidates(tickers, event_ticker, series, None, last)
        markets = _sort_markets(m for m in candidates if w.is_historical(m))
        start, stop, cursor = self._page(params, "/historical/markets", len(markets), 1000, 100)
        return {"cursor": cursor, "markets": self._market_payloads(markets[start:stop])}

    def get_historical_market(self, params: Params, ticker: str) -> dict[str, Any]:
        """GET /historical/markets/{ticker}: archived markets only."""
        return {"market": self.world.market_payload(self._historical_market(ticker))}

    def _candidates(
        self,
        tickers: list[str] | None,
        event_ticker: str | None,
        series: str | None,
        first: Any,
        last: Any,
    ) -> list[Market]:
        """The markets a market listing starts from: the ``tickers`` given (unknown ones left
        out), else the markets of ``event_ticker``, else those of the events of ``series`` (of
        every series when None) with climate dates in ``[first, last]``."""
        w = self.world
        if tickers is not None:
            found = (w.market(t) for t in dict.fromkeys(tickers))
            return [m for m in found if m is not None]
        if event_ticker is not None:
            ev = w.event_by_ticker(event_ticker)
            return list(ev.markets) if ev else []
        names: tuple[str, ...] | None = None
        if series is not None:
            city = w.series(series)
            if city is None:
                return []
            names = (city.series_ticker,)
        return [m for e in self._events_cache(names, first, last) for m in e.markets]
