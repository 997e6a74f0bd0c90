"""A seeded curated-lake generator: the transform's output tables without an API or a transform.

:func:`build_synthetic_lake` writes ``curated/markets``, ``curated/trades`` and
``curated/candles_1m`` (``api`` and ``trades`` sources), then ``curated/decision_points`` from
them with the transform's own function, for a set of cities and event days, in
the curated layout and schemas (:mod:`kalshi_lake.schemas`): month partitions with one file per
table, six-bracket ladders (:func:`kalshi_lake.sim.model.ladder`, tickers from
``City.event_ticker``), a few hundred trades and sparse one-minute quote candles per market. It
is vectorised with polars (seconds for millions of trades), so the query benchmark and the SQL
tests can have a lake of any size. The numbers are random draws, not the simulator's market model:
each event's winning bracket is drawn at random and prices hover around it.

``families=("high", "low")`` adds each city's daily lows (``KXLOWT*``), a ladder below the
highs'. Markets open at 10:00 ET the day before the event and close at 04:59Z the day after
(:func:`open_time`, :func:`close_time`), every era alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import polars as pl

from kalshi_lake import schemas
from kalshi_lake.cities import FAMILIES, TWC_FIRST_DATE, City, check_family
from kalshi_lake.lake.storage import Lake, unique_name
from kalshi_lake.sim.model import ET, MINUTE_US, UTC, ladder
from kalshi_lake.transform.decision_points import write_lake_points
from kalshi_lake.transform.frames import family_expr

__all__ = ["GENERATOR_VERSION", "build_synthetic_lake", "close_time", "open_time"]

#: Bump when the generated rows change: the query benchmark's cached lakes are keyed on it.
#: 3: decision_points, written from the generated tables (the plain backtest views read it).
GENERATOR_VERSION = 3


def open_time(date: dt.date) -> dt.datetime:
    """When an event's markets open: 10:00 ET the day before (UTC)."""
    return dt.datetime.combine(date - dt.timedelta(days=1), dt.time(10), ET).astimezone(UTC)


def close_time(date: dt.date) -> dt.datetime:
    """When an event's markets close: 04:59Z the day after (11:59 PM EST)."""
    return dt.datetime.combine(date + dt.timedelta(days=1), dt.time(4, 59), UTC)


def _draw(key: str) -> int:
    return int(hashlib.blake2b(key.encode(), digest_size=4).hexdigest(), 16)


def _markets_for_city(
    city: City, dates: Sequence[dt.date], now: dt.datetime, family: str = "high"
) -> pl.DataFrame:
    """One :func:`~kalshi_lake.sim.model.ladder` per event of the city's ``family`` series; the
    winning rung is drawn at random. A low's whole ladder lies 11-25 °F below the same day's
    high ladder, so it settles below the high whichever rungs win."""
    series = city.series(family)
    rows: list[dict[str, Any]] = []
    for d in dates:
        h = _draw(f"{city.name}{d}")
        base = 30 + h % 60  # lowest bracket's floor, degrees F
        winner = (h >> 8) % 6
        if family == "low":
            g = _draw(f"{city.name}{d}low")
            base, winner = base - 11 - g % 15, (g >> 8) % 6
        ev = series.event_ticker(d)
        open_at, close_at = open_time(d), close_time(d)
        settled = close_at + dt.timedelta(hours=8) <= now
        for k, b in enumerate(ladder(base)):
            rows.append(
                {
                    "market_ticker": f"{ev}-{b.suffix}",
                    "event_ticker": ev,
                    "series_ticker": series.ticker,
                    "date": d,
                    "strike_type": b.strike_type,
                    "floor_strike": b.floor,
                    "cap_strike": b.cap,
                    "low_f": b.lo,
                    "high_f": b.hi,
                    "yes_sub_title": b.subtitle,
                    "status": "finalized" if settled else "active",
                    "result": ("yes" if k == winner else "no") if settled else None,
                    "settlement_value": (1 if k == winner else 0) if settled else None,
                    "expiration_value": (base + 2 * winner - 1) if settled else None,
                    "open_time": open_at,
                    "close_time": close_at,
                    "settlement_ts": close_at + dt.timedelta(hours=8) if settled else None,
                    "settlement_source": "twc" if d >= TWC_FIRST_DATE else "nws",
                    "tier": "historical",
                    "fetched_at": now,
                    "settlement_bounds_type": None,
                    "settlement_floor": None,
                    "k": k,
                    "winner": k == winner,
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


def _rand(col: pl.Expr, seed: int, mod: int) -> pl.Expr:
    """A deterministic pseudo-random integer in [0, mod) from a key column."""
    return (col.hash(seed) % mod).cast(pl.Int64)


def _trades(markets: pl.DataFrame, per_market: int, seed: int, now: dt.datetime) -> pl.DataFrame:
    now_us = int(now.timestamp() * 1e6)
    m = markets.with_row_index("mi").with_columns(
        open_us=pl.col("open_time").dt.epoch("us"),
        end_us=pl.min_horizontal(pl.col("close_time").dt.epoch("us"), pl.lit(now_us)),
        n=(per_market // 2 + _rand(pl.col("market_ticker"), seed, per_market + 1)),
        level=pl.when(pl.col("winner")).then(70).otherwise(15),
    )
    t = (
        m.filter(pl.col("end_us") > pl.col("open_us"))
        .select("mi", "market_ticker", "event_ticker", "date", "open_us", "end_us", "n", "level")
        .with_columns(i=pl.int_ranges(0, pl.col("n")))
        .explode("i")
        .drop_nulls("i")
        .with_columns(key=pl.col("mi") * 1_000_000 + pl.col("i"))
    )
    t = t.with_columns(
        traded_at=(
            pl.col("open_us")
            + _rand(pl.col("key"), seed + 1, 1 << 40) % (pl.col("end_us") - pl.col("open_us"))
        ).cast(pl.Datetime("us", "UTC")),
        cents=(pl.col("level") + _rand(pl.col("key"), seed + 2, 29) - 14).clip(1, 99),
        count=1 + _rand(pl.col("key"), seed + 3, 300),
        trade_id=pl.concat_str(
            pl.col("key").hash(seed + 4).cast(pl.String), pl.lit("-"), pl.col("key").cast(pl.String)
        ),
    )
    return t.select(
        "trade_id",
        "market_ticker",
        "event_ticker",
        "date",
        "traded_at",
        yes_price=(pl.col("cents").cast(pl.Decimal(10, 6)) / 100).cast(pl.Decimal(10, 6)),
        no_price=((100 - pl.col("cents")).cast(pl.Decimal(10, 6)) / 100).cast(pl.Decimal(10, 6)),
        count=pl.col("count").cast(pl.Decimal(18, 2)),
        taker_side=pl.when(pl.col("key").hash(seed + 5) % 2 == 0)
        .then(pl.lit("yes"))
        .otherwise(pl.lit("no")),
        is_block_trade=pl.lit(False),
        tier=pl.lit("historical"),
        fetched_at=pl.lit(now).cast(pl.Datetime("us", "UTC")),
        first_seen=pl.lit("rest"),
        first_seen_at=pl.lit(now).cast(pl.Datetime("us", "UTC")),
    ).sort("market_ticker", "traded_at", "trade_id")


def _price(cents: pl.Expr) -> pl.Expr:
    return (cents.cast(pl.Decimal(10, 6)) / 100).cast(pl.Decimal(10, 6))


def _api_candles(
    markets: pl.DataFrame, per_market: int, seed: int, now: dt.datetime
) -> pl.DataFrame:
    """Sparse one-minute api candles: quotes change at a few hundred random minutes per market."""
    now_us = int(now.timestamp() * 1e6)
    m = markets.with_row_index("mi").with_columns(
        open_us=pl.col("open_time").dt.epoch("us"),
        end_us=pl.min_horizontal(pl.col("close_time").dt.epoch("us"), pl.lit(now_us)),
        level=pl.when(pl.col("winner")).then(70).otherwise(15),
    )
    c = (
        m.with_columns(minutes=((pl.col("end_us") - pl.col("open_us")) // MINUTE_US))
        .filter(pl.col("minutes") > 0)
        .with_columns(i=pl.int_ranges(0, per_market))
        .explode("i")
        .with_columns(key=pl.col("mi") * 1_000_000 + pl.col("i"))
        .with_columns(minute=_rand(pl.col("key"), seed + 10, 1 << 40) % pl.col("minutes"))
        .unique(["mi", "minute"])
        .with_columns(
            bucket_start=(pl.col("open_us") + pl.col("minute") * MINUTE_US).cast(
                pl.Datetime("us", "UTC")
            ),
            bid=(pl.col("level") + _rand(pl.col("key"), seed + 11, 21) - 10).clip(1, 97),
            spread=1 + _rand(pl.col("key"), seed + 12, 4),
            empty_bid=_rand(pl.col("key"), seed + 13, 50) == 0,
        )
    )
    bid = pl.when(pl.col("empty_bid")).then(None).otherwise(_price(pl.col("bid")))
    ask = _price(pl.col("bid") + pl.col("spread"))
    return c.select(
        "market_ticker",
        "event_ticker",
        "date",
        source=pl.lit("api"),
        bucket_start="bucket_start",
        period_minutes=pl.lit(1, pl.Int16),
        price_open=pl.lit(None, pl.Decimal(10, 6)),
        price_high=pl.lit(None, pl.Decimal(10, 6)),
        price_low=pl.lit(None, pl.Decimal(10, 6)),
        price_close=pl.lit(None, pl.Decimal(10, 6)),
        price_vwap=pl.lit(None, pl.Decimal(10, 6)),
        trade_count=pl.lit(0, pl.Int32),
        volume=pl.lit(0, pl.Decimal(18, 2)),
        yes_bid_open=bid,
        yes_bid_high=bid,
        yes_bid_low=bid,
        yes_bid_close=bid,
        yes_ask_open=ask,
        yes_ask_high=ask,
        yes_ask_low=ask,
        yes_ask_close=ask,
        open_interest=pl.lit(100, pl.Decimal(18, 2)),
    )


def _trade_candles(trades: pl.DataFrame) -> pl.DataFrame:
    """One-minute candles built from trades (source ``trades``)."""
    return (
        trades.with_columns(bucket_start=pl.col("traded_at").dt.truncate("1m"))
        .group_by("market_ticker", "bucket_start")
        .agg(
            pl.col("event_ticker").first(),
            pl.col("date").first(),
            price_open=pl.col("yes_price").first(),
            price_high=pl.col("yes_price").max(),
            price_low=pl.col("yes_price").min(),
            price_close=pl.col("yes_price").last(),
            trade_count=pl.len().cast(pl.Int32),
            volume=pl.col("count").sum().cast(pl.Decimal(18, 2)),
        )
        .with_columns(
            source=pl.lit("trades"),
            period_minutes=pl.lit(1, pl.Int16),
            price_vwap=pl.col("price_close"),
        )
    )


def _write(lake: Lake, table: str, city: str, df: pl.DataFrame) -> int:
    """Write one city's rows of ``table``, one file per month partition; returns the row count."""
    schema = schemas.TABLES[table]
    df = df.sort(list(schemas.SORT_KEYS[table]))
    for month, part in df.group_by(pl.col("date").dt.strftime("%Y-%m"), maintain_order=True):
        if "family" not in part.columns:
            part = part.with_columns(family_expr())
        arrow = part.select(schema.names).to_arrow().cast(schema)
        lake.write_table(arrow, f"curated/{table}/city={city}/month={month[0]}/{unique_name()}")
    return df.height


def build_synthetic_lake(
    lake: Lake,
    *,
    cities: Sequence[City],
    start: dt.date,
    days: int,
    trades_per_market: int = 230,
    api_candles_per_market: int = 300,
    now: dt.datetime | None = None,
    seed: int = 11,
    families: Sequence[str] = ("high",),
) -> dict[str, int]:
    """Write curated markets, trades and candles_1m for ``cities`` x ``days`` event dates, and
    their decision_points.

    Returns row counts per table. ``now`` (default: the day after the last event, 15:00 UTC)
    decides which events are settled and cuts trades and candles off at that instant.
    ``families``: the market families generated for each city that has them (a city without
    a low series gets its highs only); the highs' rows do not depend on it.
    """
    for f in families:
        check_family(f)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    now = now or dt.datetime.combine(dates[-1] + dt.timedelta(days=2), dt.time(15), UTC)
    counts = {"markets": 0, "trades": 0, "candles_1m": 0}
    for ci, city in enumerate(cities):
        parts = []
        for fi, family in enumerate(f for f in FAMILIES if f in families and f in city.families):
            fam_seed = seed + ci * 101 + fi * 53
            markets = _markets_for_city(city, dates, now, family)
            trades = _trades(markets, trades_per_market, fam_seed, now)
            candles = pl.concat(
                [
                    _api_candles(markets, api_candles_per_market, fam_seed, now),
                    _trade_candles(trades),
                ],
                how="diagonal_relaxed",
            )
            parts.append((markets, trades, candles))
        if not parts:
            continue
        markets, trades, candles = (
            pl.concat([p[i] for p in parts], how="diagonal_relaxed") for i in range(3)
        )
        mk = markets.with_columns(
            floor_strike=pl.col("floor_strike").cast(pl.Decimal(10, 4)),
            cap_strike=pl.col("cap_strike").cast(pl.Decimal(10, 4)),
            settlement_value=pl.col("settlement_value").cast(pl.Decimal(10, 6)),
            expiration_value=pl.col("expiration_value").cast(pl.Decimal(10, 4)),
            open_interest=pl.lit(0, pl.Decimal(18, 2)),
        )
        vol = trades.group_by("market_ticker").agg(v=pl.col("count").sum())
        mk = (
            mk.join(vol, on="market_ticker", how="left")
            .with_columns(volume=pl.col("v").fill_null(0).cast(pl.Decimal(18, 2)))
            .drop("v")
        )
        counts["markets"] += _write(lake, "markets", city.name, mk)
        counts["trades"] += _write(lake, "trades", city.name, trades)
        counts["candles_1m"] += _write(lake, "candles_1m", city.name, candles)
    if counts["markets"]:
        # the same SQL the transform writes it with, or the views would compute every row
        counts["decision_points"] = write_lake_points(lake)
    return counts
