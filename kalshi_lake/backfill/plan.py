"""Pure planning: the historical cutoff, market facts, tier routing and candle windows.

Routing follows https://docs.kalshi.com/getting_started/historical_data. Markets (and their
candlesticks) are partitioned by ``market_settled_ts``: a market settled before it lives only on
``/historical/*``. Trades are partitioned separately by ``trades_created_ts``, so one market's
trades can straddle the cutoff: the older ones are only on ``/historical/trades`` and the newer
ones only on ``/markets/trades``.
Nothing here does IO, so every rule is unit-tested directly.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kalshi_lake.errors import SchemaError

#: Statuses (response values and the odd filter value seen in responses) of markets that can
#: still trade. Anything else has stopped trading: its trades and candles are complete.
OPEN_STATUSES = frozenset({"initialized", "inactive", "active", "unopened", "open", "paused"})
#: Statuses of markets whose settlement is final (with a result set): their state cannot change.
FINAL_STATUSES = frozenset({"finalized", "settled"})

CANDLE_WINDOWS = ("full", "trades")

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_ts(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp (variable fractional digits, ``Z``) as UTC; None for null/empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SchemaError(f"timestamp {value!r} is not a string")
    try:
        ts = dt.datetime.fromisoformat(_FRACTION.sub(r"\1", value))
    except ValueError:
        raise SchemaError(f"timestamp {value!r} is not RFC 3339") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(dt.UTC)


def epoch(ts: dt.datetime) -> float:
    """Unix seconds of an aware datetime."""
    return ts.timestamp()


def floor_minute(seconds: float) -> int:
    """The minute boundary at or before ``seconds``."""
    return math.floor(seconds / 60.0) * 60


def ceil_minute(seconds: float) -> int:
    """The minute boundary at or after ``seconds``."""
    return math.ceil(seconds / 60.0) * 60


def day_start(d: dt.date) -> dt.datetime:
    """00:00 UTC of ``d``."""
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Cutoff:
    """``GET /historical/cutoff``: where the live tier ends."""

    market_settled: dt.datetime
    trades_created: dt.datetime

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Cutoff:
        """Parse the cutoff response (RFC 3339 strings)."""
        ms = parse_ts(data.get("market_settled_ts"))
        tc = parse_ts(data.get("trades_created_ts"))
        if ms is None:
            raise SchemaError("historical cutoff has no market_settled_ts")
        return cls(market_settled=ms, trades_created=tc or ms)


@dataclass(frozen=True)
class MarketInfo:
    """The facts about one market that planning needs (from its JSON payload or saved state)."""

    ticker: str
    event_ticker: str
    status: str
    result: str
    open_ts: float | None
    close_ts: float | None
    settlement_ts: float | None
    source_tier: str
    #: Contracts traded over the market's life as its payload reports them (``volume_fp``, or
    #: the legacy integer ``volume``); None when the payload has neither (or an old state record).
    volume: float | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any], source_tier: str) -> MarketInfo:
        """From a Market object as served by ``/markets`` or ``/historical/markets``."""
        ticker = data.get("ticker")
        event = data.get("event_ticker")
        if not isinstance(ticker, str) or not ticker:
            raise SchemaError("market object without a ticker")
        if not isinstance(event, str) or not event:
            event = ticker.rsplit("-", 1)[0]

        def ts(name: str) -> float | None:
            v = parse_ts(data.get(name))
            # created/open times of old markets can be year 1: treat as unknown.
            return epoch(v) if v is not None and v.year > 1970 else None

        return cls(
            ticker=ticker,
            event_ticker=event,
            status=str(data.get("status") or ""),
            result=str(data.get("result") or ""),
            open_ts=ts("open_time"),
            close_ts=ts("close_time"),
            settlement_ts=ts("settlement_ts"),
            source_tier=source_tier,
            volume=_volume(data),
        )

    @classmethod
    def from_state(cls, rec: Mapping[str, Any]) -> MarketInfo:
        """From a ``market/<ticker>`` state record written by :meth:`to_state`."""
        return cls(
            ticker=str(rec["ticker"]),
            event_ticker=str(rec["event_ticker"]),
            status=str(rec.get("status", "")),
            result=str(rec.get("result", "")),
            open_ts=rec.get("open_ts"),
            close_ts=rec.get("close_ts"),
            settlement_ts=rec.get("settlement_ts"),
            source_tier=str(rec.get("source_tier", "live")),
            volume=rec.get("volume"),
        )

    def to_state(self) -> dict[str, Any]:
        """JSON-able record (with ``final``)."""
        return {
            "ticker": self.ticker,
            "event_ticker": self.event_ticker,
            "status": self.status,
            "result": self.result,
            "open_ts": self.open_ts,
            "close_ts": self.close_ts,
            "settlement_ts": self.settlement_ts,
            "source_tier": self.source_tier,
            "volume": self.volume,
            "final": self.is_final,
        }

    @property
    def trading_over(self) -> bool:
        """No more trades or candles can appear (closed, determined, settled, ...)."""
        return bool(self.status) and self.status not in OPEN_STATUSES

    @property
    def is_final(self) -> bool:
        """Settled with a result: the market's state will not change again."""
        return self.status in FINAL_STATUSES and bool(self.result)

    @property
    def never_traded(self) -> bool:
        """Closed (or settled) and its payload says not one contract traded: no trades to walk.

        An open market with volume 0 may still trade, so it is not counted here; nor is one
        whose payload has no volume at all.
        """
        return self.trading_over and self.volume == 0


def _volume(data: Mapping[str, Any]) -> float | None:
    """A market payload's lifetime volume: ``volume_fp`` ("12.00"), else legacy ``volume`` (12)."""
    for name in ("volume_fp", "volume"):
        value = data.get(name)
        if isinstance(value, bool) or value is None or value == "":
            continue
        try:
            return float(value)
        except (TypeError, ValueError):
            # A malformed volume proves nothing: the trades are walked.
            return None
    return None


def market_tier(m: MarketInfo, cutoff: Cutoff) -> str:
    """``historical`` if the market settled before ``market_settled_ts`` (else ``live``).

    A market seen only on the historical listing is historical whatever its timestamps say.
    """
    if m.source_tier == "historical":
        return "historical"
    settled = m.settlement_ts
    if settled is None and m.status in FINAL_STATUSES:
        settled = m.close_ts
    if settled is not None and settled < epoch(cutoff.market_settled):
        return "historical"
    return "live"


def trade_tiers(m: MarketInfo, cutoff: Cutoff, since: float | None = None) -> list[str]:
    """Which trade endpoints can hold the market's trades created at or after ``since``.

    Trades created before ``trades_created_ts`` are only on ``/historical/trades``; later ones
    only on ``/markets/trades``. A market open across the cutoff needs both.
    """
    cut = epoch(cutoff.trades_created)
    known = [x for x in (m.open_ts, since) if x is not None]
    lo = max(known) if known else None
    hi = m.close_ts
    if hi is not None and hi < cut:
        return ["historical"]
    if lo is not None and lo >= cut:
        return ["live"]
    return ["historical", "live"]


def candle_window(
    m: MarketInfo,
    mode: str,
    trade_lo: float | None = None,
    trade_hi: float | None = None,
) -> tuple[int, int] | None:
    """``(start_ts, end_ts)`` of 1-minute candles to request for ``m``, or None for nothing.

    ``full``: the market's open-to-close window. ``trades``: only the minutes with trades
    (None when it has none). Bounds are minute-aligned and generous by one period: a request
    returns candles *ending* in ``[start_ts, end_ts]``.
    """
    if mode not in CANDLE_WINDOWS:
        raise ValueError(f"candle window must be one of {CANDLE_WINDOWS}, got {mode!r}")
    if mode == "trades":
        if trade_lo is None or trade_hi is None:
            return None
        return floor_minute(trade_lo), ceil_minute(trade_hi) + 60
    if m.open_ts is None or m.close_ts is None:
        if trade_lo is None or trade_hi is None:
            return None
        return floor_minute(trade_lo), ceil_minute(trade_hi) + 60
    return floor_minute(m.open_ts), ceil_minute(m.close_ts) + 60


def union_window(windows: Iterable[tuple[int, int] | None]) -> tuple[int, int] | None:
    """The smallest window covering every given one (None if there are none)."""
    ws = [w for w in windows if w is not None]
    if not ws:
        return None
    return min(w[0] for w in ws), max(w[1] for w in ws)


def with_watermark(window: tuple[int, int] | None, hi_ts: float | None) -> tuple[int, int] | None:
    """Start an incremental pull at the last stored candle (its boundary candle comes again)."""
    if window is None:
        return None
    if hi_ts is None:
        return window
    start = max(window[0], int(hi_ts))
    return (start, window[1]) if start <= window[1] else None


def trade_page_span(trades: Iterable[Mapping[str, Any]]) -> tuple[float | None, float | None, int]:
    """``(oldest, newest, count)`` of the ``created_time`` values on one trades page."""
    lo: float | None = None
    hi: float | None = None
    n = 0
    for t in trades:
        n += 1
        ts = parse_ts(t.get("created_time"))
        if ts is None:
            continue
        s = epoch(ts)
        lo = s if lo is None or s < lo else lo
        hi = s if hi is None or s > hi else hi
    return lo, hi, n


def merge_span(
    a: tuple[float | None, float | None], b: tuple[float | None, float | None]
) -> tuple[float | None, float | None]:
    """Union of two ``(lo, hi)`` spans where either side may be unknown."""
    los = [x for x in (a[0], b[0]) if x is not None]
    his = [x for x in (a[1], b[1]) if x is not None]
    return (min(los) if los else None, max(his) if his else None)


def choose_historical_listing(
    n_events: int, n_series_events: int, markets_per_event: int = 6
) -> str:
    """``series`` to page the whole series' archive, ``event`` for one request per event.

    ``/historical/markets?series_ticker=`` returns every archived market of the series at 1,000
    per page; ``?event_ticker=`` costs one request per event. Pick whichever needs fewer requests.
    """
    series_pages = max(1, math.ceil(n_series_events * markets_per_event / 1000))
    return "series" if n_events > series_pages else "event"
