"""The simulator's trade routes: ``/markets/trades`` (live tier) and ``/historical/trades``.

Simulator-only limit (documented deviation): ``/markets/trades`` without ``ticker`` merges every
market trading in ``[min_ts, max_ts]`` and answers 400 when that spans more than
:data:`MAX_MERGED_MARKETS` markets (the real API scans the whole exchange).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cached_property, lru_cache
from typing import Any

from kalshi_lake.sim.api_base import RouteBase
from kalshi_lake.sim.model import US, from_us
from kalshi_lake.sim.wire import Params, bad_request

MAX_MERGED_MARKETS = 600


class TradeRoutes(RouteBase):
    """GET /markets/trades and /historical/trades."""

    @cached_property
    def _merged(self) -> Callable[[int, int, bool | None], list[tuple[int, str, int]]]:
        """:meth:`_merge_trades` remembering its last 8 windows (one cache per app)."""
        return lru_cache(maxsize=8)(self._merge_trades)

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
