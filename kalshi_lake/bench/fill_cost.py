"""Fill costs from recorded order books: taking a quantity at every decision instant of a city's
60 event days.

The lake is a synthetic curated lake of one city (:func:`kalshi_lake.sim.curated.build_synthetic_lake`:
markets, trades, api candles) plus order book tables written by
:mod:`kalshi_lake.testing.books`: every market's book streamed from its open to its close
(a delta about every 30 s, a reconnect for about one delta in 500, a cadence snapshot every five
minutes), then ``decision_points`` from all of them and a partition index, as the transform
leaves a lake. Figures (median of warm runs, ms):

- ``fill_cost.decisions``: ``fill_cost_decisions_for`` over the 60 days, both decision instants
  (the book as of each instant, its best levels and the cost of 100 contracts each way): a walk
  of the levels the decision_points table stores (goal: under 200 ms).
- ``fill_cost.decision_quotes``: ``decision_quotes_for`` over the same days, which adds those
  columns to the candle quotes.
- ``fill_cost.at_instant``: ``fill_cost(ts, 'yes', 100)`` at one instant (every market whose
  book is known then).
- ``fill_cost.decision_quotes_without_books``: ``decision_quotes_for`` on the same lake without
  book tables (what a lake that was never followed pays for the book columns).

Lakes are cached under ``$KALSHI_BENCH_DIR`` like the query benchmark's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from kalshi_lake.bench import figure
from kalshi_lake.bench.queries import cached_lake
from kalshi_lake.cities import get_city
from kalshi_lake.lake.storage import Lake

_CITY = "chicago"
_START = dt.date(2026, 1, 1)
_DAYS = 60
_DONE = "_bench_books.json"
#: Book generation: seconds between deltas on average, and a version to regenerate on change.
#: 2: the lake has decision_points (computed after the books are added) and a partition index.
_FULL = {"mean_gap_s": 30.0, "version": 2}
_QUICK = {"mean_gap_s": 240.0, "version": 2}


def _base(days: int) -> Lake:
    lake, _counts = cached_lake(
        "fill-cost-base",
        cities=[get_city(_CITY)],
        start=_START,
        days=days,
        trades_per_market=60,
        api_candles_per_market=120,
    )
    return lake


def _with_books(base: Lake, days: int, params: dict[str, Any]) -> tuple[Lake, dict[str, int]]:
    """A copy of ``base`` with order book tables for every market (cached)."""
    from kalshi_lake.lake import curated_index
    from kalshi_lake.sql.connection import connect
    from kalshi_lake.testing.books import (
        Market,
        arrow_tables,
        book_rows,
        random_events,
        write_tables,
    )
    from kalshi_lake.transform.decision_points import write_lake_points

    root = Path(base.root).with_name(Path(base.root).name + f"-books-{params['mean_gap_s']:g}")
    marker = root / _DONE
    key = json.dumps({**params, "days": days}, sort_keys=True)
    if marker.exists() and json.loads(marker.read_text())["params"] == key:
        return Lake(str(root)), json.loads(marker.read_text())["counts"]
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(base.root, root)
    lake = Lake(str(root))
    con = connect(base)
    markets = con.sql(
        "SELECT market_ticker, event_ticker, family, date, open_time, close_time "
        "FROM markets_in(?) ORDER BY market_ticker",
        params=[_CITY],
    ).fetchall()
    con.close()
    rng = random.Random(15)
    # market by market into Arrow (a day of deltas for 360 markets is millions of rows)
    tables: dict[tuple[str, str, str], list[pa.Table]] = defaultdict(list)
    counts = dict.fromkeys(("book_deltas", "book_snapshots", "quotes"), 0)
    for ticker, event, family, date, open_time, close_time in markets:
        events = random_events(
            rng, open_time, close_time, conn_prefix="bench", mean_gap_s=params["mean_gap_s"],
            reconnect_share=0.002,
        )  # fmt: skip
        market = Market(ticker, event, _CITY, family, date)
        for part, tbl in arrow_tables(book_rows(market, events)).items():
            tables[part].append(tbl)
            counts[part[0]] += tbl.num_rows
    write_tables(lake, tables)
    # the books change the decision rows: written again with the transform's function, and the
    # lake indexed, or fill_cost_decisions_for would compute every row (the fallback)
    write_lake_points(lake)
    curated_index.build(lake)
    marker.write_text(json.dumps({"params": key, "counts": counts}))
    return lake, counts


def _time(con: Any, sql: str, runs: int) -> tuple[float, list[float], list[float], int]:
    c0, t0 = time.process_time(), time.perf_counter()
    rows = con.sql(sql).to_arrow_table().num_rows
    cold = (time.perf_counter() - t0) * 1000
    walls, cpus = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        con.sql(sql).to_arrow_table()
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    return cold, walls, cpus, rows


def run(quick: bool) -> Iterable[dict[str, object]]:
    """Fill cost latency over a city's event days at both decision instants."""
    from kalshi_lake.sql.connection import connect

    days = 10 if quick else _DAYS
    params = _QUICK if quick else _FULL
    runs = 3 if quick else 11
    base = _base(days)
    lake, counts = _with_books(base, days, params)
    end = _START + dt.timedelta(days=days - 1)
    scope = f"'{_CITY}', DATE '{_START}', DATE '{end}'"
    instant = dt.datetime.combine(_START + dt.timedelta(days=days // 2), dt.time(16), dt.UTC)
    queries = {
        "decisions": (lake, f"SELECT * FROM fill_cost_decisions_for({scope})"),
        "decision_quotes": (lake, f"SELECT * FROM decision_quotes_for({scope})"),
        "at_instant": (
            lake,
            f"SELECT * FROM fill_cost(TIMESTAMPTZ '{instant.isoformat()}', 'yes', 100)",
        ),
        "decision_quotes_without_books": (base, f"SELECT * FROM decision_quotes_for({scope})"),
    }
    sql_log = logging.getLogger("kalshi_lake.sql.connection")
    level = sql_log.level
    sql_log.setLevel(logging.ERROR)  # no raw layer in a synthetic lake: not worth a note
    try:
        cons = {id(lk): connect(lk) for lk in (lake, base)}
    finally:
        sql_log.setLevel(level)
    try:
        for name, (lk, sql) in queries.items():
            cold, walls, cpus, rows = _time(cons[id(lk)], sql, runs)
            yield figure(
                f"fill_cost.{name}",
                statistics.median(walls),
                "ms",
                min_ms=round(min(walls), 1),
                cpu_ms=round(statistics.median(cpus), 1),
                cold_ms=round(cold, 1),
                rows=rows,
                runs=runs,
                city=_CITY,
                event_days=days,
                book_deltas=counts["book_deltas"],
                book_snapshot_rows=counts["book_snapshots"],
                quotes=counts["quotes"],
                goal_ms=200,
            )
    finally:
        for con in cons.values():
            con.close()
