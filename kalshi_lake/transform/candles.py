"""1-minute and 5-minute candles, from our trades (``source='trades'``) and from Kalshi's
candlesticks (``source='api'``). Pure polars on fixed-point integers (micro-dollars ``*_u``,
centi-contracts ``*_c``); see :mod:`kalshi_lake.transform.parse`.

Trade candles
    ``bucket_start`` is ``traded_at`` truncated to the period, so a bucket is the half-open
    interval ``[bucket_start, bucket_start + period)``: a trade exactly on a boundary opens the
    later bucket. Open/close are the first/last trade in ``(traded_at, trade_id)`` order, high/
    low the extremes, ``trade_count`` the number of trades, ``volume`` the contracts, and
    ``price_vwap`` = sum(price x count) / sum(count), rounded half up to the micro-dollar
    (exact integer arithmetic, 128-bit where 64 could overflow). 5m candles are rolled up from
    the 1m candles. Trades arrive sorted, so a candle is a run of rows: no hash grouping
    (:func:`kalshi_lake.transform.fastpaths.rollup`).

API candles
    Kalshi's ``end_period_ts`` is the inclusive end of the period, so ``bucket_start`` =
    ``end_period_ts - period``. A candle seen in several pages (the boundary candle of
    ``adjusted_end_ts`` paging, re-pulls) is kept once per (market, period, end): the copy
    fetched last. Only 1-minute candles feed the curated tables (the API has no 5-minute
    period); 5m api candles are rolled up from them: price open/close = first/last non-null,
    bid/ask open/close = the first/last 1m candle's (an empty side stays null), highs/lows =
    extremes of the non-null values, volume summed, vwap = volume-weighted mean of the 1m
    means, open interest = the last one. Stored sparse: only periods Kalshi returned.
"""

from __future__ import annotations

import polars as pl

from kalshi_lake.transform.fastpaths import fits_narrow, notional_dtype, rollup, round_div
from kalshi_lake.transform.trades import MARKET_RUN, latest_per_key, resolve_event

#: Internal candle columns (``part`` + curated candle columns in fixed-point form).
CANDLE_OUT = (
    "part",
    "city",
    "market_ticker",
    "event_ticker",
    "date",
    "source",
    "bucket_start",
    "period_minutes",
    "price_open_u",
    "price_high_u",
    "price_low_u",
    "price_close_u",
    "price_vwap_u",
    "trade_count",
    "volume_c",
    "yes_bid_open_u",
    "yes_bid_high_u",
    "yes_bid_low_u",
    "yes_bid_close_u",
    "yes_ask_open_u",
    "yes_ask_high_u",
    "yes_ask_low_u",
    "yes_ask_close_u",
    "open_interest_c",
)

_BOOK = tuple(f"yes_{s}_{k}_u" for s in ("bid", "ask") for k in ("open", "high", "low", "close"))


def _finish(df: pl.DataFrame, source: str, minutes: int) -> pl.DataFrame:
    fixed = {"source": pl.lit(source), "period_minutes": pl.lit(minutes, pl.Int16)}
    extra = {
        c: pl.lit(None, pl.Int64) for c in CANDLE_OUT if c not in df.columns and c not in fixed
    }
    if "trade_count" in extra:
        extra["trade_count"] = pl.lit(None, pl.Int32)
    return df.with_columns(**fixed, **extra).select(CANDLE_OUT)


# --- from trades -------------------------------------------------------------------------------


def _candle_keys(df: pl.DataFrame) -> tuple[list[str], list[str]]:
    """``(keys, carry)`` for grouping trades or 1m candles into candles: by market run number
    and bucket when the frame has :data:`MARKET_RUN` (integers: no string compares, PERF), by
    part, ticker and bucket otherwise; the result is the same."""
    carry = ["city", "event_ticker", "date"]
    if MARKET_RUN in df.columns and df[MARKET_RUN].null_count() == 0:
        return [MARKET_RUN, "bucket_start"], ["part", "market_ticker", *carry]
    return ["part", "market_ticker", "bucket_start"], carry


def trade_candles_1m(trades: pl.DataFrame) -> pl.DataFrame:
    """1m candles from curated trades, which must be sorted by part, market, time, trade_id
    (as :func:`~kalshi_lake.transform.trades.build_trades` returns them).

    Keeps an internal ``notional`` column (sum of price x count) for the 5m roll-up.
    """
    nd = notional_dtype(trades["yes_u"], trades["count_c"]) if trades.height else pl.Int64()
    df = trades.with_columns(bucket_start=pl.col("traded_at").dt.truncate("1m"))
    keys, carry = _candle_keys(df)
    out = rollup(
        df,
        keys,
        carry,
        "yes_u",
        "yes_u",
        maxes={"price_high_u": "yes_u"},
        mins={"price_low_u": "yes_u"},
        sums={
            "volume_c": pl.col("count_c"),
            "notional": pl.col("yes_u").cast(nd) * pl.col("count_c"),
        },
        count="trade_count",
    )
    narrow = fits_narrow(out, "notional", "volume_c")
    return out.rename({"_open": "price_open_u", "_close": "price_close_u"}).with_columns(
        price_vwap_u=round_div(pl.col("notional"), pl.col("volume_c"), wide=not narrow)
    )


def trade_candles_5m(c1: pl.DataFrame) -> pl.DataFrame:
    """5m candles rolled up from :func:`trade_candles_1m` output (sorted the same way)."""
    df = c1.with_columns(bucket_start=pl.col("bucket_start").dt.truncate("5m"))
    keys, carry = _candle_keys(df)
    out = rollup(
        df,
        keys,
        carry,
        "price_open_u",
        "price_close_u",
        maxes={"price_high_u": "price_high_u"},
        mins={"price_low_u": "price_low_u"},
        sums={
            "trade_count": pl.col("trade_count").cast(pl.Int64),
            "volume_c": pl.col("volume_c"),
            "notional": pl.col("notional"),
        },
    )
    narrow = fits_narrow(out, "notional", "volume_c")
    return out.rename({"_open": "price_open_u", "_close": "price_close_u"}).with_columns(
        price_vwap_u=round_div(pl.col("notional"), pl.col("volume_c"), wide=not narrow),
        trade_count=pl.col("trade_count").cast(pl.Int32),
    )


def trade_candles(trades: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(candles_1m, candles_5m)`` with ``source='trades'`` in :data:`CANDLE_OUT` columns."""
    c1 = trade_candles_1m(trades)
    c5 = trade_candles_5m(c1)
    return _finish(c1, "trades", 1), _finish(c5, "trades", 5)


# --- from Kalshi candlesticks -----------------------------------------------------------------


def api_candles(
    parsed: pl.DataFrame, market_events: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(candles_1m, candles_5m)`` with ``source='api'`` from good parsed candle rows with
    ``part`` (see :func:`kalshi_lake.transform.parse.parse_candles`)."""
    one = parsed.filter(pl.col("period_minutes") == 1)
    if one.height == 0:
        empty = _finish(_empty_api(one), "api", 1)
        return empty, _finish(_empty_api(one), "api", 5)
    one = latest_per_key(one, ["part", "market_ticker", "end_period_ts"])
    one = one.sort(["part", "market_ticker", "end_period_ts"])
    one = resolve_event(one, market_events, "page_event_ticker")
    c1 = one.with_columns(
        bucket_start=pl.from_epoch(pl.col("end_period_ts") - 60, time_unit="s")
        .dt.cast_time_unit("us")
        .dt.replace_time_zone("UTC"),
        price_vwap_u=pl.col("price_mean_u"),
    )
    c5 = api_candles_5m(c1)
    return _finish(c1, "api", 1), _finish(c5, "api", 5)


def api_candles_5m(c1: pl.DataFrame) -> pl.DataFrame:
    """5m api candles from 1m api candles sorted by part, market, bucket_start."""
    keys = ["part", "market_ticker", "bucket_start"]
    weighted = pl.col("price_vwap_u").is_not_null() & (pl.col("volume_c") > 0)
    return (
        c1.lazy()
        .with_columns(
            bucket_start=pl.col("bucket_start").dt.truncate("5m"),
            _w=pl.when(weighted).then(pl.col("volume_c")).otherwise(0),
            _n=pl.when(weighted)
            .then(pl.col("price_vwap_u").cast(pl.Int128) * pl.col("volume_c"))
            .otherwise(0),
        )
        .group_by(keys, maintain_order=True)
        .agg(
            city=pl.col("city").first(),
            event_ticker=pl.col("event_ticker").first(),
            date=pl.col("date").first(),
            price_open_u=pl.col("price_open_u").drop_nulls().first(),
            price_high_u=pl.col("price_high_u").max(),
            price_low_u=pl.col("price_low_u").min(),
            price_close_u=pl.col("price_close_u").drop_nulls().last(),
            volume_c=pl.col("volume_c").sum(),
            _volume_known=pl.col("volume_c").is_not_null().any(),
            _w=pl.col("_w").sum(),
            _n=pl.col("_n").sum(),
            open_interest_c=pl.col("open_interest_c").drop_nulls().last(),
            **{c: _book_agg(c) for c in _BOOK},
        )
        .with_columns(
            price_vwap_u=round_div(pl.col("_n"), pl.col("_w")),
            volume_c=pl.when(pl.col("_volume_known")).then(pl.col("volume_c")),
        )
        .drop("_w", "_n", "_volume_known")
        .collect()
    )


def _book_agg(col: str) -> pl.Expr:
    """5m aggregate of one 1m bid/ask column.

    An empty book side is null at 1m (bid 0 / ask 1 sentinels). The worst quote of a side,
    ask high and bid low, is null in a minute whose book side emptied at some point; the 5m
    worst quote must then be null too (the side emptied within the five minutes), or a max
    over the other minutes could fall below the close.
    """
    if col.endswith("_open_u"):
        return pl.col(col).first()
    if col.endswith("_close_u"):
        return pl.col(col).last()
    worst = (col.startswith("yes_ask") and col.endswith("_high_u")) or (
        col.startswith("yes_bid") and col.endswith("_low_u")
    )
    agg = pl.col(col).max() if col.endswith("_high_u") else pl.col(col).min()
    if worst:
        return pl.when(pl.col(col).is_null().any()).then(None).otherwise(agg)
    return agg


def _empty_api(one: pl.DataFrame) -> pl.DataFrame:
    return one.with_columns(
        event_ticker=pl.lit(None, pl.String),
        bucket_start=pl.lit(None, pl.Datetime("us", "UTC")),
        price_vwap_u=pl.col("price_mean_u"),
    )
