"""What every family of the simulator's routes shares: the world, the faults, opaque cursors,
``limit`` and paging, and the market lookups of the live and historical tiers.

The routes themselves are in :mod:`~kalshi_lake.sim.api_markets`, :mod:`~kalshi_lake.sim.api_trades`
and :mod:`~kalshi_lake.sim.api_candles`; :class:`~kalshi_lake.sim.api.SimApp` joins them and routes
requests to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from kalshi_lake.sim.faults import CursorFault, PayloadFaults
from kalshi_lake.sim.model import Event, Market
from kalshi_lake.sim.wire import Cursors, Params, invalid, not_found
from kalshi_lake.sim.world import SERIES, World


class RouteBase:
    """The state and helpers the simulator's route families share (one instance per server;
    safe to call from several threads)."""

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
        self._events_cache = lru_cache(maxsize=64)(self._events)
        self._keys_cache = lru_cache(maxsize=64)(self._keys)

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
