"""Query latency of the backtest views (CONTRACT section 8) on a large synthetic curated lake.

The lake is generated directly in the curated layout (no API, no transform), vectorised with
polars, with realistic shapes: every city, six brackets per daily event, month partitions with
one file per table, a few hundred trades and sparse one-minute api candles per market. Figures:

- ``queries.decision_quotes`` / ``queries.event_ladder``: one city, 60 event days, on the big lake
  (>= 10 M trades; ``quick=True`` uses a small lake), median of several warm runs.
- ``queries.pruning.*``: the same one-city query on a lake with 2 cities x 120 days versus the big
  lake; pruning works when the times are close (the ratio stays near 1).

Lakes are cached under ``$KALSHI_BENCH_DIR`` (default ``<tmp>/kalshi-lake-bench``) and reused when
their parameters match, so only the first run pays for generation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from kalshi_lake import schemas
from kalshi_lake.bench import figure
from kalshi_lake.cities import CITIES, City
from kalshi_lake.lake.storage import Lake, unique_name

_ET = ZoneInfo("America/New_York")
_UTC = dt.UTC
_MINUTE_US = 60_000_000
_DONE = "_bench_lake.json"
#: Bump when the generator changes, so cached lakes are rebuilt.
_GENERATOR_VERSION = 1


# --- synthetic curated lake ------------------------------------------------------------------
def _markets_for_city(city: City, dates: Sequence[dt.date], now: dt.datetime) -> pl.DataFrame:
    """Six brackets per event: a low tail, four 2 degree brackets, a high tail."""
    rows: list[dict[str, Any]] = []
    for d in dates:
        h = int(hashlib.blake2b(f"{city.name}{d}".encode(), digest_size=4).hexdigest(), 16)
        base = 30 + h % 60  # lowest bracket's floor, degrees F
        winner = (h >> 8) % 6
        ev = city.event_ticker(d)
        open_at = dt.datetime.combine(d - dt.timedelta(days=1), dt.time(10), _ET).astimezone(_UTC)
        close_at = dt.datetime.combine(d + dt.timedelta(days=1), dt.time(4, 59), _UTC)
        settled = close_at + dt.timedelta(hours=8) <= now
        for k in range(6):
            if k == 0:
                tick, stype, floor, cap, lo, hi = f"T{base}", "less", None, base, None, base - 1
                title = f"{base - 1}° or below"
            elif k == 5:
                top = base + 7
                tick, stype, floor, cap, lo, hi = f"T{top}", "greater", top, None, top + 1, None
                title = f"{top + 1}° or above"
            else:
                f = base + 2 * (k - 1)
                tick, stype, floor, cap, lo, hi = f"B{f}.5", "between", f, f + 1, f, f + 1
                title = f"{f}° to {f + 1}°"
            rows.append(
                {
                    "market_ticker": f"{ev}-{tick}",
                    "event_ticker": ev,
                    "series_ticker": city.series_ticker,
                    "date": d,
                    "strike_type": stype,
                    "floor_strike": floor,
                    "cap_strike": cap,
                    "low_f": lo,
                    "high_f": hi,
                    "yes_sub_title": title,
                    "status": "finalized" if settled else "active",
                    "result": ("yes" if k == winner else "no") if settled else None,
                    "settlement_value": (1 if k == winner else 0) if settled else None,
                    "expiration_value": (base + 2 * winner - 1) if settled else None,
                    "open_time": open_at,
                    "close_time": close_at,
                    "settlement_ts": close_at + dt.timedelta(hours=8) if settled else None,
                    "settlement_source": "twc" if d >= dt.date(2026, 8, 14) else "nws",
                    "tier": "historical",
                    "fetched_at": now,
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
        m.with_columns(minutes=((pl.col("end_us") - pl.col("open_us")) // _MINUTE_US))
        .filter(pl.col("minutes") > 0)
        .with_columns(i=pl.int_ranges(0, per_market))
        .explode("i")
        .with_columns(key=pl.col("mi") * 1_000_000 + pl.col("i"))
        .with_columns(minute=_rand(pl.col("key"), seed + 10, 1 << 40) % pl.col("minutes"))
        .unique(["mi", "minute"])
        .with_columns(
            bucket_start=(pl.col("open_us") + pl.col("minute") * _MINUTE_US).cast(
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
    schema = schemas.TABLES[table]
    df = df.sort(list(schemas.SORT_KEYS[table]))
    for month, part in df.group_by(pl.col("date").dt.strftime("%Y-%m"), maintain_order=True):
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
) -> dict[str, int]:
    """Write curated markets, trades and candles_1m for ``cities`` x ``days`` event dates.

    Returns row counts per table. ``now`` (default: the day after the last event, 15:00 UTC)
    decides which events are settled and cuts trades and candles off at that instant.
    """
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    now = now or dt.datetime.combine(dates[-1] + dt.timedelta(days=2), dt.time(15), _UTC)
    counts = {"markets": 0, "trades": 0, "candles_1m": 0}
    for ci, city in enumerate(cities):
        markets = _markets_for_city(city, dates, now)
        trades = _trades(markets, trades_per_market, seed + ci * 101, now)
        candles = pl.concat(
            [
                _api_candles(markets, api_candles_per_market, seed + ci * 101, now),
                _trade_candles(trades),
            ],
            how="diagonal_relaxed",
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
    return counts


def cached_lake(name: str, **params: Any) -> tuple[Lake, dict[str, int]]:
    """A synthetic lake for ``params``, generated once and reused while the parameters match."""
    base = Path(
        os.environ.get("KALSHI_BENCH_DIR") or Path(tempfile.gettempdir()) / "kalshi-lake-bench"
    )
    key = json.dumps(
        {
            "generator": _GENERATOR_VERSION,
            **{
                k: (v if not isinstance(v, list) else [c.name for c in v])
                for k, v in params.items()
            },
        },
        default=str,
        sort_keys=True,
    )
    root = base / f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    marker = root / _DONE
    if marker.exists():
        return Lake(str(root)), json.loads(marker.read_text())["counts"]
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    lake = Lake(str(root))
    counts = build_synthetic_lake(lake, **params)
    marker.write_text(json.dumps({"params": key, "counts": counts}))
    return lake, counts


# --- the figures -----------------------------------------------------------------------------
_CITY = "chicago"
_WINDOW = (dt.date(2026, 1, 1), dt.date(2026, 3, 1))  # 60 event days
_FULL: dict[str, Any] = {
    "start": dt.date(2025, 11, 1),
    "days": 365,
    "trades_per_market": 230,
    "api_candles_per_market": 300,
}
_SMALL: dict[str, Any] = {
    "start": dt.date(2025, 12, 1),
    "days": 120,
    "trades_per_market": 230,
    "api_candles_per_market": 300,
}
_QUICK: dict[str, Any] = {
    "start": dt.date(2025, 12, 15),
    "days": 80,
    "trades_per_market": 30,
    "api_candles_per_market": 40,
}


def _queries(city: str, start: dt.date, end: dt.date) -> dict[str, str]:
    scope = f"'{city}', DATE '{start}', DATE '{end}'"
    return {
        "decision_quotes": f"SELECT * FROM decision_quotes_for({scope})",
        "event_ladder": f"SELECT * FROM event_ladder_for({scope})",
        "quotes_at": f"SELECT * FROM quotes_at(TIMESTAMPTZ '{start + dt.timedelta(days=30)} 16:00:00+00', city := '{city}')",
        "decision_quotes_view": (
            f"SELECT * FROM decision_quotes WHERE city = '{city}' "
            f"AND date BETWEEN DATE '{start}' AND DATE '{end}'"
        ),
    }


def _run_once(con: Any, sql: str) -> tuple[float, float, int]:
    """(wall ms, process CPU ms, rows) of one run, fetched to Arrow."""
    c0, t0 = time.process_time(), time.perf_counter()
    rows = con.sql(sql).to_arrow_table().num_rows
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000, rows


def _figure(
    name: str, cold: float, warm: list[float], cpu: list[float], rows: int, lake: dict[str, Any]
) -> dict[str, object]:
    # cpu_ms (all DuckDB threads) is a load-independent view of the same work: on a busy
    # machine the wall time grows with other processes, the CPU time much less.
    return figure(
        name,
        statistics.median(warm),
        "ms",
        min_ms=round(min(warm), 1),
        cpu_ms=round(statistics.median(cpu), 1),
        cold_ms=round(cold, 1),
        rows=rows,
        runs=len(warm),
        **lake,
    )


def _bench(lakes: dict[str, tuple[Lake, dict[str, Any]]], runs: int) -> Iterable[dict[str, object]]:
    """Time every query on every lake, interleaving the lakes run by run so that load from
    other processes hits them alike (the pruning ratio compares like with like)."""
    from kalshi_lake.sql.connection import connect

    # the synthetic lakes have no raw layer or 5m candles: connect's notes about that are noise
    sql_log = logging.getLogger("kalshi_lake.sql.connection")
    level = sql_log.level
    sql_log.setLevel(logging.ERROR)
    try:
        cons = {label: connect(lake) for label, (lake, _info) in lakes.items()}
    finally:
        sql_log.setLevel(level)
    try:
        threads = (
            next(iter(cons.values())).execute("SELECT current_setting('threads')").fetchall()[0][0]
        )
        for name, sql in _queries(_CITY, *_WINDOW).items():
            labels = [lb for lb in cons if not (name == "decision_quotes_view" and lb != "")]
            cold: dict[str, float] = {}
            rows: dict[str, int] = {}
            warm: dict[str, list[float]] = {lb: [] for lb in labels}
            cpu: dict[str, list[float]] = {lb: [] for lb in labels}
            for lb in labels:
                cold[lb], _used, rows[lb] = _run_once(cons[lb], sql)
            for _ in range(runs):
                for lb in labels:
                    wall, used, _rows = _run_once(cons[lb], sql)
                    warm[lb].append(wall)
                    cpu[lb].append(used)
            for lb in labels:
                info = {
                    **lakes[lb][1],
                    "city": _CITY,
                    "event_days": (_WINDOW[1] - _WINDOW[0]).days + 1 if name != "quotes_at" else 1,
                    "threads": int(threads),
                }
                yield _figure(f"queries.{name}{lb}", cold[lb], warm[lb], cpu[lb], rows[lb], info)
            if ".small_lake" in labels:
                big, small = statistics.median(warm[""]), statistics.median(warm[".small_lake"])
                yield figure(
                    f"queries.pruning.{name}",
                    big / small,
                    "ratio",
                    large_lake_ms=round(big, 1),
                    small_lake_ms=round(small, 1),
                    large_lake=lakes[""][1]["lake"],
                    small_lake=lakes[".small_lake"][1]["lake"],
                )
        # quotes_at has a small left side (one city's open markets): DuckDB's default plans it
        # as a nested loop (asof_loop_join_threshold = 64); time the sort-based plan too.
        con = cons[""]
        sql = _queries(_CITY, *_WINDOW)["quotes_at"]
        con.execute("SET asof_loop_join_threshold = 0")
        first, _used, n = _run_once(con, sql)
        walls, cpus = [], []
        for _ in range(runs):
            wall, used, _rows = _run_once(con, sql)
            walls.append(wall)
            cpus.append(used)
        con.execute("RESET asof_loop_join_threshold")
        yield _figure(
            "queries.quotes_at.asof_loop_join_threshold_0",
            first,
            walls,
            cpus,
            n,
            {**lakes[""][1], "city": _CITY, "event_days": 1, "threads": int(threads)},
        )
    finally:
        for con in cons.values():
            con.close()


def _info(counts: dict[str, int], cities: int, days: int) -> dict[str, Any]:
    return {
        "lake": f"{cities} cities x {days} days, {counts['trades']} trades",
        "lake_cities": cities,
        "lake_days": days,
        "lake_trades": counts["trades"],
        "lake_candles_1m": counts["candles_1m"],
    }


def run(quick: bool) -> Iterable[dict[str, object]]:
    """Query latency of the backtest views; pruning shown by a small vs a large lake.

    Each figure's value is the median of warm runs in ms (min and the cold first run alongside).
    ``queries.pruning.*`` is large-lake time / small-lake time for the same one-city query:
    close to 1 means the query's cost does not grow with the cities and days in the lake.
    """
    two = [c for c in CITIES if c.name in (_CITY, "nyc")]
    if quick:
        params = {"cities": [*two, next(c for c in CITIES if c.name == "miami")], **_QUICK}
        lake, counts = cached_lake("quick", **params)
        yield from _bench({"": (lake, _info(counts, 3, _QUICK["days"]))}, runs=3)
        return
    small, small_counts = cached_lake("small", cities=two, **_SMALL)
    big, big_counts = cached_lake("full", cities=list(CITIES), **_FULL)
    yield from _bench(
        {
            "": (big, _info(big_counts, len(CITIES), _FULL["days"])),
            ".small_lake": (small, _info(small_counts, 2, _SMALL["days"])),
        },
        runs=11,
    )
