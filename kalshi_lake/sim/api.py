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
- Markets settled before ``market_settled_ts`` and trades created before ``trades_created_ts``
  exist only under ``/historical``: 404 for the live single-market and candle paths, silently
  absent from live listings, trades and batch candles.
- Candle caps: :mod:`~kalshi_lake.sim.api_candles`; the one simulator-only limit (a documented
  deviation, on merged trades): :mod:`~kalshi_lake.sim.api_trades`.

The routes live in :mod:`~kalshi_lake.sim.api_markets`, :mod:`~kalshi_lake.sim.api_trades` and
:mod:`~kalshi_lake.sim.api_candles` (on :class:`~kalshi_lake.sim.api_base.RouteBase`);
:class:`SimApp` joins them and routes each request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from kalshi_lake.sim import orderbooks
from kalshi_lake.sim.api_candles import CandleRoutes
from kalshi_lake.sim.api_markets import MarketRoutes
from kalshi_lake.sim.api_trades import TradeRoutes
from kalshi_lake.sim.model import fmt_ts
from kalshi_lake.sim.wire import PREFIX, ApiError, Params, Raw, Reply, dumps, not_found

log = logging.getLogger(__name__)


class SimApp(MarketRoutes, TradeRoutes, CandleRoutes):
    """The simulator's routes. One instance per server; safe to call from several threads."""

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
    # order books and the historical cutoff

    def get_orderbook(self, params: Params, ticker: str) -> dict[str, Any]:
        """GET /markets/{ticker}/orderbook (:mod:`kalshi_lake.sim.orderbooks`)."""
        return orderbooks.get_orderbook(self.world, params, ticker)

    def get_orderbooks(self, params: Params) -> dict[str, Any]:
        """GET /markets/orderbooks (:mod:`kalshi_lake.sim.orderbooks`)."""
        return orderbooks.get_orderbooks(self.world, params)

    def get_cutoff(self, params: Params) -> dict[str, Any]:
        """GET /historical/cutoff."""
        return {k: fmt_ts(self.world.cutoff_us) for k in sorted(self.world.cutoff)}
