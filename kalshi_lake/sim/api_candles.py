"""The simulator's candle routes: per market, per event and batch (live tier), and per market
in the historical tier.

Requests over 5,000 periods (per-market) or 10,000 (batch, tickers x periods) are 400s; the event
endpoint instead truncates and reports ``adjusted_end_ts``. Both caps are computed from the
*requested* range, as observed live.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left, bisect_right
from typing import Any

from kalshi_lake.sim.api_base import RouteBase
from kalshi_lake.sim.candlejson import (
    historical_candle_json,
    live_candle_json,
    period_boundary_at_or_after,
    synthetic_candle,
)
from kalshi_lake.sim.model import Market
from kalshi_lake.sim.wire import Params, Raw, bad_request, invalid, json_text, not_found
from kalshi_lake.sim.world import PERIODS

MAX_CANDLES = 5000
MAX_BATCH_CANDLES = 10000
MAX_BATCH_TICKERS = 100


class CandleRoutes(RouteBase):
    """GET the candlesticks endpoints."""

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

    def get_historical_candles(self, params: Params, ticker: str) -> Raw:
        """GET /historical/markets/{ticker}/candlesticks (flat field names)."""
        start, end, period = self._candle_window(params)
        self._check_cap(start, end, period)
        m = self._historical_market(ticker)
        rows = self._rows_between(m, period, start, end)
        candles = ",".join(historical_candle_json(r) for r in rows)
        return Raw(f'{{"candlesticks":[{candles}],"ticker":{json_text(ticker)}}}')
