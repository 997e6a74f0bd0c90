"""Candle payloads: the live-tier and historical-tier candlestick JSON objects of a candle row.

The two tiers' shapes (https://docs.kalshi.com/api-reference/market/get-market-candlesticks and
the historical endpoint's flat names), the direct-to-text builders the server uses (candles are
most of its bytes), the synthetic ``include_latest_before_start`` candle and period boundaries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kalshi_lake.sim.model import ET, US, count_fp, dollars, dollars4, from_us, to_us
from kalshi_lake.sim.tape import CandleRow, vwap_ten_thousandths


def _ohlc_live(v: tuple[int, int, int, int]) -> dict[str, str]:
    return {
        "close_dollars": dollars(v[3]),
        "high_dollars": dollars(v[1]),
        "low_dollars": dollars(v[2]),
        "open_dollars": dollars(v[0]),
    }


def _ohlc_hist(v: tuple[int, int, int, int]) -> dict[str, str]:
    return {
        "close": dollars(v[3]),
        "high": dollars(v[1]),
        "low": dollars(v[2]),
        "open": dollars(v[0]),
    }


def live_candle(row: CandleRow, salt: int) -> dict[str, Any]:
    """A live-tier MarketCandlestick.

    No-trade periods vary, deterministically per (market, period), between the three shapes seen
    in real payloads: ``price: {}``, only ``previous_dollars``, and explicit nulls.
    """
    prev = dollars(row.previous) if row.previous is not None else None
    if row.price is not None:
        o, h, lo, c = row.price
        price: dict[str, Any] = {
            "close_dollars": dollars(c),
            "high_dollars": dollars(h),
            "low_dollars": dollars(lo),
            "mean_dollars": dollars4(vwap_ten_thousandths(row.notional, row.volume_cc)),
            "open_dollars": dollars(o),
            "previous_dollars": prev,
        }
    else:
        variant = (row.end_s // 60 + salt) % 3
        if variant == 0:
            price = {}
        elif variant == 1:
            price = {"previous_dollars": prev} if prev is not None else {}
        else:
            price = {
                "close_dollars": None,
                "high_dollars": None,
                "low_dollars": None,
                "mean_dollars": None,
                "open_dollars": None,
                "previous_dollars": prev,
            }
    return {
        "end_period_ts": row.end_s,
        "open_interest_fp": count_fp(row.oi_cc),
        "price": price,
        "volume_fp": count_fp(row.volume_cc),
        "yes_ask": _ohlc_live(row.ask),
        "yes_bid": _ohlc_live(row.bid),
    }


def historical_candle(row: CandleRow) -> dict[str, Any]:
    """A historical-tier MarketCandlestickHistorical: flat names, explicit nulls, string counts."""
    prev = dollars(row.previous) if row.previous is not None else None
    if row.price is not None:
        o, h, lo, c = row.price
        price: dict[str, Any] = {
            "close": dollars(c),
            "high": dollars(h),
            "low": dollars(lo),
            "mean": dollars4(vwap_ten_thousandths(row.notional, row.volume_cc)),
            "open": dollars(o),
            "previous": prev,
        }
    else:
        price = {
            "close": None,
            "high": None,
            "low": None,
            "mean": None,
            "open": None,
            "previous": prev,
        }
    return {
        "end_period_ts": row.end_s,
        "open_interest": count_fp(row.oi_cc),
        "price": price,
        "volume": count_fp(row.volume_cc),
        "yes_ask": _ohlc_hist(row.ask),
        "yes_bid": _ohlc_hist(row.bid),
    }


def _q(v: str | None) -> str:
    return "null" if v is None else f'"{v}"'


def _ohlc_json(v: tuple[int, int, int, int], suffix: str) -> str:
    return (
        f'{{"close{suffix}":"{dollars(v[3])}","high{suffix}":"{dollars(v[1])}",'
        f'"low{suffix}":"{dollars(v[2])}","open{suffix}":"{dollars(v[0])}"}}'
    )


def live_candle_json(row: CandleRow, salt: int) -> str:
    """``json.dumps(live_candle(row, salt), sort_keys=True, separators=(",", ":"))``, built
    directly (candles are most of the simulator's bytes; tests hold the two equal)."""
    prev = _q(dollars(row.previous)) if row.previous is not None else "null"
    if row.price is not None:
        o, h, lo, c = row.price
        mean = dollars4(vwap_ten_thousandths(row.notional, row.volume_cc))
        price = (
            f'{{"close_dollars":"{dollars(c)}","high_dollars":"{dollars(h)}",'
            f'"low_dollars":"{dollars(lo)}","mean_dollars":"{mean}",'
            f'"open_dollars":"{dollars(o)}","previous_dollars":{prev}}}'
        )
    else:
        variant = (row.end_s // 60 + salt) % 3
        if variant == 0 or (variant == 1 and row.previous is None):
            price = "{}"
        elif variant == 1:
            price = f'{{"previous_dollars":{prev}}}'
        else:
            price = (
                '{"close_dollars":null,"high_dollars":null,"low_dollars":null,'
                f'"mean_dollars":null,"open_dollars":null,"previous_dollars":{prev}}}'
            )
    return (
        f'{{"end_period_ts":{row.end_s},"open_interest_fp":"{count_fp(row.oi_cc)}",'
        f'"price":{price},"volume_fp":"{count_fp(row.volume_cc)}",'
        f'"yes_ask":{_ohlc_json(row.ask, "_dollars")},"yes_bid":{_ohlc_json(row.bid, "_dollars")}}}'
    )


def historical_candle_json(row: CandleRow) -> str:
    """``json.dumps(historical_candle(row), sort_keys=True, separators=(",", ":"))``, direct."""
    prev = _q(dollars(row.previous)) if row.previous is not None else "null"
    if row.price is not None:
        o, h, lo, c = row.price
        mean = dollars4(vwap_ten_thousandths(row.notional, row.volume_cc))
        price = (
            f'{{"close":"{dollars(c)}","high":"{dollars(h)}","low":"{dollars(lo)}",'
            f'"mean":"{mean}","open":"{dollars(o)}","previous":{prev}}}'
        )
    else:
        price = f'{{"close":null,"high":null,"low":null,"mean":null,"open":null,"previous":{prev}}}'
    return (
        f'{{"end_period_ts":{row.end_s},"open_interest":"{count_fp(row.oi_cc)}",'
        f'"price":{price},"volume":"{count_fp(row.volume_cc)}",'
        f'"yes_ask":{_ohlc_json(row.ask, "")},"yes_bid":{_ohlc_json(row.bid, "")}}}'
    )


def synthetic_candle(row: CandleRow, end_s: int) -> dict[str, Any]:
    """``include_latest_before_start``: the last real candle projected to ``end_s`` with null OHLC
    and ``previous_dollars`` set to the last traded price."""
    b, a = row.bid[3], row.ask[3]
    last = row.price[3] if row.price is not None else row.previous
    return {
        "end_period_ts": end_s,
        "open_interest_fp": count_fp(row.oi_cc),
        "price": {
            "close_dollars": None,
            "high_dollars": None,
            "low_dollars": None,
            "mean_dollars": None,
            "open_dollars": None,
            "previous_dollars": dollars(last) if last is not None else None,
        },
        "volume_fp": "0.00",
        "yes_ask": _ohlc_live((a, a, a, a)),
        "yes_bid": _ohlc_live((b, b, b, b)),
    }


def period_boundary_at_or_after(ts: int, period: int) -> int:
    """The first candle period end at or after ``ts`` (local ET midnight for daily periods)."""
    if period == 1440:
        d = from_us(ts * US).astimezone(ET).date()
        for k in range(3):
            day = d + dt.timedelta(days=k)
            b = to_us(dt.datetime(day.year, day.month, day.day, tzinfo=ET)) // US
            if b >= ts:
                return b
        raise AssertionError("unreachable")
    step = period * 60
    return -(-ts // step) * step
